"""The residual-network and upsampling layers of sknets.nn: forward against the numpy
references of tests/references/nn_layers.py, backward by finite differences (float64),
float32 kept float32, pickling of a built Sequential, multi-channel (RGB) input."""

import pickle

import numpy as np
import pytest

from sknets.nn import (
    Adam,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    ReLU,
    ResidualBlock,
    Resize2D,
    Sequential,
    Upsample2D,
    softmax_cross_entropy,
)
from sknets.nn import _norm_kernels, _upsample_kernels
from sknets.nn.architectures import small_resnet
from sknets.nn.layers import iter_layers
from tests.references import nn_layers as ref
from tests.test_nn import check_layer_gradients, numeric_grad


def _built(layers, input_shape, dtype=np.float64, seed=0):
    return Sequential(layers).build(input_shape, rng=np.random.default_rng(seed),
                                    dtype=dtype)


def _randomize_batchnorms(net, rng):
    """Non-trivial gamma, beta and running statistics in every BatchNorm of ``net``."""
    for layer in iter_layers(net.layers):
        if isinstance(layer, BatchNorm):
            layer.params[0][...] = rng.uniform(0.5, 1.5, size=layer.params[0].shape)
            layer.params[1][...] = rng.normal(size=layer.params[1].shape) * 0.3
            layer.running_mean[...] = rng.normal(size=layer.running_mean.shape) * 0.2
            layer.running_var[...] = rng.uniform(0.5, 2.0, size=layer.running_var.shape)


def _gradient_check(net, x, training, rtol=1e-5, atol=1e-7):
    """Input and flat parameter gradients of sum(r * net(x)) against central
    differences; returns the largest relative error seen (for the record)."""
    rng = np.random.default_rng(11)
    r = rng.normal(size=net.forward(x, training).shape)

    def loss():
        return float(np.sum(r * net.forward(x, training)))

    net.forward(x, training)
    gx = net.backward(r.copy())
    grads = net.flat_grads.copy()
    for analytic, numeric in ((gx, numeric_grad(loss, x)),
                              (grads, numeric_grad(loss, net.flat_params))):
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


def _assert_pickle_keeps_views(net, x):
    before = net.forward(x)
    net2 = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(net2.forward(x), before)
    for layer in iter_layers(net2.layers):
        for p, g in zip(layer.params, layer.grads):
            assert np.shares_memory(p, net2.flat_params)
            assert np.shares_memory(g, net2.flat_grads)
    net2.flat_params[:] = 0
    assert not np.allclose(net2.forward(x), before)
    np.testing.assert_array_equal(net.forward(x), before)


def _assert_float32(net, x):
    out = net.forward(x.astype(np.float32), training=True)
    assert out.dtype == np.float32
    gx = net.backward(np.ones_like(out))
    assert gx.dtype == np.float32
    assert net.flat_grads.dtype == np.float32
    assert all(g.dtype == np.float32 for _, g in net.parameters())


# ------------------------------------------------------------------- composite layers


@pytest.mark.parametrize("c, filters, stride", [(3, 3, 1), (2, 4, 2), (3, 2, 1)])
@pytest.mark.parametrize("training", [True, False])
def test_residual_block_forward_and_finite_differences(c, filters, stride, training):
    rng = np.random.default_rng(0)
    block = ResidualBlock(filters, stride=stride)
    net = _built([block], (c, 5, 5))
    _randomize_batchnorms(net, rng)
    assert block.project == (c != filters or stride != 1)
    assert len(block.params) == (12 if block.project else 8)
    x = rng.normal(size=(3, c, 5, 5))
    running = [(bn.running_mean.copy(), bn.running_var.copy())
               for bn in block.sublayers if isinstance(bn, BatchNorm)]
    expected = ref.residual_block(x, [p.copy() for p in block.params], stride,
                                  training, running)
    np.testing.assert_allclose(net.forward(x, training), expected, rtol=1e-10,
                               atol=1e-12)
    _gradient_check(net, x, training)


def test_composite_params_are_the_sublayers_views():
    net = _built([Conv2D(4, 3), ResidualBlock(4), ResidualBlock(6, stride=2),
                  GlobalAvgPool2D(), Dense(3)], (2, 6, 6))
    block = net.layers[2]
    assert [p.shape for p in block.params] == [
        (6, 4, 3, 3), (6,), (6,), (6,), (6, 6, 3, 3), (6,), (6,), (6,),
        (6, 4, 1, 1), (6,), (6,), (6,)]
    # each sub-layer computes with views of the flat vectors, in order, without gaps
    views = [p for layer in iter_layers(net.layers) if not layer.sublayers
             for p in layer.params]
    assert sum(p.size for p in views) == net.n_params()
    offset = 0
    for p in views:
        assert np.shares_memory(p, net.flat_params)
        assert p.__array_interface__["data"][0] == (
            net.flat_params.__array_interface__["data"][0] + offset * 8)
        offset += p.size
    assert block.conv1.params[0] is block.params[0]
    x = np.random.default_rng(1).normal(size=(2, 2, 6, 6))
    before = net.forward(x)
    block.conv2.params[0][...] = 0      # through the view: the flat vector changes
    assert not np.allclose(net.forward(x), before)
    assert len(block.param_names) == 12 and block.param_names[0] == "0.W"
    _assert_pickle_keeps_views(net, x)


def test_residual_block_float32_astype_and_pickle():
    net = _built([ResidualBlock(4, stride=2), GlobalAvgPool2D()], (3, 6, 6),
                 dtype=np.float32)
    x = np.random.default_rng(2).normal(size=(4, 3, 6, 6)).astype(np.float32)
    _assert_float32(net, x)
    bn = net.layers[0].bn_s
    assert bn.running_mean.dtype == np.float32
    _assert_pickle_keeps_views(net, x)
    net64 = net.astype(np.float64)
    assert net64.layers[0].bn_s.running_var.dtype == np.float64
    assert all(p.dtype == np.float64 for p in net64.layers[0].params)
    np.testing.assert_allclose(net64.forward(x.astype(np.float64)), net.forward(x),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net64.layers[0].bn_s.running_mean, bn.running_mean,
                               rtol=1e-6)


def test_residual_block_buffers_in_network_state():
    net = _built([ResidualBlock(4, stride=2)], (3, 5, 5))
    block = net.layers[0]
    assert len(block.buffers()) == 6    # running mean and variance of 3 batch norms
    assert block.buffers()[0] is block.bn1.running_mean
    x = np.random.default_rng(3).normal(size=(4, 3, 5, 5))
    state = net.get_state()
    before = net.forward(x)
    net.forward(x * 3 + 1, training=True)
    assert not np.allclose(net.forward(x), before)     # running statistics moved
    net.set_state(state)
    np.testing.assert_array_equal(net.forward(x), before)
    block.bn_s.running_var[0] = np.nan
    assert not net.is_finite()


def test_residual_block_rejects_bad_input():
    with pytest.raises(ValueError, match="stride"):
        ResidualBlock(4, stride=0)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        _built([ResidualBlock(4)], (6,))


def test_global_avg_pool_forward_finite_differences_float32_pickle():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4, 3, 5))
    net = _built([GlobalAvgPool2D()], (4, 3, 5))
    assert net.output_shape == (4,)
    np.testing.assert_allclose(net.forward(x), ref.global_avg_pool(x), rtol=1e-12)
    check_layer_gradients(GlobalAvgPool2D(), (4, 3, 5))
    net32 = _built([Conv2D(2, 3), GlobalAvgPool2D(), Dense(2)], (4, 3, 5), np.float32)
    _assert_float32(net32, x)
    _assert_pickle_keeps_views(net32, x.astype(np.float32))


# ------------------------------------------------------------------------- batch norm


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_batchnorm_conv_maps_per_channel_against_reference(dtype, rtol):
    """Training forward, running statistics over several steps, inference forward."""
    rng = np.random.default_rng(4)
    layer = BatchNorm(momentum=0.2)
    net = _built([layer], (3, 4, 5), dtype=dtype)
    gamma = rng.uniform(0.5, 1.5, size=3)
    beta = rng.normal(size=3)
    layer.params[0][...] = gamma
    layer.params[1][...] = beta
    run_mean, run_var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = (rng.normal(size=(6, 3, 4, 5)) * [[[[1]], [[3]], [[0.5]]]]
             + [[[[2]], [[-1]], [[0]]]]).astype(dtype)
        y = net.forward(x, training=True)
        assert y.dtype == dtype
        expected, mean, var = ref.batchnorm_train(x.astype(np.float64), gamma, beta)
        np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol)
        m = x.size // 3
        run_mean = 0.8 * run_mean + 0.2 * mean
        run_var = 0.8 * run_var + 0.2 * var * m / (m - 1)
        np.testing.assert_allclose(layer.running_mean, run_mean, rtol=rtol)
        np.testing.assert_allclose(layer.running_var, run_var, rtol=rtol)
        assert layer.running_mean.dtype == dtype
    y_inf = net.forward(x, training=False)
    np.testing.assert_allclose(
        y_inf,
        ref.batchnorm_infer(x.astype(np.float64), gamma, beta, run_mean, run_var),
        rtol=rtol, atol=rtol)
    # inference leaves the statistics alone
    np.testing.assert_allclose(layer.running_mean, run_mean, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 3, 5, 4), (9, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_kernels_match_reference(dtype, shape, training):
    rng = np.random.default_rng(13)
    c = shape[1]
    # a large mean against a small spread: float32 must centre before it scales
    x64 = rng.normal(size=shape) * 0.01 + 100.0
    x = x64.astype(dtype)
    x3 = x.reshape(shape[0], c, -1)
    gamma = rng.uniform(0.5, 1.5, size=c)
    beta = rng.normal(size=c)
    g = rng.normal(size=shape).astype(dtype)
    mean, var = np.empty(c), np.empty(c)
    _norm_kernels.batchnorm_stats(x3, mean, var)
    axes = (0,) + tuple(range(2, x.ndim))
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=axes), rtol=1e-13)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=axes), rtol=1e-10)
    if not training:
        mean, var = mean + 0.001, var * 1.3
    inv_std = 1 / np.sqrt(var + 1e-5)
    out = np.empty_like(x3)
    _norm_kernels.batchnorm_apply(x3, mean.astype(dtype),
                                  (gamma * inv_std).astype(dtype),
                                  beta.astype(dtype), out)
    x_ref = x.astype(np.float64)
    expected = (ref.batchnorm_train(x_ref, gamma, beta)[0] if training else
                ref.batchnorm_infer(x_ref, gamma, beta, mean, var))
    tol = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(out.reshape(shape), expected, rtol=tol, atol=tol)
    dx = np.empty_like(x3)
    dgamma, dbeta = np.empty(c, dtype=dtype), np.empty(c, dtype=dtype)
    _norm_kernels.batchnorm_backward(x3, g.reshape(x3.shape), mean, inv_std,
                                     gamma.astype(dtype), training, dx, dgamma, dbeta)
    r_dx, r_dgamma, r_dbeta = ref.batchnorm_backward(
        x_ref, g.astype(np.float64), gamma, training=training, running=(mean, var))
    scale = np.abs(r_dx).max()
    np.testing.assert_allclose(dx.reshape(shape), r_dx, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(dgamma, r_dgamma, rtol=tol, atol=tol)
    np.testing.assert_allclose(dbeta, r_dbeta, rtol=1e-5 if dtype == np.float32
                               else 1e-12, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_conv_maps_finite_differences(training):
    rng = np.random.default_rng(5)
    net = _built([BatchNorm()], (3, 3, 4))
    _randomize_batchnorms(net, rng)
    _gradient_check(net, rng.normal(size=(4, 3, 3, 4)) * 2 + 1, training)


# ----------------------------------------------------------------- RGB (multi-channel)


def _rgb_patches(n, size=32, seed=0):
    from sklearn.datasets import load_sample_image
    from sklearn.feature_extraction.image import extract_patches_2d

    image = load_sample_image("china.jpg")
    patches = extract_patches_2d(image, (size, size), max_patches=n, random_state=seed)
    return np.ascontiguousarray(patches.transpose(0, 3, 1, 2)) / 255.0


def test_multichannel_rgb_patches_conv_pool_batchnorm():
    x = _rgb_patches(6)
    assert x.shape == (6, 3, 32, 32)
    net = _built([Conv2D(5, 3), BatchNorm(), ReLU(), MaxPool2D(2), AvgPool2D(2)],
                 (3, 32, 32))
    conv = net.layers[0]
    y = conv.forward(x)
    np.testing.assert_allclose(y, ref.conv2d(x, conv.params[0], conv.params[1], 1, 1),
                               rtol=1e-10, atol=1e-12)
    # a channel that only sees red (the others' weights zero) matches the red-only image
    conv.params[0][0, 1:] = 0
    x_red = x.copy()
    x_red[:, 1:] = 0
    np.testing.assert_allclose(conv.forward(x)[:, 0], conv.forward(x_red)[:, 0],
                               rtol=1e-12)
    out = net.forward(x, training=True)
    assert out.shape == (6, 5, 8, 8)
    bn = net.layers[1]
    h = conv.forward(x)
    bn_out = bn.forward(h, training=True)
    np.testing.assert_allclose(bn_out, ref.batchnorm_train(h, *bn.params)[0],
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn_out.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    var = h.var(axis=(0, 2, 3))
    np.testing.assert_allclose(bn_out.var(axis=(0, 2, 3)), var / (var + 1e-5),
                               rtol=1e-10)
    # finite differences on a small RGB crop through conv, batch norm and pooling
    small = _built([Conv2D(2, 3), BatchNorm(), AvgPool2D(2), Flatten(), Dense(2)],
                   (3, 6, 6))
    _gradient_check(small, x[:3, :, 10:16, 10:16].copy(), training=True)
    net32 = _built([Conv2D(4, 3), BatchNorm(), ReLU(), MaxPool2D(2),
                    ResidualBlock(8, stride=2), GlobalAvgPool2D(), Dense(3)],
                   (3, 32, 32), np.float32)
    _assert_float32(net32, x)


# ------------------------------------------------------------------------- upsampling


def test_upsample_nearest_forward_finite_differences_float32_pickle():
    x = np.random.default_rng(6).normal(size=(2, 3, 2, 3))
    net = _built([Upsample2D(3)], (3, 2, 3))
    assert net.output_shape == (3, 6, 9)
    np.testing.assert_array_equal(net.forward(x), ref.upsample_nearest(x, 3))
    check_layer_gradients(Upsample2D(2), (3, 2, 3))
    net32 = _built([Upsample2D(2), Conv2D(2, 3)], (3, 2, 3), np.float32)
    _assert_float32(net32, x)
    _assert_pickle_keeps_views(net32, x.astype(np.float32))
    assert Upsample2D(scale_factor=4).scale_factor == 4
    with pytest.raises(ValueError, match="positive int"):
        Upsample2D(1.5)


# sizes/scales where torch's two ratio conventions (1 / scale_factor and in / out)
# differ
RESIZES = [dict(scale_factor=2), dict(scale_factor=1.5), dict(scale_factor=(0.5, 3)),
           dict(size=(7, 4)), dict(size=3), dict(scale_factor=0.6)]


@pytest.mark.parametrize("kw", RESIZES)
def test_resize_bilinear_forward_matches_reference(kw):
    rng = np.random.default_rng(7)
    h, w = 5, 6
    layer = Resize2D(**kw)
    c, oh, ow = _built([layer], (2, h, w)).output_shape
    if "size" in kw:
        size = kw["size"] if np.ndim(kw["size"]) else (kw["size"],) * 2
        assert (oh, ow) == size
        ratios = (h / oh, w / ow)
    else:
        sh, sw = (kw["scale_factor"],) * 2 if np.ndim(kw["scale_factor"]) == 0 \
            else kw["scale_factor"]
        assert (oh, ow) == (int(h * sh), int(w * sw))
        ratios = (1 / sh, 1 / sw)
    x = rng.normal(size=(3, 2, h, w))
    expected = ref.resize_bilinear(x, oh, ow, *ratios)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-14)
    # the same map as the separable matrices
    A_h, A_w = ref.resize_matrix(h, oh, ratios[0]), ref.resize_matrix(w, ow, ratios[1])
    np.testing.assert_allclose(expected, A_h @ x @ A_w.T, rtol=1e-12, atol=1e-14)
    # backward is the exact transpose: A_h^T g A_w
    g = rng.normal(size=(3, 2, oh, ow))
    np.testing.assert_allclose(layer.backward(g), A_h.T @ g @ A_w, rtol=1e-12,
                               atol=1e-13)
    assert np.isclose(np.sum(layer.forward(x) * g), np.sum(x * layer.backward(g)),
                      rtol=1e-12)


def test_resize_bilinear_known_values_and_finite_differences():
    # torch.nn.functional.interpolate([[1, 2]], scale_factor=2, mode="bilinear",
    # align_corners=False) gives [1, 1.25, 1.75, 2] on each of 2 rows
    layer = Resize2D(scale_factor=2)
    layer.build((1, 1, 2), None, np.float64)
    np.testing.assert_allclose(layer.forward(np.array([[[[1.0, 2.0]]]])),
                               [[[[1, 1.25, 1.75, 2]] * 2]])
    # downsampling by 2 averages 2 x 2 blocks when the sizes divide
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    layer = Resize2D(scale_factor=0.5)
    layer.build((1, 4, 4), None, np.float64)
    np.testing.assert_allclose(layer.forward(x), [[[[2.5, 4.5], [10.5, 12.5]]]])
    for kw in (dict(scale_factor=2), dict(size=(5, 3)), dict(scale_factor=(1.5, 0.7))):
        check_layer_gradients(Resize2D(**kw), (2, 4, 3))


def test_resize_float32_pickle_and_bad_arguments():
    x = np.random.default_rng(8).normal(size=(2, 3, 4, 4))
    net = _built([Resize2D(scale_factor=2), Conv2D(2, 3)], (3, 4, 4), np.float32)
    _assert_float32(net, x)
    _assert_pickle_keeps_views(net, x.astype(np.float32))
    net64 = net.astype(np.float64)
    np.testing.assert_allclose(net64.forward(x), net.forward(x.astype(np.float32)),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="one of size and scale_factor"):
        Resize2D()
    with pytest.raises(ValueError, match="one of size and scale_factor"):
        Resize2D(size=3, scale_factor=2)
    with pytest.raises(ValueError, match="positive"):
        Resize2D(scale_factor=-1)
    layer = Resize2D(size=8)
    layer.build((3, 4, 4), None)
    with pytest.raises(ValueError, match="built for"):
        layer.forward(np.zeros((1, 3, 5, 5), dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resize_kernels_match_reference(dtype):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(5, 3, 4)).astype(dtype)
    taps = (_upsample_kernels.linear_taps(3, 7, 3 / 7, dtype)
            + _upsample_kernels.linear_taps(4, 2, 2.0, dtype))
    out = np.empty((5, 7, 2), dtype=dtype)
    _upsample_kernels.resize_bilinear(x, *taps, out)
    expected = ref.resize_bilinear(x[:, None].astype(np.float64), 7, 2, 3 / 7,
                                   2.0)[:, 0]
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    g = rng.normal(size=(5, 7, 2)).astype(dtype)
    dx = np.full((5, 3, 4), np.nan, dtype=dtype)
    _upsample_kernels.resize_bilinear_adjoint(g, *taps, dx)
    A_h, A_w = ref.resize_matrix(3, 7, 3 / 7), ref.resize_matrix(4, 2, 2.0)
    np.testing.assert_allclose(dx, A_h.T @ g.astype(np.float64) @ A_w, rtol=tol * 10,
                               atol=tol * 10)


CONV_T = [(3, 1, 0, 0), (3, 2, 1, 1), (4, 2, 1, 0), (2, 2, 0, 0), (3, 3, 2, 2),
          (1, 1, 0, 0)]


@pytest.mark.parametrize("k, stride, pad, out_pad", CONV_T)
def test_conv_transpose_forward_matches_reference_and_finite_differences(
        k, stride, pad, out_pad):
    rng = np.random.default_rng(10)
    layer = ConvTranspose2D(3, k, stride=stride, padding=pad, output_padding=out_pad)
    net = _built([layer], (2, 3, 4))
    W, b = layer.params
    b[...] = rng.normal(size=b.shape)
    x = rng.normal(size=(2, 2, 3, 4))
    expected = ref.conv_transpose2d(x, W, b, stride, pad, out_pad)
    assert net.output_shape == expected.shape[1:]
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-10, atol=1e-12)
    _gradient_check(net, x, training=False)


def test_conv_transpose_is_the_adjoint_of_conv2d():
    """<conv(y), x> = <y, conv_transpose(x)> with the same weights (W as (F, C, K, K)
    for the convolution from the transposed conv's output back to its input)."""
    rng = np.random.default_rng(11)
    ct = ConvTranspose2D(3, 3, stride=2, padding=1, output_padding=1)
    net = _built([ct], (4, 3, 3))
    assert net.output_shape == (3, 6, 6)
    ct.params[1][...] = 0
    x = rng.normal(size=(2, 4, 3, 3))
    y = rng.normal(size=(2, 3, 6, 6))
    conv_y = ref.conv2d(y, ct.params[0], np.zeros(4), stride=2, pad=1)
    assert conv_y.shape == x.shape
    assert np.isclose(np.sum(conv_y * x), np.sum(y * net.forward(x)), rtol=1e-12)


def test_conv_transpose_float32_pickle_bad_arguments():
    x = np.random.default_rng(12).normal(size=(3, 4, 3, 3))
    net = _built([ConvTranspose2D(2, 4, stride=2, padding=1), ReLU(),
                  ConvTranspose2D(1, 3, padding=1)], (4, 3, 3), np.float32)
    assert net.output_shape == (1, 6, 6)
    _assert_float32(net, x)
    _assert_pickle_keeps_views(net, x.astype(np.float32))
    with pytest.raises(ValueError, match="output_padding"):
        ConvTranspose2D(2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="leaves nothing"):
        _built([ConvTranspose2D(2, 3, padding=3)], (1, 1, 1))


# ----------------------------------------------------------------- small_resnet


def test_small_resnet_shapes_and_finite_differences():
    layers = small_resnet((3, 32, 32), 10)
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == ["Conv2D", "BatchNorm", "ReLU", "ResidualBlock", "ResidualBlock",
                     "ResidualBlock", "GlobalAvgPool2D", "Dense"]
    net = Sequential(layers).build((3, 32, 32), rng=0)
    assert net.shapes[3:7] == [(16, 32, 32), (16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert [b.project for b in layers[3:6]] == [False, True, True]
    x = _rgb_patches(4).astype(np.float32)
    out = net.forward(x, training=True)
    assert out.shape == (4, 10) and out.dtype == np.float32
    assert net.backward(np.ones_like(out)).shape == x.shape
    deep = small_resnet((1, 8, 8), 3, widths=(4, 6), blocks_per_stage=2)
    assert [type(layer).__name__ for layer in deep].count("ResidualBlock") == 4
    # the whole network by finite differences, float64, small
    net = _built(small_resnet((2, 4, 4), 3, widths=(2, 3)), (2, 4, 4))
    _randomize_batchnorms(net, np.random.default_rng(0))
    _gradient_check(net, np.random.default_rng(1).normal(size=(3, 2, 4, 4)),
                    training=True)
    with pytest.raises(ValueError, match="at least 4 pixels"):
        small_resnet((3, 3, 3), 2)
    with pytest.raises(ValueError, match="widths"):
        small_resnet((3, 8, 8), 2, widths=())


def test_small_resnet_trains_on_tiny_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X[:96] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    y = y[:96]
    net = Sequential(small_resnet((1, 8, 8), 10, widths=(8, 16))).build((1, 8, 8),
                                                                        rng=0)
    opt = Adam(net.flat_parameters(), learning_rate=1e-2)
    losses = []
    for step in range(30):
        loss, g = softmax_cross_entropy(net.forward(X, training=True), y)
        losses.append(loss)
        net.backward(g)
        opt.step()
    assert np.all(np.isfinite(net.flat_params))
    assert losses[-1] < 0.5 * losses[0], losses
    acc = np.mean(np.argmax(net.forward(X), axis=1) == y)
    assert acc > 0.6, acc


@pytest.mark.parametrize("layers", [
    [Conv2D(8, 3, activation="relu"), MaxPool2D(2), Conv2D(8, 3, stride=2)],
    [ConvTranspose2D(4, 3, stride=2, padding=1, output_padding=1)],
], ids=["conv", "conv-transpose"])
def test_layers_predict_from_several_threads_at_once(layers):
    # the layers' scratch arrays belong to the calling thread: four threads running
    # one fitted network at the same time get the serial result, every time
    import threading

    net = _built(layers, (3, 12, 12), dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(64, 3, 12, 12)).astype(np.float32)
    ref_out = net.forward(x)
    outs = []

    def work():
        outs.extend(net.forward(x) for _ in range(10))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outs) == 40
    for out in outs:
        np.testing.assert_array_equal(out, ref_out)
