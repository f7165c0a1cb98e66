"""LLVM-IR intrinsics of the blocked BernoulliRBM kernel (private).

Three things Numba's own code generation does not give, written once here so that
the kernels stay plain Numba:

- ``block_acc`` / ``block_acc_const``: add the rows of a packed block selected by
  the set bits of a 64-bit mask to one output row, the output row (256 bytes) held
  in eight vector registers for the whole mask. In a Numba loop the output row is
  loaded and stored again for every row added.
- ``transpose_block``: an 8 x 8 (float32) or 4 x 4 (float64) block transposed with
  vector shuffles.
- ``atomic_xchg``: an atomic exchange on an int64 array element (task claims shared
  by the threads of a parallel region).

Contract of every intrinsic here
--------------------------------
- Types are checked when the caller is compiled: arrays must have the dimensions and
  float dtype the docstring names (2-D, C-contiguous, one float dtype for all
  arrays), otherwise typing fails. Integer arguments may be of any integer type.
- No bounds checks: the caller guarantees that every row and element addressed lies
  inside its array (the rows of ``block_acc``'s arrays are exactly
  ``ROW_BYTES`` long).
- Arithmetic: ``block_acc`` and ``block_acc_const`` add one selected row after the
  other, lowest set bit first, each element by one fused multiply-add
  (``llvm.fmuladd``): the result does not depend on the thread or on the other rows
  of the output, and a loop doing the same multiply-adds in that order gives the
  same numbers.
- Each intrinsic is compared with numpy in ``tests/test_rbm_block_kernels.py``.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# bytes of an output row of ``block_acc``: eight vectors of 256 bits
ROW_BYTES = 256
_NACC = 8

def _acc_codegen(context, builder, dtype, cbase, state0, more, step):
    """IR of ``C += c * B_i`` over the entries of a loop, on the 256 bytes (eight
    vectors of 8 float32 or 4 float64) from the element pointers ``cbase`` (C) and
    B_i: ``state0`` the first loop state (an i64), ``more(state)`` an i1 (another
    entry?), ``step(state)`` its (element pointer of B_i, coefficient c in
    ``dtype``, next state). C is held in eight vector registers (phi nodes) for the
    whole loop; one llvm.fmuladd per entry and element, in order."""
    f32 = dtype == types.float32
    lanes = 8 if f32 else 4
    nacc = _NACC
    vec = ir.VectorType(context.get_value_type(dtype), lanes)
    vptr = vec.as_pointer()
    i32 = ir.IntType(32)
    i64 = ir.IntType(64)
    fmuladd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vec, [vec, vec, vec]),
        f"llvm.fmuladd.v{lanes}{'f32' if f32 else 'f64'}")

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


def _is_vector(a, kind):
    """Typing check: a 1-D array of ``kind`` (types.Integer or types.Float) items."""
    return isinstance(a, types.Array) and a.ndim == 1 and isinstance(a.dtype, kind)


@intrinsic
def atomic_xchg(typingctx, flags, slot, value):
    """Atomically ``old = flags[slot]; flags[slot] = value``; returns old (int64)."""
    if not (isinstance(flags, types.Array) and flags.dtype == types.int64
            and isinstance(slot, types.Integer) and isinstance(value, types.Integer)):
        return None
    sig = types.int64(flags, slot, value)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx])
        val = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("xchg", ptr, val, "seq_cst")

    return sig, codegen


def _bits_acc(context, builder, cty, c_arg, r, bty, b_arg, row0, bits, coef_of):
    """IR of ``C[r] += coef_of(t) * B[row0 + t]`` for the set bits t of the i64
    ``bits``, lowest first (``coef_of(t)``: IR of the coefficient, in C's dtype)."""
    i64 = ir.IntType(64)
    cttz = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.cttz.i64")
    carr = context.make_array(cty)(context, builder, c_arg)
    barr = context.make_array(bty)(context, builder, b_arg)

    def more(state):
        return builder.icmp_unsigned("!=", state, ir.Constant(i64, 0))

    def step(state):
        t = builder.call(cttz, [state, ir.Constant(ir.IntType(1), 1)])
        rest = builder.and_(state, builder.sub(state, ir.Constant(i64, 1)))
        return (_row_ptr(context, builder, bty, barr, builder.add(row0, t)),
                coef_of(t), rest)

    _acc_codegen(context, builder, cty.dtype, _row_ptr(context, builder, cty, carr, r),
                 bits, more, step)


@intrinsic
def block_acc(typingctx, C, r, B, row0, mask, vals, vbase):
    """``C[r] += vals[vbase + t] * B[row0 + t]`` for every set bit t of the uint64
    ``mask``, lowest first (each element a chain of fused multiply-adds, in that
    order).

    ``C`` and ``B`` are 2-D, C-contiguous, of one float dtype, with rows of exactly
    ``ROW_BYTES`` (256); ``vals`` a 1-D float array (the coefficients: the
    values whose non-zeros ``mask`` marks). The row of ``C`` stays in eight vector
    registers for the whole call. No bounds checks.
    """
    if not (_check_float_arrays(C, B) and _is_vector(vals, types.Float)
            and isinstance(mask, types.Integer)):
        return None
    sig = types.void(C, r, B, row0, mask, vals, vbase)

    def codegen(context, builder, signature, args):
        cty, rty, bty, r0ty, mty, vty, vbty = signature.args
        varr = context.make_array(vty)(context, builder, args[5])
        vbase = context.cast(builder, args[6], vbty, types.intp)

        def coef_of(t):
            c = builder.load(cgutils.get_item_pointer(context, builder, vty, varr,
                                                      [builder.add(vbase, t)]))
            return context.cast(builder, c, vty.dtype, cty.dtype)

        _bits_acc(context, builder, cty, args[0],
                  context.cast(builder, args[1], rty, types.intp), bty, args[2],
                  context.cast(builder, args[3], r0ty, types.intp),
                  context.cast(builder, args[4], mty, types.uint64), coef_of)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def block_acc_const(typingctx, C, r, B, row0, mask, c):
    """``C[r] += c * B[row0 + t]`` for every set bit t of the uint64 ``mask``, lowest
    first: ``block_acc`` with one coefficient for all entries (binary left rows:
    nothing to load per entry). Same arithmetic as ``block_acc`` with those
    coefficients."""
    if not (_check_float_arrays(C, B) and isinstance(mask, types.Integer)
            and isinstance(c, types.Float)):
        return None
    sig = types.void(C, r, B, row0, mask, c)

    def codegen(context, builder, signature, args):
        cty, rty, bty, r0ty, mty, ct = signature.args
        coef = context.cast(builder, args[5], ct, cty.dtype)
        _bits_acc(context, builder, cty, args[0],
                  context.cast(builder, args[1], rty, types.intp), bty, args[2],
                  context.cast(builder, args[3], r0ty, types.intp),
                  context.cast(builder, args[4], mty, types.uint64), lambda t: coef)
        return context.get_dummy_value()

    return sig, codegen

