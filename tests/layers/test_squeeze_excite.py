"""SqueezeExcite: the paper's equations, its options, and serialization."""

import keras
import numpy as np
import pytest

from keras_senet.layers import SqueezeExcite
from keras_senet.layers.squeeze_excite import reduced_width


def squeeze_excite_reference(u, w1, b1, w2, b2, gate="sigmoid"):
    """NumPy re-statement: z = mean_HW(U); s = gate(W2 relu(W1 z + b1) + b2); U * s."""
    z = u.mean(axis=(1, 2))
    hidden = np.maximum(z @ w1 + b1, 0.0)
    logits = hidden @ w2 + b2
    s = 1 / (1 + np.exp(-logits)) if gate == "sigmoid" else np.clip(logits / 6 + 0.5, 0, 1)
    return u * s[:, None, None, :]


@pytest.mark.parametrize("gate", ["sigmoid", "hard_sigmoid"])
def test_matches_the_papers_equations(gate):
    rng = np.random.default_rng(0)
    u = rng.normal(size=(2, 5, 7, 32)).astype("float32")
    layer = SqueezeExcite(rd_ratio=1 / 4, gate=gate)
    layer.build(u.shape)
    for variable in layer.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    expected = squeeze_excite_reference(
        u, *(keras.ops.convert_to_numpy(w) for w in (
            layer.reduce_kernel, layer.reduce_bias, layer.expand_kernel, layer.expand_bias)),
        gate=gate)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(u)), expected, atol=1e-5)


@pytest.mark.parametrize("channels, divisor, expected", [
    (64, 1, 4),      # official SENet: C // 16
    (64, 8, 8),      # timm: make_divisible(C / 16, 8) -- the difference at C = 64
    (256, 1, 16),
    (256, 8, 16),
    (2048, 8, 128),
])
def test_reduced_width_rounding_rules(channels, divisor, expected):
    assert reduced_width(channels, 1 / 16, divisor) == expected
    layer = SqueezeExcite(rd_divisor=divisor)
    layer.build((None, 4, 4, channels))
    assert layer.width == expected
    assert layer.reduce_kernel.shape == (channels, expected)


def test_explicit_width_and_no_bias():
    layer = SqueezeExcite(rd_channels=5, use_bias=False)
    layer.build((None, 3, 3, 40))
    assert [tuple(w.shape) for w in layer.weights] == [(40, 5), (5, 40)]


def test_get_config_round_trip_and_keras_file(tmp_path):
    inputs = keras.Input((6, 6, 24))
    outputs = SqueezeExcite(rd_ratio=1 / 8, rd_divisor=1, gate="hard_sigmoid", name="se")(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_layer("se").get_config()
    clone = SqueezeExcite.from_config(config)
    assert clone.get_config() == config
    path = tmp_path / "se.keras"
    model.save(path)
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 24)).astype("float32")
    np.testing.assert_array_equal(keras.saving.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(gate="relu"), "unknown gate"),
    (dict(rd_ratio=0), "rd_ratio"),
    (dict(rd_ratio=2.0), "rd_ratio"),
])
def test_bad_options_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SqueezeExcite(**kwargs)
