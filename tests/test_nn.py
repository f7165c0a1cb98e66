"""The layer library: finite-difference gradients, kernels vs numpy references,
optimizers vs their published update rules."""

import pickle

import numpy as np
import pytest

from sknets.nn import (
    SGD,
    Adagrad,
    Adam,
    Dense,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Momentum,
    Nesterov,
    ReLU,
    Reshape,
    RMSprop,
    Sequential,
    Sigmoid,
    Tanh,
    make_activation,
    make_optimizer,
    sigmoid_cross_entropy,
    softmax,
    softmax_cross_entropy,
)

# --------------------------------------------------------------------------- helpers


def numeric_grad(f, x, eps=1e-6):
    """Central finite differences of the scalar function f at x (x changed in place)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def check_layer_gradients(layer, input_shape, batch=3, seed=0, training=False,
                          x=None, rtol=1e-5, atol=1e-7):
    """Backward of ``layer`` (float64) against finite differences of
    sum(r * forward(x)), for the input and for every parameter."""
    rng = np.random.default_rng(seed)
    net = Sequential([layer]).build(input_shape, rng=rng, dtype=np.float64)
    if x is None:
        x = rng.normal(size=(batch,) + tuple(input_shape))
    out = net.forward(x, training)
    r = rng.normal(size=out.shape)

    def loss():
        return float(np.sum(r * net.forward(x, training)))

    net.forward(x, training)
    gx = net.backward(r.copy())
    grads = [g.copy() for _, g in net.parameters()]
    np.testing.assert_allclose(gx, numeric_grad(loss, x), rtol=rtol, atol=atol)
    for (p, _), g in zip(net.parameters(), grads):
        np.testing.assert_allclose(g, numeric_grad(loss, p), rtol=rtol, atol=atol)
    return net


# --------------------------------------------------------------------------- layers


def test_dense_backward_matches_finite_differences():
    net = check_layer_gradients(Dense(4), (5,))
    assert [p.shape for p, _ in net.parameters()] == [(5, 4), (4,)]


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "tanh", "logistic", "identity"])
def test_activation_backward_matches_finite_differences(name):
    # keep inputs away from the kink of relu/leaky relu at 0
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6))
    x[np.abs(x) < 1e-3] = 0.5
    check_layer_gradients(make_activation(name), (6,), x=x)


def test_leaky_relu_slope_and_values():
    layer = LeakyReLU(0.2)
    layer.build((3,), None, np.float64)
    y = layer.forward(np.array([[-1.0, 0.5, 2.0]]))
    np.testing.assert_allclose(y, [[-0.2, 0.5, 2.0]])


def test_activations_keep_float32_and_sigmoid_is_stable():
    x = np.array([[-1000.0, -1.0, 0.0, 1.0, 1000.0]], dtype=np.float32)
    for cls in (ReLU, LeakyReLU, Tanh, Sigmoid, Identity):
        layer = cls()
        layer.build((5,), None, np.float32)
        y = layer.forward(x)
        assert y.dtype == np.float32, cls
        assert np.all(np.isfinite(y))
        assert layer.backward(np.ones_like(x)).dtype == np.float32
    s = Sigmoid()
    np.testing.assert_allclose(s.forward(x), [[0.0, 1 / (1 + np.e), 0.5,
                                              1 / (1 + np.exp(-1)), 1.0]], rtol=1e-6)


def test_flatten_and_reshape_backward():
    check_layer_gradients(Flatten(), (2, 3, 3))
    check_layer_gradients(Reshape((2, 3)), (6,))


def test_dropout_training_mask_and_inference_identity():
    rng = np.random.default_rng(0)
    layer = Dropout(0.25)
    net = Sequential([layer]).build((200,), rng=rng, dtype=np.float64)
    x = rng.uniform(1, 2, size=(50, 200))
    np.testing.assert_array_equal(net.forward(x, training=False), x)
    y = net.forward(x, training=True)
    kept = y != 0
    # survivors are scaled by 1/(1-rate); about 75 % survive
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    assert 0.72 < kept.mean() < 0.78
    r = rng.normal(size=x.shape)
    np.testing.assert_allclose(net.backward(r), r * kept / 0.75)
    # the same seed gives the same mask
    rng2 = np.random.default_rng(0)
    net2 = Sequential([Dropout(0.25)]).build((200,), rng=rng2, dtype=np.float64)
    rng2.uniform(1, 2, size=(50, 200))
    np.testing.assert_array_equal(net2.forward(x, training=True) != 0, kept)


def test_sequential_backward_matches_finite_differences_and_returns_input_grad():
    rng = np.random.default_rng(3)
    net = Sequential([Dense(6), Tanh(), Dense(5), LeakyReLU(0.2), Dense(3)])
    net.build((4,), rng=rng, dtype=np.float64)
    x = rng.normal(size=(5, 4))
    y = np.array([0, 2, 1, 1, 0])

    def loss():
        return softmax_cross_entropy(net.forward(x), y)[0]

    _, g = softmax_cross_entropy(net.forward(x, training=True), y)
    gx = net.backward(g)
    analytic = net.flat_grads.copy()
    np.testing.assert_allclose(gx, numeric_grad(loss, x), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(analytic, numeric_grad(loss, net.flat_params),
                               rtol=1e-5, atol=1e-8)
    # per-layer pairs are views of the flat vectors
    p0, g0 = net.parameters()[0]
    assert np.shares_memory(p0, net.flat_params)
    assert np.shares_memory(g0, net.flat_grads)
    assert net.n_params() == 4 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3


def test_sequential_pickle_keeps_views():
    net = Sequential([Dense(3), ReLU(), Dense(2)]).build((4,), rng=0)
    x = np.ones((2, 4), dtype=np.float32)
    before = net.forward(x)
    net2 = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(net2.forward(x), before)
    net2.flat_params[:] = 0
    np.testing.assert_array_equal(net2.forward(x), 0)
    assert np.any(net.forward(x) != 0)


def test_float32_network_stays_float32():
    net = Sequential([Dense(8), ReLU(), Dense(3)]).build((5,), rng=0)
    x = np.ones((4, 5), dtype=np.float32)
    out = net.forward(x, training=True)
    assert out.dtype == np.float32
    _, g = softmax_cross_entropy(out, np.array([0, 1, 2, 0]))
    assert g.dtype == np.float32
    assert net.backward(g).dtype == np.float32
    assert net.flat_grads.dtype == np.float32


# --------------------------------------------------------------------------- losses


def test_softmax_cross_entropy_value_gradient_and_stability():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    loss, g = softmax_cross_entropy(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), y])))
    np.testing.assert_allclose(g, numeric_grad(
        lambda: softmax_cross_entropy(logits, y)[0], logits), rtol=1e-6, atol=1e-9)
    # one-hot targets give the same, soft targets are supported
    onehot = np.eye(3)[y]
    loss2, g2 = softmax_cross_entropy(logits, onehot)
    assert loss2 == pytest.approx(loss)
    np.testing.assert_allclose(g2, g)
    # huge logits: finite loss, finite gradient
    big = np.array([[1000.0, -1000.0, 0.0]], dtype=np.float32)
    lb, gb = softmax_cross_entropy(big, np.array([1]))
    assert np.isfinite(lb) and lb == pytest.approx(2000.0)
    assert np.all(np.isfinite(gb)) and gb.dtype == np.float32
    np.testing.assert_allclose(softmax(big).sum(axis=1), 1.0, rtol=1e-6)


def test_sigmoid_cross_entropy_value_gradient_and_stability():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 2))
    t = rng.uniform(size=(5, 2))
    loss, g = sigmoid_cross_entropy(logits, t)
    s = 1 / (1 + np.exp(-logits))
    assert loss == pytest.approx(-np.mean(t * np.log(s) + (1 - t) * np.log(1 - s)))
    np.testing.assert_allclose(g, numeric_grad(
        lambda: sigmoid_cross_entropy(logits, t)[0], logits), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g, (s - t) / logits.size)
    big = np.array([[800.0], [-800.0]], dtype=np.float32)
    lb, gb = sigmoid_cross_entropy(big, np.array([[0.0], [1.0]], dtype=np.float32))
    assert lb == pytest.approx(800.0)
    assert np.all(np.isfinite(gb)) and gb.dtype == np.float32
    # scalar target
    l1, _ = sigmoid_cross_entropy(logits, 1.0)
    assert l1 == pytest.approx(np.mean(np.log1p(np.exp(-logits))))


# --------------------------------------------------------------------------- optimizers

A = np.array([[1.0, 3.0], [0.5, 2.0]])  # quadratic f(p) = 0.5 * sum(A * p**2)


def _reference_run(rule, steps, lr, **kw):
    """The papers' update rules, written out independently, on the quadratic."""
    p = np.array([[1.0, -2.0], [0.5, 3.0]])
    v = np.zeros_like(p)
    s = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = A * p + kw.get("wd", 0.0) * p
        if rule == "sgd":
            p = p - lr * g
        elif rule == "momentum":
            v = kw["mu"] * v - lr * g
            p = p + v
        elif rule == "nesterov":
            v = kw["mu"] * v - lr * g
            p = p + kw["mu"] * v - lr * g
        elif rule == "adam":
            b1, b2, eps = 0.9, 0.999, 1e-8
            v = b1 * v + (1 - b1) * g
            s = b2 * s + (1 - b2) * g ** 2
            mhat, shat = v / (1 - b1 ** t), s / (1 - b2 ** t)
            p = p - lr * mhat / (np.sqrt(shat) + eps)
        elif rule == "rmsprop":
            s = 0.9 * s + 0.1 * g ** 2
            p = p - lr * g / (np.sqrt(s) + 1e-8)
        elif rule == "adagrad":
            s = s + g ** 2
            p = p - lr * g / (np.sqrt(s) + 1e-8)
    return p


@pytest.mark.parametrize("rule,cls,kw", [
    ("sgd", SGD, {}),
    ("momentum", Momentum, {"momentum": 0.9}),
    ("nesterov", Nesterov, {"momentum": 0.9}),
    ("adam", Adam, {}),
    ("rmsprop", RMSprop, {}),
    ("adagrad", Adagrad, {}),
])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_optimizer_matches_published_rule_on_quadratic(rule, cls, kw, wd):
    p = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = np.zeros_like(p)
    opt = cls([(p, g)], learning_rate=0.05, weight_decay=wd, **kw)
    f0 = 0.5 * np.sum(A * p ** 2)
    for _ in range(40):
        g[...] = A * p   # the loss gradient; the optimizer adds the L2 term
        opt.step()
    assert opt.t == 40
    ref = _reference_run(rule, 40, 0.05, mu=kw.get("momentum"), wd=wd)
    np.testing.assert_allclose(p, ref, rtol=1e-10, atol=1e-12)
    assert 0.5 * np.sum(A * p ** 2) < f0  # it descends


def test_optimizer_decay_mask_and_flat_pair():
    net = Sequential([Dense(3), Dense(2)]).build((4,), rng=0, dtype=np.float64)
    # no gradient: only the L2 term moves the weights, never the biases
    for _, g in net.parameters():
        g[...] = 0
    for layer in net.layers:
        layer.params[1][...] = 1.0
    w_before = [layer.params[0].copy() for layer in net.layers]
    opt = SGD(net.flat_parameters(), learning_rate=0.1, weight_decay=0.5,
              decay_mask=net.flat_decay_mask())
    opt.step()
    for layer, w0 in zip(net.layers, w_before):
        np.testing.assert_allclose(layer.params[0], w0 * (1 - 0.05))
        np.testing.assert_array_equal(layer.params[1], 1.0)
    # per-layer pairs: default mask decays ndim >= 2 only
    opt2 = SGD(net.parameters(), learning_rate=0.1, weight_decay=0.5)
    assert opt2.decay_mask == [True, False, True, False]


def test_make_optimizer_names():
    p, g = np.ones(3), np.ones(3)
    for name in ["sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"]:
        opt = make_optimizer(name, [(p, g)], learning_rate=0.1)
        opt.step()
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("lbfgs", [(p, g)])
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("swish")


# ------------------------------------------------------------------------ image layers

from sknets.nn import AvgPool2D, BatchNorm, Conv2D, MaxPool2D  # noqa: E402
import numba  # noqa: E402

from sknets.nn import _kernels  # noqa: E402
from tests.references import nn_conv as ref_conv  # noqa: E402


def ref_conv2d(x, W, b, stride, pad):
    return ref_conv.conv2d(x, W, b, stride, pad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,stride,pad", [(3, 1, 1), (5, 1, 2), (3, 2, 0), (2, 2, 1)])
def test_im2col_col2im_kernels_match_numpy_reference(dtype, k, stride, pad):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, 7, 6)).astype(dtype)
    oh = (7 + 2 * pad - k) // stride + 1
    ow = (6 + 2 * pad - k) // stride + 1
    cols = np.empty((2 * k * k, 3 * oh * ow), dtype=dtype)
    _kernels.im2col(x, k, k, stride, pad, oh, ow, cols)
    np.testing.assert_array_equal(cols, ref_conv.im2col(x, k, stride, pad))
    # col2im is the adjoint of im2col and matches the numpy scatter-add
    d = rng.normal(size=cols.shape).astype(dtype)
    dx = np.empty_like(x)
    _kernels.col2im(d, k, k, stride, pad, oh, ow, dx)
    assert dx.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dx, ref_conv.col2im(d, x.shape, k, stride, pad),
                               rtol=tol, atol=tol)
    assert np.sum(cols * d) == pytest.approx(np.sum(x * dx), rel=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_kernels_match_numpy_reference(dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 7, 8)).astype(dtype)
    for k, s in [(2, 2), (3, 2), (2, 1)]:
        oh, ow = (7 - k) // s + 1, (8 - k) // s + 1
        out = np.empty((2, 3, oh, ow), dtype=dtype)
        am = np.empty((2, 3, oh, ow), dtype=np.int32)
        _kernels.maxpool_forward(x, k, s, out, am)
        ref_out, ref_dx_of = ref_conv.maxpool(x, k, s)
        np.testing.assert_array_equal(out, ref_out)
        g = rng.normal(size=out.shape).astype(dtype)
        dx = np.empty_like(x)
        dx[...] = np.nan  # every entry must be written
        _kernels.maxpool_backward(g, am, dx)
        np.testing.assert_allclose(dx, ref_dx_of(g), rtol=1e-5, atol=1e-6)
        _kernels.avgpool_forward(x, k, s, out)
        np.testing.assert_allclose(out, ref_conv.avgpool(x, k, s), rtol=1e-5, atol=1e-6)
        assert out.dtype == dtype
        dx[...] = np.nan
        _kernels.avgpool_backward(g, k, s, dx)
        np.testing.assert_allclose(dx, ref_conv.avgpool_backward(g, x.shape, k, s),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows,n_taps,n_pos", [(4, 4, 7), (6, 8, 1100), (3, 12, 2050),
                                                 (9, 4, 513)])
def test_shifted_gemm_kernels_match_numpy_reference(dtype, n_rows, n_taps, n_pos):
    # rows not a multiple of 4 take the 1 x 4 tiles; positions past one chunk
    rng = np.random.default_rng(7)
    src = rng.normal(size=n_pos + 40).astype(dtype)
    offs = rng.integers(0, 40, size=n_taps).astype(np.int64)
    coef = rng.normal(size=(n_rows, n_taps)).astype(dtype)
    out = np.full((n_rows, n_pos + 3), np.nan, dtype=dtype)
    _kernels.shifted_gemm(coef, src, offs, n_pos, out)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out[:, :n_pos],
                               ref_conv.shifted_gemm(coef, src, offs, n_pos),
                               rtol=tol, atol=tol)
    g = rng.normal(size=(n_rows, n_pos + 5)).astype(dtype)
    acc = np.ones((n_rows, n_taps), dtype=dtype)  # the kernel adds to its output
    _kernels.shifted_gemm_t(g, 5, src, offs, n_pos, acc)
    expected = 1 + ref_conv.shifted_gemm_t(g, 5, src, offs, n_pos)
    np.testing.assert_allclose(acc, expected, rtol=10 * tol,
                               atol=10 * tol * np.sqrt(n_pos))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c,hw,f,k,stride,padding", [
    (3, 2, (7, 6), 5, 3, 1, "same"), (5, 3, (8, 8), 4, 3, 2, 1),
    (2, 1, (5, 6), 3, 2, 1, "valid"), (37, 1, (12, 12), 6, 5, 1, 2),
    (9, 8, (6, 6), 6, 1, 2, 0), (1, 3, (4, 4), 7, 3, 1, 1),
    (4, 2, (9, 7), 3, 3, 3, 1), (3, 2, (9, 9), 3, 2, 3, 1),
    (2, 3, (9, 8), 4, 5, 2, 2)])
@pytest.mark.parametrize("relu", [None, "relu"])
def test_conv_kernels_match_numpy_reference(dtype, n, c, hw, f, k, stride, padding,
                                             relu):
    # conv_forward / conv_backward through the layer that lays out their blocks: many
    # samples give several blocks per batch (the block sums of dW and db), one sample
    # a single block; strides 2 and 3 (phase planes), a kernel smaller than the stride
    # (phases no tap reads)
    layer = Conv2D(f, k, stride=stride, padding=padding, activation=relu)
    Sequential([layer]).build((c,) + hw, rng=0, dtype=dtype)
    rng = np.random.default_rng(8)
    layer.params[1][...] = rng.normal(size=f)
    x = rng.normal(size=(n, c) + hw).astype(dtype)
    y = layer.forward(x, training=True)
    x64, W64 = x.astype(np.float64), layer.W.astype(np.float64)
    expected = ref_conv.conv2d(x64, W64, layer.b.astype(np.float64), stride, layer.pad)
    if relu:
        expected = np.maximum(expected, 0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=tol, atol=tol)
    g = rng.normal(size=y.shape).astype(dtype)
    dx = layer.backward(g)
    gm = g * (expected > 0) if relu else g
    dW, db, r_dx = ref_conv.conv2d_backward(x64, W64, gm, stride, layer.pad)
    assert dx.dtype == dtype and layer.grads[0].dtype == dtype
    np.testing.assert_allclose(layer.grads[0], dW, rtol=tol,
                               atol=tol * np.abs(dW).max())
    np.testing.assert_allclose(layer.grads[1], db, rtol=tol,
                               atol=tol * np.abs(db).max())
    np.testing.assert_allclose(dx, r_dx, rtol=tol, atol=tol * np.abs(r_dx).max())
    # the results do not depend on the number of threads (blocks summed in order)
    grads = [gr.copy() for gr in layer.grads]
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        y1 = layer.forward(x, training=True)
        dx1 = layer.backward(g)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(y1, y)
    np.testing.assert_array_equal(dx1, dx)
    for a, b in zip(layer.grads, grads):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("k,stride,padding",
                         [(3, 1, "same"), (3, 2, 1), (2, 1, "valid")])
def test_conv2d_forward_matches_reference_and_backward_finite_differences(k, stride,
                                                                          padding):
    net = check_layer_gradients(Conv2D(3, k, stride=stride, padding=padding), (2, 5, 6),
                                batch=2)
    layer = net.layers[0]
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 2, 5, 6))
    ref = ref_conv2d(x, layer.W, layer.b, stride, layer.pad)
    np.testing.assert_allclose(layer.forward(x), ref, rtol=1e-10, atol=1e-12)


def test_conv2d_float32_and_skipped_input_gradient():
    net = Sequential([Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(3)])
    net.build((1, 8, 8), rng=0)
    assert net.output_shape == (3,)
    x = np.random.default_rng(0).normal(size=(5, 1, 8, 8)).astype(np.float32)
    out = net.forward(x, training=True)
    assert out.dtype == np.float32
    gx = net.backward(np.ones_like(out))
    assert gx.dtype == np.float32 and gx.shape == x.shape
    grads = net.flat_grads.copy()
    net.layers[0].input_grad = False
    net.forward(x, training=True)
    assert net.backward(np.ones_like(out)) is None
    np.testing.assert_allclose(net.flat_grads, grads, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", [MaxPool2D(2), AvgPool2D(2), MaxPool2D(3, stride=2),
                                   AvgPool2D(2, stride=1)])
def test_pool_backward_matches_finite_differences(layer):
    # distinct values so that the max is unique and stable under the FD step
    rng = np.random.default_rng(2)
    x = rng.permutation(2 * 2 * 6 * 7).reshape(2, 2, 6, 7) * 0.01
    check_layer_gradients(layer, (2, 6, 7), x=x.astype(np.float64))


@pytest.mark.parametrize("shape", [(4,), (3, 4, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_backward_matches_finite_differences(shape, training):
    layer = BatchNorm()
    rng = np.random.default_rng(3)
    net = Sequential([layer]).build(shape, rng=rng, dtype=np.float64)
    layer.params[0][...] = rng.uniform(0.5, 1.5, size=layer.params[0].shape)
    layer.params[1][...] = rng.normal(size=layer.params[1].shape)
    layer.running_mean[...] = 0.3
    layer.running_var[...] = 2.0
    x = rng.normal(size=(6,) + shape) * 2 + 1
    r = rng.normal(size=x.shape)

    def loss():
        return float(np.sum(r * net.forward(x, training)))

    net.forward(x, training)
    gx = net.backward(r)
    grads = net.flat_grads.copy()
    np.testing.assert_allclose(gx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads, numeric_grad(loss, net.flat_params), rtol=1e-5,
                               atol=1e-7)


def test_batchnorm_statistics():
    layer = BatchNorm(momentum=0.5)
    net = Sequential([layer]).build((2, 3, 3), rng=0, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(8, 2, 3, 3)) * 3 + 2
    y = net.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    np.testing.assert_allclose(layer.running_mean, 0.5 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(layer.running_var,
                               0.5 + 0.5 * x.var(axis=(0, 2, 3), ddof=1))
    y_inf = net.forward(x, training=False)
    np.testing.assert_allclose(
        y_inf, (x - layer.running_mean[None, :, None, None])
        / np.sqrt(layer.running_var[None, :, None, None] + 1e-5))


def test_conv2d_fused_relu_matches_conv_then_relu():
    x = np.random.default_rng(6).normal(size=(2, 2, 5, 5))
    fused = check_layer_gradients(Conv2D(3, 3, activation="relu"), (2, 5, 5), x=x)
    plain = Sequential([Conv2D(3, 3), ReLU()]).build((2, 5, 5), rng=0, dtype=np.float64)
    plain.flat_params[:] = fused.flat_params
    np.testing.assert_allclose(fused.forward(x), plain.forward(x), rtol=1e-12)


def test_upsample2d_forward_and_finite_differences():
    from sknets.nn import Upsample2D

    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    layer = Upsample2D(2)
    Sequential([layer]).build((3, 2, 2), rng=0, dtype=np.float64)
    y = layer.forward(x)
    assert y.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(y, np.repeat(np.repeat(x, 2, axis=2), 2, axis=3))
    check_layer_gradients(Upsample2D(3), (2, 2, 3))
    # a small generator head: dense -> reshape -> upsample -> conv, gradient to input
    net = Sequential([Dense(2 * 2 * 2), Reshape((2, 2, 2)), Upsample2D(2),
                      Conv2D(1, 3), Tanh()])
    net.build((3,), rng=0, dtype=np.float64)
    z = np.random.default_rng(0).normal(size=(4, 3))
    r = np.random.default_rng(1).normal(size=(4, 1, 4, 4))
    net.forward(z)
    gz = net.backward(r)
    expected = numeric_grad(lambda: float(np.sum(r * net.forward(z))), z)
    np.testing.assert_allclose(gz, expected, rtol=1e-5, atol=1e-8)
