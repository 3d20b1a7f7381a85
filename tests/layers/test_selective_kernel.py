"""SelectiveKernel: split / fuse / select against a NumPy re-statement, and serialization."""

import keras
import numpy as np
import pytest

from keras_senet.layers import SelectiveKernel
from keras_senet.layers.selective_kernel import attention_width


def conv_reference(x, kernel, stride, dilation, groups, pad):
    """Direct NumPy grouped / dilated / strided convolution with symmetric zero padding.

    x: (B, H, W, Cin); kernel: (3, 3, Cin / G, Cout) in Keras layout."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    k = kernel.shape[0]
    out_h = (x.shape[1] - dilation * (k - 1) - 1) // stride + 1
    out_w = (x.shape[2] - dilation * (k - 1) - 1) // stride + 1
    cin_g, cout = kernel.shape[2], kernel.shape[3]
    cout_g = cout // groups
    out = np.zeros((x.shape[0], out_h, out_w, cout), "float64")
    for g in range(groups):
        xs = x[..., g * cin_g:(g + 1) * cin_g]
        ks = kernel[..., g * cout_g:(g + 1) * cout_g]
        for i in range(k):
            for j in range(k):
                patch = xs[:, i * dilation: i * dilation + stride * out_h: stride,
                           j * dilation: j * dilation + stride * out_w: stride, :]
                out[..., g * cout_g:(g + 1) * cout_g] += patch @ ks[i, j]
    return out


def bn_reference(x, gamma, beta, mean, var, eps=1e-5):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def selective_kernel_reference(x, layer):
    """U_m = relu(BN(conv_m(X_m))); s = mean(sum U_m); z = relu(BN(s W)); a = softmax_m(z A);
    V = sum_m a_m U_m."""
    np_ = keras.ops.convert_to_numpy
    m_paths = layer.num_paths
    inputs = np.split(x, m_paths, axis=-1) if layer.split_input else [x] * m_paths
    paths = []
    for m, (conv, bn) in enumerate(zip(layer.path_convs, layer.path_bns)):
        dilation = m + 1
        pad = ((layer.stride - 1) + 2 * dilation) // 2
        u = conv_reference(inputs[m], np_(conv.kernel), layer.stride, dilation, conv.groups, pad)
        u = bn_reference(u, *(np_(w) for w in (bn.gamma, bn.beta, bn.moving_mean,
                                               bn.moving_variance)))
        paths.append(np.maximum(u, 0))
    s = sum(paths).mean(axis=(1, 2))
    bn = layer.attn_bn
    z = np.maximum(bn_reference(s @ np_(layer.reduce_kernel), *(np_(w) for w in (
        bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))), 0)
    logits = (z @ np_(layer.select_kernel)).reshape(len(x), m_paths, -1)  # path-major
    a = np.exp(logits - logits.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    return sum(a[:, m, None, None, :] * paths[m] for m in range(m_paths))


@pytest.mark.parametrize("stride, groups, split_input, num_paths, size", [
    (1, 1, False, 2, 8),
    (2, 4, False, 2, 8),    # dilated stride-2 path computed on the subsampled input
    (2, 4, False, 2, 7),    # odd size
    (1, 2, True, 2, 6),     # timm SK-ResNet: each path sees half of the channels
    (2, 1, False, 3, 9),    # M = 3: dilation 3 with stride 2 (no shortcut possible)
])
def test_matches_the_papers_equations(stride, groups, split_input, num_paths, size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, size, size, 8)).astype("float32")
    layer = SelectiveKernel(16, num_paths=num_paths, stride=stride, groups=groups,
                            rd_ratio=1 / 4, rd_divisor=4, split_input=split_input)
    layer.build(x.shape)
    for variable in layer.weights:
        value = rng.uniform(0.5, 1.5, variable.shape) if "variance" in variable.path else \
            rng.normal(scale=0.5, size=variable.shape)
        variable.assign(value.astype("float32"))
    out = keras.ops.convert_to_numpy(layer(x, training=False))
    expected = selective_kernel_reference(x.astype("float64"), layer)
    assert out.shape == expected.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_attention_sums_to_one_across_paths():
    layer = SelectiveKernel(32, groups=8)
    x = np.random.default_rng(2).normal(size=(3, 5, 5, 32)).astype("float32")
    layer(x)
    attention = keras.ops.convert_to_numpy(layer.attention(x))
    assert attention.shape == (3, 2, 1, 1, 32)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("channels, ratio, divisor, expected", [
    (128, 1 / 16, 32, 32),    # SKNet: d = max(C / r, L), L = 32
    (1024, 1 / 16, 32, 64),
    (64, 1 / 8, 16, 16),      # timm SK-ResNet-18
    (512, 1 / 8, 16, 64),
])
def test_attention_width(channels, ratio, divisor, expected):
    assert attention_width(channels, ratio, divisor) == expected


def test_get_config_round_trip_and_keras_file(tmp_path):
    inputs = keras.Input((8, 8, 16))
    outputs = SelectiveKernel(32, stride=2, groups=4, split_input=True, name="sk")(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_layer("sk").get_config()
    assert SelectiveKernel.from_config(config).get_config() == config
    path = tmp_path / "sk.keras"
    model.save(path)
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 16)).astype("float32")
    np.testing.assert_array_equal(keras.saving.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


@pytest.mark.parametrize("kwargs, shape, message", [
    (dict(num_paths=1), None, "num_paths"),
    (dict(stride=3), None, "stride"),
    (dict(split_input=True, num_paths=3), (None, 8, 8, 16), "divisible"),
])
def test_bad_options_name_the_problem(kwargs, shape, message):
    with pytest.raises(ValueError, match=message):
        layer = SelectiveKernel(16, **kwargs)
        layer.build(shape)
