"""Numba kernels of the RBM estimators (private; they know nothing of estimators).

Shared by every RBM: the parameter step (``sgd_step``, ``momentum_step``).
BernoulliRBM: the sklearn-compatible random stream (``mt_fill_random``,
``mt_fill_normal`` for the initial weights), the one-pass input check
(``count_nonfinite_outside``), and the fused epoch kernel (``bernoulli_epoch``) with
its helpers. Each kernel has a plain-numpy reference in ``_reference.py`` or in the
tests (which compare them on the same random draws).

Two LLVM-IR building blocks live here and serve both epoch kernels: ``_acc_codegen``
(a row piece of the output held in vector registers while a list of rows is added
to it, one fused multiply-add after the other; ``list_acc`` here, ``block_acc`` in
``_block_kernels.py``) and ``transpose_block`` (8 x 8 / 4 x 4 vector transposes).
"""

import llvmlite.ir as ir
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


# ---------------------------------------------------------------------------
# vector transposes (LLVM IR): W = Wt.T kept up to date in both epoch kernels
# ---------------------------------------------------------------------------


def _acc_codegen(context, builder, dtype, cbase, state0, more, step, nacc=8,
                 lanes=None):
    """IR of ``C += c * B_i`` over the entries of a loop, for ``nacc`` vectors (of 8
    float32 or 4 float64) from the element pointers ``cbase`` (C) and B_i:
    ``state0`` the first loop state (an i64), ``more(state)`` an i1 (another
    entry?), ``step(state)`` its (element pointer of B_i, coefficient c in ``dtype``,
    next state). C is held in ``nacc`` vector registers (phi nodes) for the whole
    loop; llvm.fmuladd per entry, in order. ``lanes``: elements per vector if not
    those of a 256-bit one."""
    f32 = dtype == types.float32
    if lanes is None:
        lanes = 8 if f32 else 4
    vec = ir.VectorType(context.get_value_type(dtype), lanes)
    vptr = vec.as_pointer()
    i32 = ir.IntType(32)
    i64 = ir.IntType(64)
    fmuladd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vec, [vec, vec, vec]),
        "llvm.fmuladd.v%d%s" % (lanes, "f32" if f32 else "f64"))

    def vectors(base):
        base = builder.bitcast(base, vptr)
        return [builder.gep(base, [ir.Constant(i64, q)]) for q in range(nacc)]

    out = vectors(cbase)
    init = [builder.load(p, align=1) for p in out]
    entry = builder.block
    loop = builder.append_basic_block("acc.loop")
    body = builder.append_basic_block("acc.body")
    done = builder.append_basic_block("acc.done")
    builder.branch(loop)
    builder.position_at_end(loop)
    state = builder.phi(i64)
    state.add_incoming(state0, entry)
    acc = []
    for q in range(nacc):
        acc.append(builder.phi(vec))
        acc[q].add_incoming(init[q], entry)
    builder.cbranch(more(state), body, done)
    builder.position_at_end(body)
    bbase, c, state1 = step(state)
    c = builder.insert_element(ir.Constant(vec, ir.Undefined), c, ir.Constant(i32, 0))
    c = builder.shuffle_vector(c, ir.Constant(vec, ir.Undefined),
                               ir.Constant(ir.VectorType(i32, lanes), [0] * lanes))
    src = vectors(bbase)
    new = [builder.call(fmuladd, [c, builder.load(src[q], align=1), acc[q]])
           for q in range(nacc)]
    step_end = builder.block
    state.add_incoming(state1, step_end)
    for q in range(nacc):
        acc[q].add_incoming(new[q], step_end)
    builder.branch(loop)
    builder.position_at_end(done)
    for q in range(nacc):
        builder.store(acc[q], out[q], align=1)


def _row_ptr(context, builder, aty, arr, row):
    """Element pointer of ``arr[row, 0]`` (2-D array)."""
    return cgutils.get_item_pointer(context, builder, aty, arr,
                                    [row, context.get_constant(types.intp, 0)])


@intrinsic
def list_acc(typingctx, out, c0, M, idx, coef, n, nvec, shift):
    """``out[c0 + j] += coef[a] * M[idx[a], c0 + j]`` for a < n, one entry after the
    other (fused multiply-adds), and j < ``nvec`` vectors (literal, 1..8) of (8
    float32 or 4 float64) >> ``shift`` elements (literal 0..3; at least one): that
    piece of ``out`` (1-D) stays in registers for the whole list. ``M`` 2-D,
    C-contiguous, same dtype; ``idx`` integer, ``coef`` float arrays (1-D). No bounds
    checks."""
    if not (isinstance(out, types.Array) and out.ndim == 1
            and isinstance(M, types.Array) and M.ndim == 2 and M.dtype == out.dtype
            and out.dtype in (types.float32, types.float64)
            and isinstance(nvec, types.IntegerLiteral)
            and 1 <= nvec.literal_value <= 8 and isinstance(shift, types.IntegerLiteral)
            and 0 <= shift.literal_value <= 3):
        return None
    sig = types.void(out, c0, M, idx, coef, n, nvec, shift)

    def codegen(context, builder, signature, args):
        oty, c0ty, mty, ity, cty, nty, _, _ = signature.args
        oarr = context.make_array(oty)(context, builder, args[0])
        marr = context.make_array(mty)(context, builder, args[2])
        iarr = context.make_array(ity)(context, builder, args[3])
        carr = context.make_array(cty)(context, builder, args[4])
        c0 = context.cast(builder, args[1], c0ty, types.intp)
        n = context.cast(builder, args[5], nty, types.intp)
        i64 = ir.IntType(64)

        def more(a):
            return builder.icmp_signed("<", a, n)

        def step(a):
            row = context.cast(builder, builder.load(cgutils.get_item_pointer(
                context, builder, ity, iarr, [a])), ity.dtype, types.intp)
            c = builder.load(cgutils.get_item_pointer(context, builder, cty, carr, [a]))
            return (cgutils.get_item_pointer(context, builder, mty, marr, [row, c0]),
                    context.cast(builder, c, cty.dtype, oty.dtype),
                    builder.add(a, ir.Constant(i64, 1)))

        _acc_codegen(context, builder, oty.dtype,
                     cgutils.get_item_pointer(context, builder, oty, oarr, [c0]),
                     ir.Constant(i64, 0), more, step, nvec.literal_value,
                     max((256 // oty.dtype.bitwidth) >> shift.literal_value, 1))
        return context.get_dummy_value()

    return sig, codegen


def _check_float_arrays(*arrays):
    """Typing check of the intrinsics: 2-D arrays of one float dtype."""
    return all(isinstance(a, types.Array) and a.ndim == 2 for a in arrays) and (
        arrays[0].dtype in (types.float32, types.float64)) and all(
        a.dtype == arrays[0].dtype for a in arrays)


def _shuffle(builder, a, b, mask):
    i32 = ir.IntType(32)
    return builder.shuffle_vector(
        a, b, ir.Constant(ir.VectorType(i32, len(mask)), list(mask)))


def _transpose8(builder, rows):
    """8 x 8 transpose of eight <8 x float> vectors (unpack, shuffle, lane swap)."""
    lo = (0, 8, 1, 9, 4, 12, 5, 13)
    hi = (2, 10, 3, 11, 6, 14, 7, 15)
    a = []
    for k in range(0, 8, 2):
        a.append(_shuffle(builder, rows[k], rows[k + 1], lo))
        a.append(_shuffle(builder, rows[k], rows[k + 1], hi))
    s_lo = (0, 1, 8, 9, 4, 5, 12, 13)
    s_hi = (2, 3, 10, 11, 6, 7, 14, 15)
    b = []
    for k in (0, 4):  # rows 0-3, then 4-7
        b += [_shuffle(builder, a[k], a[k + 2], s_lo),
              _shuffle(builder, a[k], a[k + 2], s_hi),
              _shuffle(builder, a[k + 1], a[k + 3], s_lo),
              _shuffle(builder, a[k + 1], a[k + 3], s_hi)]
    first = (0, 1, 2, 3, 8, 9, 10, 11)
    second = (4, 5, 6, 7, 12, 13, 14, 15)
    cols = [None] * 8
    for k in range(4):
        cols[k] = _shuffle(builder, b[k], b[k + 4], first)
        cols[k + 4] = _shuffle(builder, b[k], b[k + 4], second)
    return cols


def _transpose4(builder, rows):
    """4 x 4 transpose of four <4 x double> vectors."""
    a0 = _shuffle(builder, rows[0], rows[1], (0, 4, 2, 6))
    a1 = _shuffle(builder, rows[0], rows[1], (1, 5, 3, 7))
    a2 = _shuffle(builder, rows[2], rows[3], (0, 4, 2, 6))
    a3 = _shuffle(builder, rows[2], rows[3], (1, 5, 3, 7))
    return [_shuffle(builder, a0, a2, (0, 1, 4, 5)),
            _shuffle(builder, a1, a3, (0, 1, 4, 5)),
            _shuffle(builder, a0, a2, (2, 3, 6, 7)),
            _shuffle(builder, a1, a3, (2, 3, 6, 7))]


@intrinsic
def transpose_block(typingctx, S, sr, sc, D, dr, dc):
    """``D[dr + a, dc + b] = S[sr + b, sc + a]`` for a, b < n: a square block of
    n = 8 float32 or 4 float64, rows loaded and stored as vectors. ``S`` and ``D``
    are 2-D, C-contiguous, of one float dtype. No bounds checks."""
    if not _check_float_arrays(S, D):
        return None
    sig = types.void(S, sr, sc, D, dr, dc)

    def codegen(context, builder, signature, args):
        sty, srt, sct, dty, drt, dct = signature.args
        sarr = context.make_array(sty)(context, builder, args[0])
        darr = context.make_array(dty)(context, builder, args[3])
        s_r, s_c, d_r, d_c = (context.cast(builder, v, t, types.intp) for v, t in (
            (args[1], srt), (args[2], sct), (args[4], drt), (args[5], dct)))
        f32 = sty.dtype == types.float32
        n = 8 if f32 else 4
        vptr = ir.VectorType(context.get_value_type(sty.dtype), n).as_pointer()

        def row_ptr(aty, arr, r, c, k):
            r = builder.add(r, context.get_constant(types.intp, k))
            p = cgutils.get_item_pointer(context, builder, aty, arr, [r, c])
            return builder.bitcast(p, vptr)

        rows = [builder.load(row_ptr(sty, sarr, s_r, s_c, k), align=1)
                for k in range(n)]
        cols = _transpose8(builder, rows) if f32 else _transpose4(builder, rows)
        for k in range(n):
            builder.store(cols[k], row_ptr(dty, darr, d_r, d_c, k), align=1)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def sgd_step(param, grad, lr, weight_decay):
    """In place: ``param += lr * (grad - weight_decay * param)`` (flat arrays)."""
    p = param.ravel()
    g = grad.ravel()
    for k in range(p.shape[0]):
        p[k] += lr * (g[k] - weight_decay * p[k])


@njit(cache=True)
def momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    """In place:
    ``velocity = momentum * velocity + lr * (grad - weight_decay * param)``;
    ``param += velocity``. All arrays C-contiguous of the same shape and dtype."""
    p = param.ravel()
    g = grad.ravel()
    v = velocity.ravel()
    for k in range(p.shape[0]):
        v[k] = momentum * v[k] + lr * (g[k] - weight_decay * p[k])
        p[k] += v[k]


def momentum_step_reference(param, grad, velocity, lr, momentum, weight_decay):
    """Plain-numpy reference of ``momentum_step`` (same in-place semantics)."""
    velocity *= momentum
    velocity += lr * (grad - weight_decay * param)
    param += velocity


# ---------------------------------------------------------------------------
# scikit-learn-compatible random stream
#
# scikit-learn's BernoulliRBM draws ``RandomState.uniform`` numbers (MT19937, two
# 32-bit words per double). To give a user who swaps the import the same model for
# the same ``random_state`` (up to float rounding), the kernels consume exactly that
# stream: the caller passes the RandomState's MT19937 key and position in, the kernel
# advances them, and the caller writes them back (``RandomState.set_state``). The
# numpy reference replays the same draws with ``RandomState.random_sample``.
# ---------------------------------------------------------------------------

_MT_N = 624
_MT_M = 397


@njit(cache=True)
def _mt_twist(key):
    upper = np.uint32(0x80000000)
    lower = np.uint32(0x7FFFFFFF)
    matrix = np.uint32(0x9908B0DF)
    one = np.uint32(1)
    for i in range(227):  # 624 - 397
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + 397] ^ (y >> one) ^ ((y & one) * matrix)
    for i in range(227, 623):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i - 227] ^ (y >> one) ^ ((y & one) * matrix)
    y = (key[623] & upper) | (key[0] & lower)
    key[623] = key[396] ^ (y >> one) ^ ((y & one) * matrix)


@njit(cache=True, inline="always")
def _temper(a):
    a ^= a >> np.uint32(11)
    a ^= (a << np.uint32(7)) & np.uint32(0x9D2C5680)
    a ^= (a << np.uint32(15)) & np.uint32(0xEFC60000)
    a ^= a >> np.uint32(18)
    return a


@njit(cache=True)
def _temper_block(key, pos, words, k, m):
    """words[k:k + m] = tempered key[pos:pos + m] (its own function: the loop
    vectorises once the two arrays are known to be distinct arguments, and runs
    over slices from 0, without the wraparound test of ``key[pos + t]``)."""
    src = key[pos:pos + m]
    dst = words[k:k + m]
    for t in range(m):
        dst[t] = _temper(src[t])


@njit(cache=True)
def _words_to_doubles(words, out, n):
    """out[t] = RandomState's double from words 2t (27 high bits) and 2t + 1 (26)."""
    for t in range(n):
        a = words[2 * t] >> np.uint32(5)
        b = words[2 * t + 1] >> np.uint32(6)
        out[t] = (np.float64(a) * 67108864.0 + np.float64(b)) * (
            1.0 / 9007199254740992.0)


# tempered words between the MT19937 state and the doubles (``mt_fill_random``): a
# state block and one word left over from the block before
MT_SCRATCH = _MT_N + 2


@njit(cache=True)
def mt_fill_random(key, pos, words, out):
    """Fill ``out`` (float64, 1-D) with the next ``RandomState.random_sample`` doubles.

    ``key`` (uint32[624], MT19937 state) is advanced in place and the new position is
    returned. ``words`` is a uint32 scratch of length >= ``MT_SCRATCH``: the words are
    tempered one state block (624 words) at a time and turned into doubles while
    they are in L1 (a pair that straddles two blocks waits in ``words[0]``).
    """
    n = out.shape[0]
    k = 0  # doubles written
    have = 0  # a tempered word left over from the previous block (0 or 1)
    while k < n:
        if pos >= 624:
            _mt_twist(key)
            pos = 0
        m = min(624 - pos, 2 * (n - k) - have)
        _temper_block(key, pos, words, have, m)
        pos += m
        total = have + m
        pairs = total // 2
        _words_to_doubles(words, out[k:k + pairs], pairs)
        k += pairs
        have = total % 2
        if have:
            words[0] = words[total - 1]
    return pos


@njit(cache=True)
def count_nonfinite_outside(values, lo, hi):
    """(number of non-finite values, number of values outside [lo, hi]) of the 1-D
    ``values``, in one pass (NaN counts as non-finite only)."""
    n_nonfinite = 0
    n_outside = 0
    for i in range(values.shape[0]):
        x = values[i]
        n_nonfinite += not (x - x == 0)  # inf - inf and NaN - NaN are NaN
        n_outside += (x < lo) | (x > hi)
    return n_nonfinite, n_outside


def count_nonfinite_outside_reference(values, lo, hi):
    """numpy reference of ``count_nonfinite_outside``."""
    return (int(np.count_nonzero(~np.isfinite(values))),
            int(np.count_nonzero((values < lo) | (values > hi))))


@njit(cache=True)
def _polar_pairs(u, out, i, loc, scale):
    """Consume the doubles ``u`` (a multiple of 2) as ``RandomState``'s legacy polar
    method does: pairs (x1, x2) = 2 u - 1, rejected unless 0 < r2 < 1; each accepted
    pair gives out[i] = loc + scale * f x2, then (while room) out[i + 1] = loc +
    scale * f x1, f = sqrt(-2 log(r2) / r2). Returns (new i, cached f x1 or NaN)."""
    n = out.shape[0]
    cached = np.nan
    for p in range(0, u.shape[0], 2):
        x1 = 2.0 * u[p] - 1.0
        x2 = 2.0 * u[p + 1] - 1.0
        r2 = x1 * x1 + x2 * x2
        if r2 >= 1.0 or r2 == 0.0:
            continue
        f = np.sqrt(-2.0 * np.log(r2) / r2)
        out[i] = loc + scale * (f * x2)
        i += 1
        if i < n:
            out[i] = loc + scale * (f * x1)
            i += 1
        else:
            cached = f * x1
    return i, cached


@njit(cache=True)
def mt_fill_normal(key, pos, has_gauss, gauss, loc, scale, out):
    """Fill ``out`` (float64, 1-D) with the next ``RandomState.normal(loc, scale)``
    values (the legacy polar method, its cached second value included).

    The MT19937 ``key`` is advanced in place; returns the new (position, has_gauss,
    gauss). Uniforms are drawn in bulk, never more than the values still missing
    could use (two per value: every pair accepted), so the stream ends exactly where
    ``RandomState`` leaves it.
    """
    n = out.shape[0]
    i = 0
    if n > 0 and has_gauss:
        out[0] = loc + scale * gauss
        i = 1
        has_gauss = False
        gauss = 0.0
    u = np.empty(min(2 * ((n - i + 1) // 2), 16384))  # chunks stay in cache
    words = np.empty(MT_SCRATCH, np.uint32)
    while i < n:
        # uniforms of at most (n - i + 1) // 2 pairs: each accepted pair gives two
        # values (the last one may give one and cache the other)
        m = min(2 * ((n - i + 1) // 2), u.shape[0])
        pos = mt_fill_random(key, pos, words, u[:m])
        i, cached = _polar_pairs(u[:m], out, i, loc, scale)
        if i == n and not np.isnan(cached):
            has_gauss = True
            gauss = cached
    return pos, has_gauss, gauss


def legacy_normal(rng, loc, scale, size):
    """``rng.normal(loc, scale, size)`` for a ``RandomState`` (same values, same
    state afterwards), drawn by ``mt_fill_normal``."""
    name, key, pos, has_gauss, gauss = rng.get_state(legacy=True)
    key = np.array(key, dtype=np.uint32)
    out = np.empty(int(np.prod(size)), dtype=np.float64)
    pos, has_gauss, gauss = mt_fill_normal(key, int(pos), bool(has_gauss),
                                           float(gauss), float(loc), float(scale), out)
    rng.set_state((name, key, int(pos), int(has_gauss), float(gauss)))
    return out.reshape(size)


# ---------------------------------------------------------------------------
# BernoulliRBM epoch kernel
#
# Layout: ``Wt`` is ``components_.T`` (n_features, n_components), C-contiguous (the
# memory of scikit-learn's Fortran-ordered ``components_``). Products with a sparse or
# binary left factor are sums of the rows of ``Wt`` selected by the non-zeros, so zeros
# of the data and of the binary visible samples cost nothing.
#
# Random numbers of one minibatch are drawn in one block, in this order:
#   CD only (persistent=False): nb * H uniforms, initial hidden sample of the chains;
#   then for each of the n_gibbs steps:
#     visible: nc * V uniforms (Bernoulli) or 2 * ceil(nc * V / 2) uniforms turned into
#              nc * V standard normals by Box-Muller (Gaussian visible units);
#     hidden:  nc * H uniforms.
# For PCD-1 with Bernoulli units this is scikit-learn's order of ``uniform`` calls.
# ---------------------------------------------------------------------------

# no nnan/ninf: divergence is detected
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True)
def minibatch_draws(nb, nc, n_features, n_components, n_gibbs, persistent, gaussian):
    """Number of uniform doubles the kernel draws for one minibatch."""
    n = 0 if persistent else nb * n_components
    nv = nc * n_features
    if gaussian:
        nv = 2 * ((nv + 1) // 2)
    return n + n_gibbs * (nv + nc * n_components)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def sigmoid_row(a, ibuf):
    """In place ``a = 1 / (1 + exp(-a))`` on a 1-D row (see ``sigmoid_range``)."""
    sigmoid_range(a, 0, a.shape[0], ibuf)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def sigmoid_range(a, j0, j1, ibuf):
    """In place ``a[j] = 1 / (1 + exp(-a[j]))`` for j0 <= j < j1 (1-D), vectorisable.

    exp is computed as ``2**k * p(r)`` (Cody-Waite reduction, Taylor polynomial of
    degree 7 for float32 and 12 for float64, ``2**k`` built in the exponent bits of
    ``ibuf``, an int32 scratch for float32 rows and int64 for float64, as long as
    ``a``): within a few ulp of ``np.exp``. Arguments
    are clamped to about +-87 (float32) / +-708 (float64), far beyond the point
    where the logistic function saturates.
    """
    T = a.dtype.type
    I = ibuf.dtype.type
    f32 = a.itemsize == 4
    shift = I(23) if f32 else I(52)
    bias = I(127) if f32 else I(1023)
    lim = T(87.0) if f32 else T(707.0)
    log2e = T(1.4426950408889634)
    ln2_hi = T(0.693359375)
    ln2_lo = T(-2.12194440054690583e-4)
    one = T(1.0)
    half = T(0.5)
    c2 = T(1.0 / 2)
    c3 = T(1.0 / 6)
    c4 = T(1.0 / 24)
    c5 = T(1.0 / 120)
    c6 = T(1.0 / 720)
    c7 = T(1.0 / 5040)
    c8 = T(1.0 / 40320)
    c9 = T(1.0 / 362880)
    c10 = T(1.0 / 3628800)
    c11 = T(1.0 / 39916800)
    c12 = T(1.0 / 479001600)
    # loops over slices from 0: indices known to be non-negative (no wraparound
    # test, which would stop the vectorisation)
    a = a[j0:j1]
    ib = ibuf[j0:j1]
    n = a.shape[0]
    if f32:  # degree 7 is exact to float32 rounding (|r| <= ln2 / 2)
        for j in range(n):
            t = -a[j]
            t = min(max(t, -lim), lim)
            k = np.floor(t * log2e + half)
            r = t - k * ln2_hi - k * ln2_lo
            q = c7 * r + c6
            q = q * r + c5
            q = q * r + c4
            q = q * r + c3
            q = q * r + c2
            q = q * r + one
            a[j] = q * r + one
            ib[j] = (I(k) + bias) << shift
    else:
        for j in range(n):
            t = -a[j]
            t = min(max(t, -lim), lim)
            k = np.floor(t * log2e + half)
            r = t - k * ln2_hi - k * ln2_lo
            q = c12 * r + c11
            q = q * r + c10
            q = q * r + c9
            q = q * r + c8
            q = q * r + c7
            q = q * r + c6
            q = q * r + c5
            q = q * r + c4
            q = q * r + c3
            q = q * r + c2
            q = q * r + one
            a[j] = q * r + one
            ib[j] = (I(k) + bias) << shift
    scale = ib.view(a.dtype)
    for j in range(n):
        a[j] = one / (one + a[j] * scale[j])


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def accumulate_cols(out, M, j0, j1, idx, coef, n):
    """out[j] += sum_a coef[a] * M[idx[a], j] for a < n and j0 <= j < j1, each
    element a chain of fused multiply-adds in the order of the list.

    ``M`` is C-contiguous. Columns go 64 (float64: 32) at a time through
    ``list_acc`` (that piece of ``out`` in registers for the whole list), then the
    remaining whole vectors (4, 2, 1), a half vector, single elements; 1.4-2.2x
    faster than summing the rows eight at a time in a vectorised loop (row lengths
    64 and 100, lists of 9 and 30 rows).
    """
    lanes = 8 if out.itemsize == 4 else 4
    c = j0
    while c + 8 * lanes <= j1:
        list_acc(out, c, M, idx, coef, n, 8, 0)
        c += 8 * lanes
    nv = (j1 - c) // lanes  # 0..7 more whole vectors: 4 + 2 + 1 at most
    if nv & 4:
        list_acc(out, c, M, idx, coef, n, 4, 0)
        c += 4 * lanes
    if nv & 2:
        list_acc(out, c, M, idx, coef, n, 2, 0)
        c += 2 * lanes
    if nv & 1:
        list_acc(out, c, M, idx, coef, n, 1, 0)
        c += lanes
    if c + lanes // 2 <= j1:  # a half vector
        list_acc(out, c, M, idx, coef, n, 1, 1)
        c += lanes // 2
    while c < j1:  # single elements (a plain loop here would be reassociated)
        list_acc(out, c, M, idx, coef, n, 1, 3)
        c += 1


@njit(cache=True)
def _nonzeros(row, idx, coef):
    """Indices and values of the non-zeros of ``row``; returns their number."""
    n = np.uintp(0)  # unsigned: no negative-index wraparound code per element
    for i in range(row.shape[0]):  # branchless: random 0/1 patterns mispredict
        x = row[i]
        idx[n] = i
        coef[n] = x
        n += np.uintp(x != 0)
    return np.intp(n)


@njit(cache=True)
def _chunk_starts(idx, n, fc, starts):
    """starts[q] = first position a < n with idx[a] >= q * fc, for every q (idx[:n]
    sorted): where each chunk of ``fc`` features begins in a row's non-zero list, so
    that the parameter step finds a chunk's entries without searching."""
    a = 0
    for q in range(starts.shape[0]):
        lim = q * fc
        while a < n and idx[a] < lim:
            a += 1
        starts[q] = a


@njit(cache=True)
def _box_muller(rand, start, n):
    """Turn rand[start:start + 2 * ceil(n / 2)] into n standard normals, in place."""
    two_pi = 2.0 * np.pi
    for t in range((n + 1) // 2):
        u1 = rand[start + 2 * t]
        u2 = rand[start + 2 * t + 1]
        r = np.sqrt(-2.0 * np.log(1.0 - u1))
        rand[start + 2 * t] = r * np.cos(two_pi * u2)
        rand[start + 2 * t + 1] = r * np.sin(two_pi * u2)


@njit(cache=True)
def _box_muller_steps(rand, off, n_gibbs, nc, V, H):
    """Turn the visible draws of every Gibbs step into standard normals."""
    for step in range(n_gibbs):
        _box_muller(rand, off, nc * V)
        off += 2 * ((nc * V + 1) // 2) + nc * H


# ---------------------------------------------------------------------------
# Steps of one minibatch (sequential kernel)
#
# Every product has a sparse or binary left factor (the data, the binary samples), so
# it is a sum of selected rows of a weight matrix: the kernel lists the non-zeros of a
# left row (``*_idx``, ``*_coef``, ``*_cnt``) and adds up the selected rows over the
# full width. Each phase runs over rows of the minibatch or of the chains, or over
# chunks of features for the parameter step, and lists the non-zeros of the rows it
# produces, for the next phase. The blocked kernel (``_block_kernels``, for bigger
# minibatches, on one thread or several) does the same arithmetic per output element
# in a cache-blocked layout, so the two give the same numbers.
#
# ``Wt`` (n_features, n_components) is the updated matrix; ``W`` = ``Wt.T`` is its copy
# for the visible phase, refreshed chunk by chunk at the end of the parameter step.
# ---------------------------------------------------------------------------


@njit(cache=True)
def _row_lists(M, n_rows, idx, coef, cnt):
    """Non-zeros of rows 0..n_rows-1 of ``M`` into ``idx[r]``, ``coef[r]``,
    ``cnt[r]``."""
    for r in range(n_rows):
        cnt[r] = _nonzeros(M[r], idx[r], coef[r])


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _positive_rows(b0, b1, r0, dense, indptr, indices, data, Wt, bh, hpos, p_idx,
                   p_coef, p_cnt, p_start, fc, cd, rand, hc, h_idx, h_coef, h_cnt,
                   ibuf):
    """Rows b0..b1-1 of the positive phase: the non-zeros of data row r0 + b (dense
    rows of length V, or CSR) and where their chunks of ``fc`` features start,
    hpos[b] = sigmoid(bh + x @ Wt); with ``cd`` also the chains' binary sample
    hc[b] = [rand[b * H + j] < hpos[b, j]] and its non-zeros."""
    V = Wt.shape[0]
    H = Wt.shape[1]
    one = Wt.dtype.type(1)
    zero = Wt.dtype.type(0)
    for b in range(b0, b1):
        r = r0 + b
        if dense:
            p_cnt[b] = _nonzeros(data[r * V:(r + 1) * V], p_idx[b], p_coef[b])
        else:
            start = indptr[r]
            n = indptr[r + 1] - start
            for a in range(n):
                p_idx[b, a] = indices[start + a]
                p_coef[b, a] = data[start + a]
            p_cnt[b] = n
        _chunk_starts(p_idx[b], p_cnt[b], fc, p_start[b])
        o = hpos[b]
        for j in range(H):  # loops from 0 vectorise (see accumulate_cols)
            o[j] = bh[j]
        accumulate_cols(o, Wt, 0, H, p_idx[b], p_coef[b], p_cnt[b])
        sigmoid_range(o, 0, H, ibuf)
        if cd:
            hs = hc[b]
            u = rand[b * H:(b + 1) * H]
            for j in range(H):
                hs[j] = one if u[j] < o[j] else zero
            h_cnt[b] = _nonzeros(hs, h_idx[b], h_coef[b])


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _visible_rows(c0, c1, W, bv, gaussian, rand, off, h_idx, h_coef, h_cnt, vneg, n_idx,
                  n_coef, n_cnt, n_start, fc, ibuf):
    """Visible samples of chains c0..c1-1, their non-zeros and where their chunks of
    ``fc`` features start (see ``_chunk_starts``): pre-activation
    s = bv + h @ W (h binary, given by its lists); Bernoulli: v = [u < sigmoid(s)],
    Gaussian: v = s + z, with u or z at ``rand[off + c * V + i]``."""
    V = W.shape[1]
    one = W.dtype.type(1)
    zero = W.dtype.type(0)
    for c in range(c0, c1):
        v = vneg[c]
        for i in range(V):
            v[i] = bv[i]
        accumulate_cols(v, W, 0, V, h_idx[c], h_coef[c], h_cnt[c])
        u = rand[off + c * V:off + (c + 1) * V]
        if gaussian:
            for i in range(V):
                v[i] += u[i]
        else:
            sigmoid_range(v, 0, V, ibuf)
            for i in range(V):
                v[i] = one if u[i] < v[i] else zero
        n_cnt[c] = _nonzeros(v, n_idx[c], n_coef[c])
        _chunk_starts(n_idx[c], n_cnt[c], fc, n_start[c])


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _hidden_rows(c0, c1, Wt, bh, rand, off, n_idx, n_coef, n_cnt, hneg, hc, h_idx,
                 h_coef, h_cnt, ibuf):
    """Hidden phase of chains c0..c1-1: hneg[c] = sigmoid(bh + v @ Wt) (v given by its
    lists), the new chain state hc[c] = [rand[off + c * H + j] < hneg[c, j]] and its
    non-zeros (for the next visible phase)."""
    H = Wt.shape[1]
    one = Wt.dtype.type(1)
    zero = Wt.dtype.type(0)
    for c in range(c0, c1):
        o = hneg[c]
        for j in range(H):
            o[j] = bh[j]
        accumulate_cols(o, Wt, 0, H, n_idx[c], n_coef[c], n_cnt[c])
        sigmoid_range(o, 0, H, ibuf)
        hs = hc[c]
        u = rand[off + c * H:off + (c + 1) * H]
        for j in range(H):
            hs[j] = one if u[j] < o[j] else zero
        h_cnt[c] = _nonzeros(hs, h_idx[c], h_coef[c])


@njit(cache=True)
def _feature_lists(q, i0, rows, idx, coef, start, base, scale, w_idx, w_coef, w_cnt,
                   g_v):
    """Append the entries of feature chunk q (features i0..) of the row lists
    0..rows-1 (positions start[r, q] to start[r, q + 1]) to the feature lists (row
    index ``base + row``, coefficient ``scale * x``), adding the values x to g_v[i];
    ``scale`` > 0 adds, < 0 subtracts."""
    u = np.uintp  # unsigned indices: no negative-index wraparound code per entry
    neg = scale < 0
    for r in range(rows):
        ir = idx[r]
        cr = coef[r]
        row = base + r
        for a in range(u(start[r, q]), u(start[r, q + 1])):
            i = u(ir[a])
            f = i - u(i0)
            x = cr[a]
            k = u(w_cnt[f])
            w_idx[f, k] = row
            w_coef[f, k] = scale * x
            w_cnt[f] = k + u(1)
            g_v[i] += -x if neg else x


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _weight_features(q, fc, nb, p_idx, p_coef, p_start, nc, n_idx, n_coef, n_start, m,
                     lr, w_idx, w_coef, w_cnt, Wt, W, vel, hcat, decay, momentum, plain,
                     bv, vel_bv, g_v):
    """Parameter step of feature chunk q, the features i0 = q * fc to i1 - 1 (rows of
    ``Wt``; ``p_start`` / ``n_start`` say where the chunk begins in each row list, see
    ``_chunk_starts``): Wt[i] += sum over the feature's entries of coef * hcat[row]
    (positive rows ``lr * x`` on hpos row b, then negative ``-lr * x`` on hneg row
    m + c), or through the velocity with momentum and weight decay; the visible biases
    likewise (g_v = sum_b x_b - sum_c v_c); then W[:, i0:i1] = Wt[i0:i1].T, while those
    rows are in cache. ``w_*`` are the task's scratch lists (at least fc rows)."""
    H = Wt.shape[1]
    zero = Wt.dtype.type(0)
    i0 = q * fc
    i1 = min(i0 + fc, Wt.shape[0])
    F = i1 - i0
    for f in range(F):
        w_cnt[f] = 0
        g_v[i0 + f] = zero
    _feature_lists(q, i0, nb, p_idx, p_coef, p_start, 0, lr, w_idx, w_coef, w_cnt, g_v)
    _feature_lists(q, i0, nc, n_idx, n_coef, n_start, m, -lr, w_idx, w_coef, w_cnt, g_v)
    for f in range(F):
        i = i0 + f
        if plain:
            accumulate_cols(Wt[i], hcat, 0, H, w_idx[f], w_coef[f], w_cnt[f])
        else:
            w = Wt[i]
            g = vel[i]
            for j in range(H):
                g[j] = momentum * g[j] - decay * w[j]
            accumulate_cols(g, hcat, 0, H, w_idx[f], w_coef[f], w_cnt[f])
            for j in range(H):
                w[j] += g[j]
    _transpose_rows(Wt, W, i0, i1)
    if plain:
        _bias_step(bv[i0:i1], vel_bv, g_v[i0:i1], lr, momentum, plain)
    else:
        _bias_step(bv[i0:i1], vel_bv[i0:i1], g_v[i0:i1], lr, momentum, plain)


@njit(cache=True)
def _transpose_rows(Wt, W, i0, i1):
    """W[:, i0:i1] = Wt[i0:i1].T. float32: 8 x 8 vector transposes
    (``transpose_block``; 1.0 against 2.9 us for 64 x 100 with the loop below);
    float64, and the edges: four rows of ``Wt`` at a time, each read contiguously,
    four neighbouring elements of a row of ``W`` written together (4 x 4 vector
    transposes were slower there: 0.92-0.96x on scikit-learn's example)."""
    H = Wt.shape[1]
    u = np.uintp  # unsigned indices: no negative-index wraparound code per element
    i = u(i0)
    if Wt.itemsize == 4:
        hf = H - H % 8
        while i + u(8) <= u(i1):
            for j in range(0, hf, 8):
                transpose_block(Wt, i, j, W, j, i)
            for j in range(hf, H):
                w = W[j]
                for a in range(8):
                    w[i + u(a)] = Wt[i + u(a), j]
            i += u(8)
    while i + u(4) <= u(i1):
        r0 = Wt[i]
        r1 = Wt[i + u(1)]
        r2 = Wt[i + u(2)]
        r3 = Wt[i + u(3)]
        for j in range(H):
            w = W[j]
            w[i] = r0[j]
            w[i + u(1)] = r1[j]
            w[i + u(2)] = r2[j]
            w[i + u(3)] = r3[j]
        i += u(4)
    while i < u(i1):
        r0 = Wt[i]
        for j in range(H):
            W[j, i] = r0[j]
        i += u(1)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _hidden_bias_step(nb, nc, m, hcat, bh, vel_bh, g_h, lr, momentum, plain):
    """g_h = sum_b hpos_b - sum_c hneg_c, then the hidden biases' step."""
    H = g_h.shape[0]
    zero = g_h.dtype.type(0)
    for j in range(H):
        g_h[j] = zero
    for b in range(nb):
        hp = hcat[b]
        for j in range(H):
            g_h[j] += hp[j]
    for c in range(nc):
        hn = hcat[m + c]
        for j in range(H):
            g_h[j] -= hn[j]
    _bias_step(bh, vel_bh, g_h, lr, momentum, plain)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _bias_step(b, vel, grad, lr, momentum, plain):
    for j in range(b.shape[0]):
        if plain:
            b[j] += lr * grad[j]
        else:
            vel[j] = momentum * vel[j] + lr * grad[j]
            b[j] += vel[j]


@njit(cache=True)
def _epoch_work(Wt, bounds, n_chains, persistent, n_gibbs, gaussian, nt, fc, itemplate):
    """Work arrays of one epoch (``nt`` threads, feature chunks of ``fc``)."""
    V = Wt.shape[0]
    H = Wt.shape[1]
    dt = Wt.dtype
    max_nb = np.max(bounds[1:] - bounds[:-1])
    m = max(n_chains, max_nb)  # rows of a minibatch and of the chains
    nc = n_chains if persistent else max_nb
    rand = np.empty(max(minibatch_draws(max_nb, nc, V, H, n_gibbs, persistent,
                                        gaussian), 1))
    words = np.empty(MT_SCRATCH, np.uint32)
    hcat = np.empty((2 * m, H), dt)  # hpos rows 0..m-1, hneg rows m..2m-1
    vneg = np.empty((m, V), dt)
    hc_cd = np.empty((m, H), dt)  # CD chains
    p_idx = np.empty((m, V), np.int64)  # non-zeros of the data rows
    p_coef = np.empty((m, V), dt)
    h_idx = np.empty((m, H), np.int64)  # ... of the hidden samples of the chains
    h_coef = np.empty((m, H), dt)
    n_idx = np.empty((m, V), np.int64)  # ... of the visible samples of the chains
    n_coef = np.empty((m, V), dt)
    cnt = np.empty((3, m), np.int64)
    start = np.empty((2, m, (V + fc - 1) // fc + 1), np.int64)  # chunk starts: p, n
    w_idx = np.empty((nt, fc, 2 * m), np.int64)  # per task: feature lists
    w_coef = np.empty((nt, fc, 2 * m), dt)
    w_cnt = np.empty((nt, fc), np.int64)
    g = np.empty((2, max(V, H)), dt)  # bias gradients
    ibuf = np.empty((nt, max(V, H)), itemplate.dtype)  # sigmoid scratch per thread
    return (m, rand, words, hcat, vneg, hc_cd, p_idx, p_coef, h_idx, h_coef, n_idx,
            n_coef, cnt, start, w_idx, w_coef, w_cnt, g, ibuf)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def bernoulli_epoch(indptr, indices, data, bounds, Wt, W, bh, bv, chain, vel_w, vel_bh,
                    vel_bv, key, pos, learning_rate, momentum, weight_decay, n_gibbs,
                    persistent, gaussian, rc, fc, itemplate):
    """One epoch of PCD-k / CD-k over the minibatches ``bounds`` of X (sequential).

    X is CSR (``indptr``, ``indices``, ``data``; canonical: sorted indices, no
    duplicates) or, when ``indptr`` is empty, dense and C-contiguous with
    ``data = X.ravel()``; zeros are skipped either way. ``Wt`` is ``components_.T``
    (C-contiguous) and ``W`` a C-contiguous copy of ``components_`` (kept equal to
    ``Wt.T``). ``chain`` holds the persistent chains (its row count is the number of
    chains, also used when ``persistent`` is False). ``rc`` / ``fc`` are the rows /
    features per task of the blocked kernel (here only ``fc`` matters: the features
    per chunk of the parameter step); ``itemplate`` an empty int32 (float32
    parameters) or int64 array (float64).

    Parameters are updated in place; returns the new MT19937 position.
    """
    V = Wt.shape[0]
    H = Wt.shape[1]
    dense = indptr.shape[0] == 0
    plain = momentum == 0.0 and weight_decay == 0.0
    (m, rand, words, hcat, vneg, hc_cd, p_idx, p_coef, h_idx, h_coef, n_idx, n_coef,
     cnt, start, w_idx, w_coef, w_cnt, g, ibuf) = _epoch_work(
        Wt, bounds, chain.shape[0], persistent, n_gibbs, gaussian, 1, fc, itemplate)
    hpos = hcat[:m]
    hneg = hcat[m:]
    g_h = g[0, :H]
    g_v = g[1, :V]
    ib = ibuf[0]
    if persistent:
        _row_lists(chain, chain.shape[0], h_idx, h_coef, cnt[1])
    for k in range(bounds.shape[0] - 1):
        r0 = bounds[k]
        nb = bounds[k + 1] - r0
        hc = chain if persistent else hc_cd
        nc = hc.shape[0] if persistent else nb
        lr = learning_rate / nb
        n_draws = minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian)
        pos = mt_fill_random(key, pos, words, rand[:n_draws])
        _positive_rows(0, nb, r0, dense, indptr, indices, data, Wt, bh, hpos, p_idx,
                       p_coef, cnt[0], start[0], fc, not persistent, rand, hc, h_idx,
                       h_coef, cnt[1], ib)
        off = 0 if persistent else nb * H
        if gaussian:
            _box_muller_steps(rand, off, n_gibbs, nc, V, H)
        for step in range(n_gibbs):  # negative phase
            _visible_rows(0, nc, W, bv, gaussian, rand, off, h_idx, h_coef, cnt[1],
                          vneg, n_idx, n_coef, cnt[2], start[1], fc, ib)
            off += 2 * ((nc * V + 1) // 2) if gaussian else nc * V
            _hidden_rows(0, nc, Wt, bh, rand, off, n_idx, n_coef, cnt[2], hneg, hc,
                         h_idx, h_coef, cnt[1], ib)
            off += nc * H
        _hidden_bias_step(nb, nc, m, hcat, bh, vel_bh, g_h, lr, momentum, plain)
        for q in range((V + fc - 1) // fc):
            _weight_features(q, fc, nb, p_idx, p_coef, start[0], nc, n_idx, n_coef,
                             start[1], m, lr, w_idx[0], w_coef[0], w_cnt[0], Wt, W,
                             vel_w, hcat, learning_rate * weight_decay, momentum, plain,
                             bv, vel_bv, g_v)
    return pos
