"""The LLVM-IR intrinsics (``sknets.rbm._intrinsics``) and the blocked BernoulliRBM
kernel's building blocks against plain-numpy references (the whole blocked epoch is
compared with the numpy epoch in test_rbm.py)."""

import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit

from sknets.rbm._bernoulli_blocked_kernels import (
    BLOCK_BYTES,
    REGION,
    _mask_columns,
    data_masks,
    nonzero_mask,
    pack_cols,
    pack_transposed,
    packed_masks,
    row_masks,
    transpose_bits64,
    unpack_cols,
)
from sknets.rbm._intrinsics import (
    ROW_BYTES,
    atomic_xchg,
    block_acc,
    block_acc_const,
    transpose_block,
)


def block_width(dtype):
    """Columns of a packed block for ``dtype`` (64 float32, 32 float64)."""
    return BLOCK_BYTES // np.dtype(dtype).itemsize


@njit
def _block_acc_calls(C, B, rows, row0, masks, vals, vbase):
    for t in range(rows.shape[0]):
        block_acc(C, rows[t], B, row0[t], masks[t], vals, vbase[t])


def test_block_width_is_one_accumulator_row():
    assert block_width(np.float32) * 4 == block_width(np.float64) * 8 == ROW_BYTES


@njit
def _xchg_calls(flags, slots, values):
    old = np.empty(slots.shape[0], np.int64)
    for t in range(slots.shape[0]):
        old[t] = atomic_xchg(flags, slots[t], values[t])
    return old


def test_atomic_xchg_returns_the_old_value():
    flags = np.array([5, -1, 0], np.int64)
    old = _xchg_calls(flags, np.array([0, 2, 0, 1]), np.array([7, 3, 9, 2**40]))
    np.testing.assert_array_equal(old, [5, 0, 7, -1])
    np.testing.assert_array_equal(flags, [9, 2**40, 3])


@njit
def _transpose_calls(S, D, blocks):
    for t in range(blocks.shape[0]):
        sr, sc, dr, dc = blocks[t]
        transpose_block(S, sr, sc, D, dr, dc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_acc_matches_numpy(dtype):
    rng = np.random.RandomState(5)
    cw = block_width(dtype)
    B = rng.randn(200, cw).astype(dtype)
    C = rng.randn(4, cw).astype(dtype)
    vals = np.where(rng.rand(500) < 0.4, rng.randn(500), 0.0).astype(dtype)
    rows = np.array([0, 2, 2, 3, 1])
    row0 = np.array([0, 64, 10, 136, 5])
    vbase = np.array([0, 100, 7, 400, 436])
    masks = [int("".join("1" if v != 0 else "0" for v in vals[s:s + 64][::-1]), 2)
             for s in vbase]
    masks[3] = 0  # no entry
    masks = np.array(masks, np.uint64)
    expected = C.astype(np.float64)
    for r, b0, m, v0 in zip(rows, row0, masks, vbase):
        for t in range(64):  # lowest bit first, one entry after the other
            if int(m) >> t & 1:
                expected[r] += np.float64(vals[v0 + t]) * B[b0 + t]
    _block_acc_calls(C, B, rows, row0, masks, vals, vbase)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)


@njit
def _block_acc_const_calls(C, B, rows, row0, masks, coefs):
    for t in range(rows.shape[0]):
        block_acc_const(C, rows[t], B, row0[t], masks[t], coefs[t])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_acc_const_matches_numpy_and_block_acc(dtype):
    # one coefficient for every entry (binary left rows): the same numbers as
    # block_acc with that coefficient at each set bit
    rng = np.random.RandomState(6)
    cw = block_width(dtype)
    B = rng.randn(200, cw).astype(dtype)
    C = rng.randn(4, cw).astype(dtype)
    rows = np.array([0, 2, 2, 3, 1])
    row0 = np.array([0, 64, 10, 136, 5])
    masks = np.array([rng.randint(0, 2**62) for _ in rows] + [0], np.uint64)[:5]
    masks[3] = 0
    coefs = np.array([1.0, -0.25, 1.0, 3.0, 1e-3], dtype)
    expected = C.astype(np.float64)
    for r, b0, m, c in zip(rows, row0, masks, coefs):
        for t in range(64):
            if int(m) >> t & 1:
                expected[r] += np.float64(c) * B[b0 + t]
    C2 = C.copy()
    _block_acc_const_calls(C, B, rows, row0, masks, coefs)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)
    for r, b0, m, c in zip(rows, row0, masks, coefs):
        vals = np.full(64, c, dtype)
        _block_acc_calls(C2, B, np.array([r]), np.array([b0]), np.array([m]), vals,
                         np.array([0]))
    np.testing.assert_array_equal(C, C2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_acc_adds_in_order(dtype):
    # fused multiply-adds one entry after the other: (1 + big) - big, not 1 + (big -
    # big), so the 1 is lost to rounding exactly as in the plain loop
    cw = block_width(dtype)
    big = dtype(2.0 ** (24 if dtype == np.float32 else 53))
    B = np.ones((2, cw), dtype)
    C = np.ones((1, cw), dtype)
    coef = np.array([big, -big], dtype)
    _block_acc_calls(C, B, np.array([0]), np.array([0]), np.array([3], np.uint64),
                     coef, np.array([0]))
    np.testing.assert_array_equal(C, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose_block_matches_numpy(dtype):
    rng = np.random.RandomState(1)
    n = 8 if dtype == np.float32 else 4
    S = rng.randn(40, 48).astype(dtype)
    D = np.zeros((60, 50), dtype)
    blocks = np.array([[0, 0, 0, 0], [3, 5, 20, 7], [32, 40, 52, 42]])
    _transpose_calls(S, D, blocks)
    expected = np.zeros_like(D)
    for sr, sc, dr, dc in blocks:
        expected[dr:dr + n, dc:dc + n] = S[sr:sr + n, sc:sc + n].T
    np.testing.assert_array_equal(D, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 6), (150, 130), (64, 128)])
def test_pack_unpack_and_packed_transpose(dtype, shape):
    rng = np.random.RandomState(2)
    cw = block_width(dtype)
    A = rng.randn(*shape).astype(dtype)
    rows = -(-shape[0] // REGION) * REGION
    blocks = -(-shape[1] // REGION) * REGION // cw
    P = np.full((blocks, rows, cw), np.nan, dtype)
    pack_cols(A, P)
    padded = np.zeros((rows, blocks * cw), dtype)
    padded[:shape[0], :shape[1]] = A
    np.testing.assert_array_equal(P, padded.reshape(rows, blocks, cw).swapaxes(0, 1))
    back = np.zeros_like(A)
    unpack_cols(P, back)
    np.testing.assert_array_equal(back, A)
    PT = np.full((rows // cw, blocks * cw, cw), np.nan, dtype)
    pack_transposed(P, PT)
    np.testing.assert_array_equal(
        PT, padded.T.reshape(blocks * cw, rows // cw, cw).swapaxes(0, 1))


def _masks_reference(A, nk):
    """Expected masks (nk, rows) of the dense A."""
    out = np.zeros((nk, A.shape[0]), np.uint64)
    for k in range(nk):
        for b, row in enumerate(A):
            for t in np.flatnonzero(row[k * REGION:(k + 1) * REGION]):
                out[k, b] |= np.uint64(1) << np.uint64(t)
    return out


def test_nonzero_mask():
    for n in (0, 1, 37, 64):
        x = np.zeros(n)
        x[::3] = 1.5
        expected = sum(1 << t for t in range(0, n, 3))
        assert int(nonzero_mask(x)) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_data_masks_match_numpy(dtype, sparse):
    rng = np.random.RandomState(3)
    V, m = 150, 9
    X = np.where(rng.rand(20, V) < 0.3, rng.rand(20, V), 0.0).astype(dtype)
    X[4] = 0.0  # an empty row
    X[5, REGION:2 * REGION] = 1.0  # a full region
    nk = -(-V // REGION)
    masks = np.zeros((nk, m), np.uint64)
    Xd = np.full((m, V), np.nan, dtype)  # the CSR rows are written here
    r0 = 3  # rows 3..11 of X
    if sparse:
        Xs = sp.csr_matrix(X)
        args = (False, Xs.indptr.astype(np.int64), Xs.indices.astype(np.int64),
                Xs.data)
    else:
        empty = np.empty(0, np.int64)
        args = (True, empty, empty, X.ravel())
    for k in range(nk):
        for b0, b1 in ((0, 4), (4, 9)):  # two tasks of rows
            data_masks(k, b0, b1, r0, *args, V, Xd, masks)
    np.testing.assert_array_equal(masks, _masks_reference(X[r0:r0 + m], nk))
    if sparse:
        np.testing.assert_array_equal(Xd, X[r0:r0 + m])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_and_row_masks_match_numpy(dtype):
    rng = np.random.RandomState(4)
    V, m = 150, 7
    cw = block_width(dtype)
    A = (rng.rand(m, V) < 0.25).astype(dtype)
    nk = -(-V // REGION)
    full = np.zeros((m, nk * REGION), dtype)
    full[:, :V] = A
    full[:, V:] = 1.0  # padding columns: not read
    P = np.ascontiguousarray(full.reshape(m, -1, cw).swapaxes(0, 1))
    expected = _masks_reference(A, nk)
    masks = np.zeros((nk, m), np.uint64)
    for k in range(nk):
        packed_masks(k, 0, m, P, V, masks)
    np.testing.assert_array_equal(masks, expected)
    masks[:] = 0
    for k in range(nk):
        row_masks(k, 0, 3, A, masks)
        row_masks(k, 3, m, A, masks)
    np.testing.assert_array_equal(masks, expected)


def _bits(words):
    """uint64 words -> bool matrix, bit t of word r at [r, t]."""
    return ((words[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)) == 1


def _words(bits):
    """The inverse of ``_bits``."""
    return (bits.astype(np.uint64) << np.arange(64, dtype=np.uint64)).sum(
        1, dtype=np.uint64)


@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_transpose_bits64_matches_numpy(density):
    bits = np.random.RandomState(0).rand(64, 64) < density
    a = _words(bits)
    transpose_bits64(a)
    np.testing.assert_array_equal(_bits(a), bits.T)


def test_mask_columns_matches_numpy():
    """Masks by rows (region k, rows < nrows) turned into masks over the rows, by
    feature; rows past nrows and words past them are 0, whatever the input holds."""
    rng = np.random.RandomState(1)
    n_regions, m = 3, 128
    masks = rng.randint(0, 2**63, (n_regions, m), dtype=np.int64).astype(np.uint64)
    for nrows in (1, 64, 100, 128):
        fm = np.full((n_regions * REGION, 2 * m // 64), 7, np.uint64)
        for k in range(n_regions):
            _mask_columns(masks, k, nrows, fm, 0)
            _mask_columns(masks, k, nrows // 2, fm, m // 64)
        for w0, n in ((0, nrows), (m // 64, nrows // 2)):
            for k in range(n_regions):
                bits = np.zeros((m, 64), bool)
                bits[:n] = _bits(masks[k, :n])
                want = np.stack([_words(bits[64 * w:64 * w + 64].T)
                                 for w in range(m // 64)], axis=1)
                np.testing.assert_array_equal(
                    fm[k * REGION:(k + 1) * REGION, w0:w0 + m // 64], want)
