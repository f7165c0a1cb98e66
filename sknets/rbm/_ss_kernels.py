"""Numba kernels of the spike-and-slab RBM (``SpikeSlabRBM``).

The maths is written in the user guide, ``doc/user_guide/spike_slab_rbm.rst``, section
*The model* (the section names in the docstrings below are its subsections);
``tests/references/ssrbm.py`` states the same in plain numpy and the tests compare the
two. Kernels know nothing of estimators: they take arrays and scalars.

Random numbers. All of them are drawn outside from the estimator's numpy
``Generator`` (the normals through ``standard_normal_into``: numpy's numbers, drawn
faster) and passed in, so the reference replays them:

- per Gibbs sweep and chain row: ``u_h`` (N,) uniforms for the spikes (``h_i = 1``
  iff ``u_h[i] < p(h_i=1|v)``), ``z_v`` (D,) normals for the first visible try, and
  slab normals: ``ss_gibbs`` takes ``z_s`` (N*K,) per row (a caller may ask for the
  slabs of every spike); the training kernel ``ss_epoch`` only needs ``h * s`` and
  takes either the same per-slab normals (``slab_dense``, what the estimator passes) or
  a *slab pool* (1-D) from which it reads K normals per spike that is *on*, in order of
  rows, spikes, slabs (fewer numbers to draw, but another random stream than the
  estimator's, so the estimator does not use it);
- a shared *retry pool* ``pool`` (P, D) of normals, consumed one row per rejected draw,
  and a *fallback pool* ``fb_u`` (Q, D) of uniforms, one row per fallback row.

When a pool runs out, a kernel stops and says so (status 1, 2, or 3 for the slab
pool); the caller draws more numbers and calls again. ``ss_epoch`` only commits a
minibatch (chains and parameters) once it is complete and, on stopping, returns the pool
positions at the start of that minibatch: the caller keeps the unread rest of the pool
and appends fresh numbers, so the resumed minibatch reads the same numbers again and
then new ones, exactly as one longer pool would give (no selection of noise by the
event "the pool ran out").

Parameter storage: ``W2`` (N*K, D) with row ``i*K + k`` = ``w_ik``; ``alpha``, ``mu``
(N, K); ``lam`` (D,); velocities of ``alpha`` and ``lam`` live in log space.
"""

import math

import numpy as np
from llvmlite import ir
from numba import literally, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..utils._numba_math import momentum_step
from ._intrinsics import transpose_block

STATUS_OK = 0
STATUS_POOL_EXHAUSTED = 1
STATUS_FALLBACK_EXHAUSTED = 2
STATUS_SLAB_EXHAUSTED = 3

_SQRT2 = math.sqrt(2.0)

# FMA contraction only (no reassociation, no finite-math assumptions): lets LLVM fuse
# the polynomial steps of the vectorised exp
_CONTRACT = {"contract"}


@njit(cache=True, nogil=True)
def standard_normal_into(gen, out):
    """``out[:] = gen.standard_normal(len(out))`` for a ``numpy.random.Generator``
    ``gen`` and a 1-D float64 ``out``: Numba's Generator runs numpy's ziggurat on the
    same bit generator, so the numbers, and the state of ``gen`` after, are numpy's;
    compiled around the bit source, the loop is quicker than numpy's own. Releases the
    GIL (the estimator draws the next noise in a thread while a kernel runs)."""
    for i in range(out.shape[0]):
        out[i] = gen.standard_normal()


@njit(cache=True, inline="always", error_model="numpy")
def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True, inline="always", error_model="numpy")
def _softplus(x):
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds a double to an integer
_MAGIC_BITS = 0x4338000000000000
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


@njit(cache=True, error_model="numpy")
def _sigmoid_rows(C, P, buf):
    """``P[t] = 1 / (1 + exp(-C[t]))`` with an exp written as plain arithmetic, so the
    loops vectorise (Numba has no vector ``exp`` here): ``exp(x) = 2**k * e**r`` with
    ``k = round(x / ln 2)``, ``|r| <= ln(2) / 2``, ``e**r`` by its degree-12 Taylor
    polynomial (relative error < 2e-16) and ``2**k`` assembled from its bits.
    ``buf`` is float64 work space of length >= N; ``x`` is clipped to +-708. Row by
    row through ``_sigmoid_into``."""
    B, N = C.shape
    poly = np.empty(N)
    for t in range(B):
        _sigmoid_into(C[t], P[t], N, buf, poly)


@njit(cache=True, error_model="numpy")
def _spike_stats(V, W2, b, alpha, mu, U, P, Rr, c_out):
    """Fill ``U = V W2^T`` (B, N*K), ``P = E[h|v]`` (B, N), ``Rr = E[h s|v]`` (B, N*K).

    ``c_out`` (B, N) receives the logits ``c`` (used by the free energy).
    """
    np.dot(V, W2.T, U)
    B = V.shape[0]
    N, K = alpha.shape
    NK = N * K
    inv_a = np.empty(NK)
    half_inv_a = np.empty(NK)
    mu1 = np.empty(NK)
    for i in range(N):
        for k in range(K):
            inv_a[i * K + k] = 1.0 / alpha[i, k]
            half_inv_a[i * K + k] = 0.5 / alpha[i, k]
            mu1[i * K + k] = mu[i, k]
    q = np.empty(NK)
    for t in range(B):
        for j in range(NK):
            u = U[t, j]
            q[j] = u * (u * half_inv_a[j] + mu1[j])
        for i in range(N):
            c = b[i]
            for k in range(K):
                c += q[i * K + k]
            c_out[t, i] = c
    buf = np.empty(N)
    _sigmoid_rows(c_out, P, buf)
    for t in range(B):
        for i in range(N):
            p = P[t, i]
            for k in range(K):
                j = i * K + k
                Rr[t, j] = p * (mu1[j] + U[t, j] * inv_a[j])


@njit(cache=True, error_model="numpy")
def ss_conditionals(V, W2, b, alpha, mu):
    """``(P, Rr)``: ``E[h|v]`` (B, N) and ``E[h s|v]`` (B, N*K) of the rows of ``V``."""
    B = V.shape[0]
    N, K = alpha.shape
    U = np.empty((B, N * K), dtype=V.dtype)
    P = np.empty((B, N), dtype=V.dtype)
    Rr = np.empty((B, N * K), dtype=V.dtype)
    c = np.empty((B, N), dtype=V.dtype)
    _spike_stats(V, W2, b, alpha, mu, U, P, Rr, c)
    return P, Rr


@njit(cache=True, error_model="numpy")
def ss_free_energy(V, W2, b, alpha, mu, lam):
    """Free energy ``F(v)`` (section *Free energy*) of every row of ``V``: (B,)."""
    B, D = V.shape
    N, K = alpha.shape
    U = np.empty((B, N * K), dtype=V.dtype)
    P = np.empty((B, N), dtype=V.dtype)
    Rr = np.empty((B, N * K), dtype=V.dtype)
    c = np.empty((B, N), dtype=V.dtype)
    _spike_stats(V, W2, b, alpha, mu, U, P, Rr, c)
    const = 0.0
    for i in range(N):
        for k in range(K):
            const += 0.5 * math.log(alpha[i, k] / (2.0 * math.pi))
    F = np.empty(B, dtype=V.dtype)
    for t in range(B):
        f = 0.0
        for d in range(D):
            f += 0.5 * lam[d] * V[t, d] * V[t, d]
        for i in range(N):
            f -= _softplus(c[t, i])
        F[t] = f + const
    return F


# --------------------------------------------------------------------------------------
# Small dense products: register tiles
# --------------------------------------------------------------------------------------

# Products V @ W2.T of the epoch kernel (minibatch rows x spikes' slabs x features) up
# to this many multiply-adds go through ``tile_matmul`` on a transposed copy of W2;
# larger ones through BLAS: a BLAS call's overhead, and its threads, only pay off on
# large products.
TILE_MAX_WORK = 1 << 20


@intrinsic
def _tile(typingctx, C, cr, cc, A, ar, B, bc, kdim, R, V, shift):
    """``C[cr + r, cc + j] = sum_p A[ar + r, p] * B[p, bc + j]`` over ``p < kdim``, for
    ``r < R`` and ``j < V * lanes``, lanes = (16 float32 or 8 float64: 512 bits) >>
    ``shift``, at least 1. ``R``, ``V``, ``shift`` are literals. The R x V vectors of
    C stay in registers for the whole sum; each B row piece is loaded once for the R
    rows. Every element is one chain of fused multiply-adds from 0 in the order of p
    (what BLAS gives for these shapes: the same numbers). C, A, B 2-D, C-contiguous,
    one float dtype; no bounds checks."""
    arrays = (C, A, B)
    if not (all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C"
                for a in arrays)
            and C.dtype in (types.float32, types.float64)
            and C.dtype == A.dtype == B.dtype
            and all(isinstance(x, types.IntegerLiteral) for x in (R, V, shift))):
        return None
    sig = types.void(C, cr, cc, A, ar, B, bc, kdim, R, V, shift)
    n_rows, n_vec = R.literal_value, V.literal_value

    def codegen(context, builder, signature, args):
        cty, _, _, aty, _, bty = signature.args[:6]
        dt = cty.dtype
        f32 = dt == types.float32
        lanes = max((16 if f32 else 8) >> shift.literal_value, 1)
        ft = context.get_value_type(dt)
        i32 = ir.IntType(32)
        i64 = ir.IntType(64)
        vec = ir.VectorType(ft, lanes) if lanes > 1 else ft
        suffix = (f"v{lanes}" if lanes > 1 else "") + ("f32" if f32 else "f64")
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec, vec, vec]),
            f"llvm.fmuladd.{suffix}")
        carr = context.make_array(cty)(context, builder, args[0])
        aarr = context.make_array(aty)(context, builder, args[3])
        barr = context.make_array(bty)(context, builder, args[5])
        c_r, c_c, a_r, b_c, k = (
            context.cast(builder, args[i], signature.args[i], types.intp)
            for i in (1, 2, 4, 6, 7))

        def const(v):
            return context.get_constant(types.intp, v)

        def vector_ptr(ptr):
            return builder.bitcast(ptr, vec.as_pointer())

        a_rows = [cgutils.get_item_pointer(context, builder, aty, aarr,
                                           [builder.add(a_r, const(r)), const(0)])
                  for r in range(n_rows)]
        zero = ir.Constant(vec, [0.0] * lanes) if lanes > 1 else ir.Constant(ft, 0.0)
        entry = builder.block
        loop = builder.append_basic_block("tile.loop")
        body = builder.append_basic_block("tile.body")
        done = builder.append_basic_block("tile.done")
        builder.branch(loop)
        builder.position_at_end(loop)
        p = builder.phi(i64)
        p.add_incoming(ir.Constant(i64, 0), entry)
        acc = [[builder.phi(vec) for _ in range(n_vec)] for _ in range(n_rows)]
        for row in acc:
            for a in row:
                a.add_incoming(zero, entry)
        builder.cbranch(builder.icmp_signed("<", p, k), body, done)
        builder.position_at_end(body)
        b_ptr = vector_ptr(cgutils.get_item_pointer(context, builder, bty, barr,
                                                    [p, b_c]))
        b_vals = [builder.load(builder.gep(b_ptr, [ir.Constant(i64, v)]), align=1)
                  for v in range(n_vec)]
        new = []
        for r in range(n_rows):
            a = builder.load(builder.gep(a_rows[r], [p]))
            if lanes > 1:
                a = builder.insert_element(ir.Constant(vec, ir.Undefined), a,
                                           ir.Constant(i32, 0))
                a = builder.shuffle_vector(
                    a, ir.Constant(vec, ir.Undefined),
                    ir.Constant(ir.VectorType(i32, lanes), [0] * lanes))
            new.append([builder.call(fma, [a, b_vals[v], acc[r][v]])
                        for v in range(n_vec)])
        body_end = builder.block
        p.add_incoming(builder.add(p, ir.Constant(i64, 1)), body_end)
        for r in range(n_rows):
            for v in range(n_vec):
                acc[r][v].add_incoming(new[r][v], body_end)
        builder.branch(loop)
        builder.position_at_end(done)
        for r in range(n_rows):
            c_ptr = vector_ptr(cgutils.get_item_pointer(
                context, builder, cty, carr, [builder.add(c_r, const(r)), c_c]))
            for v in range(n_vec):
                builder.store(acc[r][v], builder.gep(c_ptr, [ir.Constant(i64, v)]),
                              align=1)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _tile_row_block(C, A, B, r, n, k, R):
    """Columns ``0..n-1`` of rows ``r..r+R-1`` of ``C = A @ B`` (``R`` literal): tiles
    of 5 vectors, then one of the 1-4 whole vectors left, then a half, a quarter
    (and for float32 an eighth) vector, then single elements."""
    literally(R)
    L = 64 // C.itemsize
    c = 0
    while c + 5 * L <= n:
        _tile(C, r, c, A, r, B, c, k, R, 5, 0)
        c += 5 * L
    nv = (n - c) // L
    if nv == 4:
        _tile(C, r, c, A, r, B, c, k, R, 4, 0)
    elif nv == 3:
        _tile(C, r, c, A, r, B, c, k, R, 3, 0)
    elif nv == 2:
        _tile(C, r, c, A, r, B, c, k, R, 2, 0)
    elif nv == 1:
        _tile(C, r, c, A, r, B, c, k, R, 1, 0)
    c += nv * L
    if c + L // 2 <= n:
        _tile(C, r, c, A, r, B, c, k, R, 1, 1)
        c += L // 2
    if c + L // 4 <= n:
        _tile(C, r, c, A, r, B, c, k, R, 1, 2)
        c += L // 4
    if L == 16 and c + 2 <= n:
        _tile(C, r, c, A, r, B, c, k, R, 1, 3)
        c += 2
    while c < n:
        _tile(C, r, c, A, r, B, c, k, R, 1, 4)
        c += 1


@njit(cache=True)
def tile_matmul(C, A, B, m, n, k):
    """``C[:m, :n] = A[:m, :k] @ B[:k, :n]`` by ``_tile``: blocks of 4 rows, then
    single rows. Every element is a chain of fused multiply-adds in the order of k
    (for the epoch's shapes, what BLAS's ``V @ W2.T`` gives, bit for bit, at about
    its speed on ``V @ WT`` and without its threads)."""
    r = 0
    while r + 4 <= m:
        _tile_row_block(C, A, B, r, n, k, 4)
        r += 4
    while r < m:
        _tile_row_block(C, A, B, r, n, k, 1)
        r += 1


@njit(cache=True)
def transpose_into(S, T):
    """``T = S.T`` (S (a, b), T (b, a), C-contiguous, one float dtype): whole square
    blocks of one vector by ``transpose_block``, the edges element by element."""
    a, b = S.shape
    n = 32 // S.itemsize
    a0 = a - a % n
    b0 = b - b % n
    for i in range(0, a0, n):
        for j in range(0, b0, n):
            transpose_block(S, i, j, T, j, i)
    for i in range(a):
        for j in range(b0 if i < a0 else 0, b):
            T[j, i] = S[i, j]


# --------------------------------------------------------------------------------------
# Truncated normal (fallback of the ball-truncated visible draw)
# --------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _ndtr(x):
    return 0.5 * math.erfc(-x / _SQRT2)


@njit(cache=True, error_model="numpy")
def _ndtri(p):
    """Inverse of the standard normal CDF: Acklam's rational approximation refined by
    Halley steps (double precision down to ``p = 1e-300``)."""
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = ((((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q
                 - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q
               + 4.374664141464968e+00) * q + 2.938163982698783e+00)
             / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q
                  + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1.0))
    elif p <= 1.0 - plow:
        q = p - 0.5
        r = q * q
        x = ((((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r
                 - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r
               - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q
             / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r
                   - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r
                 - 1.328068155288572e+01) * r + 1.0))
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -((((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q
                  - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q
                + 4.374664141464968e+00) * q + 2.938163982698783e+00)
              / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q
                   + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1.0))
    for _ in range(2):
        if x < 0.0:
            e = _ndtr(x) - p
        else:  # refine against the survival function: no cancellation near 1
            e = (1.0 - p) - _ndtr(-x)
        if e == 0.0 or not math.isfinite(x):
            break
        # u = e * sqrt(2 pi) * exp(x^2 / 2), formed in log space (no overflow in tails)
        u = math.copysign(math.exp(math.log(abs(e)) + 0.5 * x * x
                                   + 0.5 * math.log(2.0 * math.pi)), e)
        x = x - u / (1.0 + 0.5 * x * u)
    return x


@njit(cache=True, error_model="numpy")
def _truncnorm_std(lo, hi, u):
    """Standard normal truncated to ``[lo, hi]``, by inverse CDF of the uniform ``u``.

    Works on the side of the interval away from 0 (mirrors intervals below 0; survival
    function for intervals above 0); an interval whose mass underflows, or of zero
    width, gives its endpoint nearest 0.
    """
    flip = hi <= 0.0
    if flip:
        a, bb = -hi, -lo
    else:
        a, bb = lo, hi
    if bb - a <= 0.0:
        x = a
    elif a >= 0.0:
        qa = _ndtr(-a)
        qb = _ndtr(-bb)
        if qa > qb:
            x = -_ndtri(qa - u * (qa - qb))
            if not math.isfinite(x):
                x = a
        else:
            x = a
    else:
        pa = _ndtr(a)
        pb = _ndtr(bb)
        x = _ndtri(pa + u * (pb - pa))
        if not math.isfinite(x):
            x = a
    x = min(max(x, a), bb)
    return -x if flip else x


@njit(cache=True, error_model="numpy")
def _fallback_row(v0, m, sd, radius, u, out):
    """Coordinate-wise truncated-normal Gibbs pass inside the ball, from ``v0``."""
    D = v0.shape[0]
    total = 0.0
    for d in range(D):
        total += v0[d] * v0[d]
    norm = math.sqrt(total)
    scale = radius / norm if norm > radius else 1.0
    total = 0.0
    for d in range(D):
        out[d] = v0[d] * scale
        total += out[d] * out[d]
    r2 = radius * radius
    for d in range(D):
        old = out[d]
        rest = r2 - (total - old * old)
        half = math.sqrt(rest) if rest > 0.0 else 0.0
        lo = (-half - m[d]) / sd[d]
        hi = (half - m[d]) / sd[d]
        new = m[d] + sd[d] * _truncnorm_std(lo, hi, u[d])
        new = min(max(new, -half), half)
        total = total + new * new - old * old
        out[d] = new


@njit(cache=True, error_model="numpy")
def _sweep(V, W2, b, alpha, mu, lam, radius, u_h, z_s, z_v, pool, pool_pos,
           max_rejections, fb_u, fb_pos, U, P, Rr, C, HS, Mv, V_out, H_out, S_out,
           keep_hs):
    """One block-Gibbs sweep from ``V`` into ``V_out`` (rows in order, see module doc).

    Work arrays ``U``, ``P``, ``Rr``, ``C``, ``HS``, ``Mv`` are preallocated; if
    ``keep_hs``, the sampled spikes and slabs go to ``H_out`` (B, N) and ``S_out``
    (B, N*K).
    Returns ``(status, pool_pos, fb_pos, n_fallback)``.
    """
    B, D = V.shape
    N, K = alpha.shape
    _spike_stats(V, W2, b, alpha, mu, U, P, Rr, C)
    sd_s = np.empty(N * K, dtype=alpha.dtype)
    for i in range(N):
        for k in range(K):
            sd_s[i * K + k] = 1.0 / math.sqrt(alpha[i, k])
    for t in range(B):
        for i in range(N):
            on = u_h[t, i] < P[t, i]
            for k in range(K):
                j = i * K + k
                noise = z_s[t, j] * sd_s[j]
                if on:
                    s = mu[i, k] + U[t, j] / alpha[i, k] + noise
                    HS[t, j] = s
                else:
                    s = noise
                    HS[t, j] = 0.0
                if keep_hs:
                    S_out[t, j] = s
            if keep_hs:
                H_out[t, i] = 1.0 if on else 0.0
    np.dot(HS, W2, Mv)
    sd = np.empty(D, dtype=V.dtype)
    for d in range(D):
        sd[d] = 1.0 / math.sqrt(lam[d])
    return _ball_rows(B, Mv, lam, sd, z_v, V, V_out, pool, pool_pos, fb_u, fb_pos,
                      radius, max_rejections)


@njit(cache=True, error_model="numpy")
def _ball_rows(n_rows, Mv, lam, sd, z, V_prev, V_out, pool, pool_pos, fb_u, fb_pos,
               radius, max_rejections):
    """Visible rows 0..n_rows-1 restricted to the ball (section *Visible draws in the
    ball*): ``Mv`` holds
    ``h s W`` and becomes the mean ``Mv / lam``; the proposal is mean + z * sd, then
    pool rows until it lies in the ball (at most ``max_rejections``), then the
    coordinate-wise fallback from ``V_prev``. Writes ``V_out``.

    Returns ``(status, pool_pos, fb_pos, n_fallback)``; on an exhausted pool or
    fallback stream the status says so and the rows from the failing one on are
    not finished.
    """
    D = Mv.shape[1]
    r2 = radius * radius
    n_fb = 0
    for t in range(n_rows):
        sq = 0.0
        for d in range(D):
            m = Mv[t, d] / lam[d]
            Mv[t, d] = m
            x = m + z[t, d] * sd[d]
            V_out[t, d] = x
            sq += x * x
        tries = 0
        while sq > r2 and tries < max_rejections:
            if pool_pos >= pool.shape[0]:
                return STATUS_POOL_EXHAUSTED, pool_pos, fb_pos, n_fb
            sq = 0.0
            for d in range(D):
                x = Mv[t, d] + pool[pool_pos, d] * sd[d]
                V_out[t, d] = x
                sq += x * x
            pool_pos += 1
            tries += 1
        if sq > r2:
            if fb_pos >= fb_u.shape[0]:
                return STATUS_FALLBACK_EXHAUSTED, pool_pos, fb_pos, n_fb
            _fallback_row(V_prev[t], Mv[t], sd, radius, fb_u[fb_pos], V_out[t])
            fb_pos += 1
            n_fb += 1
    return STATUS_OK, pool_pos, fb_pos, n_fb


@njit(cache=True, error_model="numpy")
def ss_gibbs(V, W2, b, alpha, mu, lam, radius, u_h, z_s, z_v, pool, pool_pos,
             max_rejections, fb_u, fb_pos):
    """One Gibbs sweep from every row of ``V`` (section *Conditionals*).

    Returns ``(V_new, H, S, status, pool_pos, fb_pos, n_fallback)``; ``S`` is (B, N*K).
    """
    B, D = V.shape
    N, K = alpha.shape
    dt = V.dtype
    U = np.empty((B, N * K), dtype=dt)
    P = np.empty((B, N), dtype=dt)
    Rr = np.empty((B, N * K), dtype=dt)
    C = np.empty((B, N), dtype=dt)
    HS = np.empty((B, N * K), dtype=dt)
    Mv = np.empty((B, D), dtype=dt)
    V_out = np.empty((B, D), dtype=dt)
    H = np.empty((B, N), dtype=dt)
    S = np.empty((B, N * K), dtype=dt)
    status, pool_pos, fb_pos, n_fb = _sweep(
        V, W2, b, alpha, mu, lam, radius, u_h, z_s, z_v, pool, pool_pos,
        max_rejections, fb_u, fb_pos, U, P, Rr, C, HS, Mv, V_out, H, S, True)
    return V_out, H, S, status, pool_pos, fb_pos, n_fb


# --------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _copy_rows(src, src_start, dst, dst_start, n_rows):
    """``dst[dst_start:dst_start + n] = src[src_start:src_start + n]`` as a loop."""
    for t in range(n_rows):
        for d in range(src.shape[1]):
            dst[dst_start + t, d] = src[src_start + t, d]


@njit(cache=True, error_model="numpy")
def _update(W2, b, alpha, mu, lam, vW2, vb, va, vmu, vl, V, B, U, P, Rr, G, lr, mom, wd,
            learn_alpha, learn_mu, learn_lambda, scalar_alpha, scalar_lambda, log_lo,
            log_hi):
    """Momentum step (section *Gradients and updates*) from the statistics of both
    phases, in place.

    ``V`` stacks the data batch (rows ``:B``) over the negative particles (rows
    ``B:``); ``U, P, Rr`` are their statistics (``_spike_stats``); ``Rr`` is
    overwritten. ``G`` (N*K, D) is work space.
    """
    n_rows, D = V.shape
    M = n_rows - B
    N, K = alpha.shape
    NK = N * K
    inv_b = 1.0 / B
    inv_m = 1.0 / M
    # dW2 = Rr_pos^T V_pos / B - Rr_neg^T V_neg / M as one product: scale the rows first
    for t in range(n_rows):
        scale = inv_b if t < B else -inv_m
        for j in range(NK):
            Rr[t, j] *= scale
    np.dot(Rr.T, V, G)
    momentum_step(W2.reshape(-1), G.reshape(-1), vW2.reshape(-1), lr, mom, wd)
    # statistics of the spike biases, slab means and log slab precisions
    dt = W2.dtype
    gb = np.zeros(N, dtype=dt)
    gmu = np.zeros((N, K), dtype=dt)
    ga = np.zeros((N, K), dtype=dt)
    for t in range(n_rows):
        w = inv_b if t < B else -inv_m
        for i in range(N):
            p = P[t, i] * w
            gb[i] += p
            for k in range(K):
                u = U[t, i * K + k]
                gmu[i, k] += p * u
                ga[i, k] -= p * u * u
    sa = 0.0
    for i in range(N):
        for k in range(K):
            ga[i, k] /= 2.0 * alpha[i, k]
            sa += ga[i, k]
    momentum_step(b, gb, vb, lr, mom, 0.0)
    if learn_mu:
        momentum_step(mu.reshape(-1), gmu.reshape(-1), vmu.reshape(-1), lr, mom, 0.0)
    if learn_alpha:
        ga1 = ga.reshape(-1)
        log_alpha = np.empty(NK, dtype=dt)
        a1 = alpha.reshape(-1)
        for j in range(NK):
            log_alpha[j] = math.log(a1[j])
            if scalar_alpha:
                ga1[j] = sa
        momentum_step(log_alpha, ga1, va.reshape(-1), lr, mom, 0.0)
        for j in range(NK):
            a1[j] = math.exp(min(max(log_alpha[j], log_lo), log_hi))
    if learn_lambda:
        gl = np.zeros(D, dtype=dt)
        for t in range(n_rows):
            w = -0.5 * inv_b if t < B else 0.5 * inv_m
            for d in range(D):
                gl[d] += w * V[t, d] * V[t, d]
        sl = 0.0
        for d in range(D):
            gl[d] *= lam[d]
            sl += gl[d]
        log_lam = np.empty(D, dtype=dt)
        for d in range(D):
            log_lam[d] = math.log(lam[d])
            if scalar_lambda:
                gl[d] = sl
        momentum_step(log_lam, gl, vl, lr, mom, 0.0)
        for d in range(D):
            lam[d] = math.exp(min(max(log_lam[d], log_lo), log_hi))


@njit(cache=True, error_model="numpy")
def ss_gradient_step(V_pos, V_neg, W2, b, alpha, mu, lam, vW2, vb, va, vmu, vl, lr, mom,
                     wd, learn_alpha, learn_mu, learn_lambda, scalar_alpha,
                     scalar_lambda, log_lo, log_hi):
    """One update (section *Gradients and updates*) from a data batch ``V_pos`` and
    particles ``V_neg``."""
    B = V_pos.shape[0]
    M, D = V_neg.shape
    N, K = alpha.shape
    dt = V_pos.dtype
    V = np.empty((B + M, D), dtype=dt)
    _copy_rows(V_pos, 0, V, 0, B)
    _copy_rows(V_neg, 0, V, B, M)
    U = np.empty((B + M, N * K), dtype=dt)
    P = np.empty((B + M, N), dtype=dt)
    Rr = np.empty((B + M, N * K), dtype=dt)
    C = np.empty((B + M, N), dtype=dt)
    G = np.empty((N * K, D), dtype=dt)
    _spike_stats(V, W2, b, alpha, mu, U, P, Rr, C)
    _update(W2, b, alpha, mu, lam, vW2, vb, va, vmu, vl, V, B, U, P, Rr, G, lr, mom, wd,
            learn_alpha, learn_mu, learn_lambda, scalar_alpha, scalar_lambda, log_lo,
            log_hi)


# --------------------------------------------------------------------------------------
# Epoch kernel
# --------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", fastmath=_CONTRACT)
def _sigmoid_into(c, out, n, ebuf, poly):
    """``out[:n] = 1 / (1 + exp(-c[:n]))`` with the vectorisable exp of
    ``_sigmoid_rows`` (``ebuf``: float64 work space, ``poly``: float64 work space)."""
    bits = ebuf.view(np.int64)
    for i in range(n):
        x = min(max(-c[i], -708.0), 708.0)
        y = x * _LOG2E + _MAGIC
        ebuf[i] = y
        k = y - _MAGIC
        r = (x - k * _LN2_HI) - k * _LN2_LO
        q = 1.0 / 479001600.0
        q = q * r + 1.0 / 39916800.0
        q = q * r + 1.0 / 3628800.0
        q = q * r + 1.0 / 362880.0
        q = q * r + 1.0 / 40320.0
        q = q * r + 1.0 / 5040.0
        q = q * r + 1.0 / 720.0
        q = q * r + 1.0 / 120.0
        q = q * r + 1.0 / 24.0
        q = q * r + 1.0 / 6.0
        q = q * r + 0.5
        q = q * r + 1.0
        poly[i] = q * r + 1.0
    for i in range(n):
        bits[i] = (bits[i] - _MAGIC_BITS + 1023) << 52
    for i in range(n):
        out[i] = 1.0 / (1.0 + poly[i] * ebuf[i])


@njit(cache=True, error_model="numpy")
def _expand(x, out, N, K):
    """``out[i*K + k] = x[i]`` (a per-spike value repeated over its slabs)."""
    if K == 2:
        for i in range(N):
            out[2 * i] = x[i]
            out[2 * i + 1] = x[i]
    else:
        for i in range(N):
            for k in range(K):
                out[i * K + k] = x[i]


@njit(cache=True, error_model="numpy", fastmath=_CONTRACT)
def _logits(U, n, b, half_inv_a, mu1, K, Q, C):
    """``C[t, i] = c_i(v_t)`` (section *Conditionals*) for rows ``t < n`` of the
    projections ``U``; ``Q`` is work space of length N*K."""
    N = C.shape[1]
    NK = N * K
    for t in range(n):
        for q in range(NK):
            u = U[t, q]
            Q[q] = u * (u * half_inv_a[q] + mu1[q])
        if K == 2:
            for i in range(N):
                C[t, i] = b[i] + (Q[2 * i] + Q[2 * i + 1])
        else:
            for i in range(N):
                c = b[i]
                for k in range(K):
                    c += Q[i * K + k]
                C[t, i] = c


@njit(cache=True, nogil=True, error_model="numpy")
def ss_epoch(X, perm, starts, stops, first, W2, b, alpha, mu, lam, vW2, vb, va, vmu,
             vl, chains, persistent, n_steps, u_h, z_v, slab_pool, slab_pos, slab_dense,
             pool, pool_pos, fb_u, fb_pos, radius, max_rejections, lr, mom, wd,
             learn_alpha, learn_mu, learn_lambda, scalar_alpha, scalar_lambda, log_lo,
             log_hi):
    """Minibatches ``first .. len(starts)-1`` of one epoch (PCD-k or CD-k), in place
    on the parameters, velocities and ``chains``.

    Minibatch ``j`` holds rows ``perm[starts[j]:stops[j]]`` of ``X``; its noise is
    ``u_h[j, step]`` (M, N) and ``z_v[j, step]`` (M, D) with ``M = chains.shape[0]``
    (persistent) or the batch size (CD, first rows used). Slab normals are needed only
    for spikes that are on: they are read in order from ``slab_pool`` (K numbers per
    on spike, rows then spikes then slabs), starting at ``slab_pos``. With
    ``slab_dense``, ``slab_pool`` is instead ``z_s.ravel()`` for a ``z_s`` of shape
    (n_batches, n_steps, M, N*K), one normal per slab as ``ss_gibbs`` reads it (numbers
    of off spikes unused). The retry pool
    ``pool`` and the fallback pool ``fb_u`` start at ``pool_pos`` and ``fb_pos``.

    Returns ``(status, j, slab_pos, pool_pos, fb_pos, n_fallback, n_draws)``. On
    ``STATUS_OK``, ``j = len(starts)`` and the positions are the final ones. When a pool
    runs out, minibatch ``j`` is not committed and the positions are those at its
    start: the caller appends fresh numbers to the unread rest of that pool (so the
    numbers already read are read again, as one longer i.i.d. sequence would give) and
    resumes at ``j``. ``n_fallback`` and ``n_draws`` count committed minibatches.
    Releases the GIL (the estimator draws the next epoch's noise meanwhile).
    """
    D = X.shape[1]
    N, K = alpha.shape
    NK = N * K
    dt = X.dtype
    n_batches = starts.shape[0]
    bmax = 1
    for j in range(n_batches):
        bmax = max(bmax, stops[j] - starts[j])
    mmax = max(bmax, chains.shape[0])
    # work space, allocated once
    Vall = np.empty((bmax + mmax, D), dtype=dt)  # data rows, then negative particles
    Vc = np.empty((mmax, D), dtype=dt)
    Vn = np.empty((mmax, D), dtype=dt)
    U = np.empty((bmax + mmax, NK), dtype=dt)
    Rr = np.empty((bmax + mmax, NK), dtype=dt)
    HS = np.empty((mmax, NK), dtype=dt)
    Mv = np.empty((mmax, D), dtype=dt)
    G = np.empty((NK, D), dtype=dt)
    nrow = bmax + mmax
    C = np.empty((nrow, N))
    Q = np.empty(NK)
    L = nrow * N
    Pb = np.empty(L)
    ebuf = np.empty(L)
    poly = np.empty(L)
    hb = np.empty(L)
    he = np.empty(NK)
    inv_a = np.empty(NK)
    half_inv_a = np.empty(NK)
    mu1 = np.empty(NK)
    sd_s = np.empty(NK)
    sd = np.empty(D, dtype=dt)
    gb = np.empty(N, dtype=dt)
    gmu = np.empty(NK, dtype=dt)
    ga = np.empty(NK, dtype=dt)
    gl = np.empty(D, dtype=dt)
    log_alpha = np.empty(NK, dtype=dt)
    log_lam = np.empty(D, dtype=dt)
    a1 = alpha.reshape(-1)
    m1 = mu.reshape(-1)
    # the projections V @ W2.T through register tiles on WT = W2.T (kept up to date
    # after each update) when small enough, else through BLAS
    tiles = (bmax + mmax) * NK * D <= TILE_MAX_WORK
    WT = np.empty((D if tiles else 0, NK), dtype=dt)
    if tiles:
        transpose_into(W2, WT)
    n_slab = slab_pool.shape[0]
    last = max(n_slab - 1, 0)
    dense_rows = n_slab // max(n_batches * n_steps * NK, 1)  # M of a dense z_s
    n_fb_total = 0
    n_draws = 0
    for j in range(first, n_batches):
        sp0 = slab_pos
        pp0 = pool_pos
        fp0 = fb_pos
        n_fb_batch = 0
        B = stops[j] - starts[j]
        for t in range(B):
            row = perm[starts[j] + t]
            for d in range(D):
                Vall[t, d] = X[row, d]
        if persistent:
            Mr = chains.shape[0]
            _copy_rows(chains, 0, Vc, 0, Mr)
        else:
            Mr = B
            _copy_rows(Vall, 0, Vc, 0, Mr)
        for q in range(NK):
            inv_a[q] = 1.0 / a1[q]
            half_inv_a[q] = 0.5 * inv_a[q]
            mu1[q] = m1[q]
            sd_s[q] = 1.0 / math.sqrt(a1[q])
        for d in range(D):
            sd[d] = 1.0 / math.sqrt(lam[d])
        # ---- negative phase: n_steps Gibbs sweeps of the chains Vc
        for step in range(n_steps):
            if tiles:
                tile_matmul(U, Vc, WT, Mr, NK, D)
            else:
                np.dot(Vc[:Mr], W2.T, U[:Mr])
            _logits(U, Mr, b, half_inv_a, mu1, K, Q, C)
            _sigmoid_into(C.reshape(-1), Pb, Mr * N, ebuf, poly)
            uh = u_h[j, step]
            n_on = 0
            for t in range(Mr):
                for i in range(N):
                    on = uh[t, i] < Pb[t * N + i]
                    hb[t * N + i] = 1.0 if on else 0.0
                    n_on += 1 if on else 0
            if slab_dense:
                base = (j * n_steps + step) * dense_rows * NK
                for t in range(Mr):
                    _expand(hb[t * N:], he, N, K)
                    r0 = base + t * NK
                    for q in range(NK):
                        HS[t, q] = he[q] * (mu1[q] + U[t, q] * inv_a[q]
                                            + slab_pool[r0 + q] * sd_s[q])
            else:
                if slab_pos + n_on * K > n_slab:
                    return (STATUS_SLAB_EXHAUSTED, j, sp0, pp0, fp0, n_fb_total,
                            n_draws)
                # hs = h (mu + u / alpha + z / sqrt(alpha)), no branch: spike i of row
                # t reads the next K slab normals and moves on only if it is on (an
                # off spike reads numbers that the next on spike reads again, times 0)
                pos = slab_pos
                for t in range(Mr):
                    for i in range(N):
                        h = hb[t * N + i]
                        for k in range(K):
                            q = i * K + k
                            z = slab_pool[min(pos + k, last)] if n_slab > 0 else 0.0
                            HS[t, q] = h * (mu1[q] + U[t, q] * inv_a[q] + z * sd_s[q])
                        pos += K if h > 0.0 else 0
                slab_pos = pos
            np.dot(HS[:Mr], W2, Mv[:Mr])
            status, pool_pos, fb_pos, nf = _ball_rows(
                Mr, Mv, lam, sd, z_v[j, step], Vc, Vn, pool, pool_pos, fb_u, fb_pos,
                radius, max_rejections)
            if status != STATUS_OK:
                return (status, j, sp0, pp0, fp0, n_fb_total, n_draws)
            n_fb_batch += nf
            _copy_rows(Vn, 0, Vc, 0, Mr)
        n_draws += Mr * n_steps
        n_fb_total += n_fb_batch
        # ---- statistics of both phases (data rows :B, particles B:) and the update
        n = B + Mr
        _copy_rows(Vc, 0, Vall, B, Mr)
        if tiles:
            tile_matmul(U, Vall, WT, n, NK, D)
        else:
            np.dot(Vall[:n], W2.T, U[:n])
        for q in range(NK):
            gmu[q] = 0.0
            ga[q] = 0.0
        for i in range(N):
            gb[i] = 0.0
        inv_b = 1.0 / B
        inv_m = 1.0 / Mr
        _logits(U, n, b, half_inv_a, mu1, K, Q, C)
        _sigmoid_into(C.reshape(-1), Pb, n * N, ebuf, poly)
        for t in range(n):
            w = inv_b if t < B else -inv_m
            for i in range(N):
                hb[i] = Pb[t * N + i] * w
                gb[i] += hb[i]
            _expand(hb, he, N, K)
            for q in range(NK):
                p = he[q]
                u = U[t, q]
                pu = p * u
                gmu[q] += pu
                ga[q] -= pu * u
                Rr[t, q] = p * mu1[q] + pu * inv_a[q]
        np.dot(Rr[:n].T, Vall[:n], G)
        momentum_step(W2.reshape(-1), G.reshape(-1), vW2.reshape(-1), lr, mom, wd)
        if tiles:
            transpose_into(W2, WT)
        sa = 0.0
        for q in range(NK):
            ga[q] = ga[q] * half_inv_a[q]
            sa += ga[q]
        momentum_step(b, gb, vb, lr, mom, 0.0)
        if learn_mu:
            momentum_step(m1, gmu, vmu.reshape(-1), lr, mom, 0.0)
        if learn_alpha:
            for q in range(NK):
                log_alpha[q] = math.log(a1[q])
                if scalar_alpha:
                    ga[q] = sa
            momentum_step(log_alpha, ga, va.reshape(-1), lr, mom, 0.0)
            for q in range(NK):
                a1[q] = math.exp(min(max(log_alpha[q], log_lo), log_hi))
        if learn_lambda:
            for d in range(D):
                gl[d] = 0.0
            for t in range(n):
                w = -0.5 * inv_b if t < B else 0.5 * inv_m
                for d in range(D):
                    gl[d] += w * Vall[t, d] * Vall[t, d]
            sl = 0.0
            for d in range(D):
                gl[d] *= lam[d]
                sl += gl[d]
            for d in range(D):
                log_lam[d] = math.log(lam[d])
                if scalar_lambda:
                    gl[d] = sl
            momentum_step(log_lam, gl, vl, lr, mom, 0.0)
            for d in range(D):
                lam[d] = math.exp(min(max(log_lam[d], log_lo), log_hi))
        if persistent:
            _copy_rows(Vc, 0, chains, 0, Mr)
    return STATUS_OK, n_batches, slab_pos, pool_pos, fb_pos, n_fb_total, n_draws
