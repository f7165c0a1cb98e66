"""The blocked BernoulliRBM kernel's building blocks against plain-numpy references
(the whole blocked epoch is compared with the numpy epoch in test_rbm.py)."""

import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit

from sknets.rbm._block_kernels import (
    REGION,
    block_acc,
    block_width,
    data_lists,
    pack_cols,
    pack_transposed,
    packed_lists,
    row_lists,
    transpose_block,
    unpack_cols,
)


@njit
def _block_acc_calls(C, B, idx, coef, rows, a0, a1):
    for t in range(rows.shape[0]):
        block_acc(C, rows[t], B, idx, coef, a0[t], a1[t])


@njit
def _transpose_calls(S, D, blocks):
    for t in range(blocks.shape[0]):
        sr, sc, dr, dc = blocks[t]
        transpose_block(S, sr, sc, D, dr, dc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_block_acc_matches_numpy(dtype, itype):
    rng = np.random.RandomState(0)
    cw = block_width(dtype)
    B = rng.randn(50, cw).astype(dtype)
    C = rng.randn(6, cw).astype(dtype)
    idx = rng.randint(0, 50, 200).astype(itype)
    coef = rng.randn(200).astype(dtype)
    rows = np.array([0, 3, 3, 5, 1])
    a0 = np.array([0, 10, 40, 7, 100])
    a1 = np.array([10, 40, 40, 107, 200])  # an empty range included
    expected = C.astype(np.float64)
    for r, s, e in zip(rows, a0, a1):
        for a in range(s, e):  # one entry after the other, as the kernel
            expected[r] += np.float64(coef[a]) * B[idx[a]]
    _block_acc_calls(C, B, idx, coef, rows, a0, a1)
    assert C.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_acc_adds_in_order(dtype):
    # fused multiply-adds one entry after the other: (1 + big) - big, not 1 + (big -
    # big), so the 1 is lost to rounding exactly as in the sequential loop
    cw = block_width(dtype)
    big = dtype(2.0 ** (24 if dtype == np.float32 else 53))
    B = np.ones((1, cw), dtype)
    C = np.ones((1, cw), dtype)
    idx = np.zeros(2, np.int64)
    _block_acc_calls(C, B, idx, np.array([big, -big], dtype), np.array([0]),
                     np.array([0]), np.array([2]))
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


def _region_reference(A, k):
    """Expected lists of region k of every row of the dense A."""
    out = []
    for row in A:
        nz = np.flatnonzero(row[k * REGION:(k + 1) * REGION]) + k * REGION
        out.append((nz, row[nz]))
    return out


def _check_region(idx, coef, cs, k, b0, b1, expected, fc, m):
    nq = cs.shape[2] - 1
    for b in range(b0, b1):
        start, end = cs[k, b, 0], cs[k, b, nq]
        assert (k * m + b0) * REGION <= start <= end <= (k * m + b1) * REGION
        np.testing.assert_array_equal(idx[start:end], expected[b][0])
        np.testing.assert_array_equal(coef[start:end], expected[b][1])
        feats = idx[start:end]
        for q in range(nq + 1):  # chunk q starts at the first feature >= its first
            first = k * REGION + q * fc
            assert cs[k, b, q] == start + np.searchsorted(feats, first)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_data_lists_match_numpy(dtype, sparse):
    rng = np.random.RandomState(3)
    V, m, fc = 150, 9, 128 // np.dtype(dtype).itemsize
    X = np.where(rng.rand(20, V) < 0.3, rng.rand(20, V), 0.0).astype(dtype)
    X[4] = 0.0  # an empty row
    X[5, REGION:2 * REGION] = 1.0  # a full region
    nk = -(-V // REGION)
    idx = np.zeros(nk * m * REGION, np.int64)
    coef = np.zeros(nk * m * REGION, dtype)
    cs = np.zeros((nk, m, REGION // fc + 1), np.int64)
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
            data_lists(k, b0, b1, r0, *args, V, fc, m, idx, coef, cs)
    for k in range(nk):
        expected = _region_reference(X[r0:r0 + m], k)
        _check_region(idx, coef, cs, k, 0, 4, expected, fc, m)
        _check_region(idx, coef, cs, k, 4, 9, expected, fc, m)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_and_row_lists_match_numpy(dtype):
    rng = np.random.RandomState(4)
    V, m, fc = 150, 7, 128 // np.dtype(dtype).itemsize
    cw = block_width(dtype)
    A = (rng.rand(m, V) < 0.25).astype(dtype)
    nk = -(-V // REGION)
    P = np.zeros((nk * REGION // cw, m + 2, cw), dtype)  # rows at offset 2
    full = np.zeros((m + 2, nk * REGION), dtype)
    full[2:, :V] = A
    P[:] = full.reshape(m + 2, -1, cw).swapaxes(0, 1)
    for fn in ("packed", "rows"):
        idx = np.zeros(nk * m * REGION, np.int64)
        coef = np.zeros(nk * m * REGION, dtype)
        cs = np.zeros((nk, m, REGION // fc + 1), np.int64)
        for k in range(nk):
            if fn == "packed":
                packed_lists(k, 0, m, 2, P, V, fc, m, idx, coef, cs)
            else:
                row_lists(k, 0, m, A, fc, m, idx, coef, cs)
        for k in range(nk):
            _check_region(idx, coef, cs, k, 0, m, _region_reference(A, k), fc, m)
