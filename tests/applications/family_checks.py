"""Checks every family test runs on its small configurations and its constructors."""

import numpy as np
import keras

from keras_senet.flops import count_macs, count_params
from tests.applications.tiny import build_tiny


def check_mixed_bfloat16(arch_name, config, size):
    """Builds under mixed_bfloat16: bf16 compute inside, float32 logits out."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_tiny(arch_name, config, size)
        out = model(np.random.default_rng(0).random((2, size, size, 3)).astype("float32"))
    finally:
        keras.config.set_dtype_policy(previous)
    se = [l for l in model.layers if l.name.endswith("_se")]
    assert se and all(l.compute_dtype == "bfloat16" for l in se)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert out.shape == (2, 4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out).sum(-1), 1.0, atol=1e-3)


def check_keras_round_trip(arch_name, config, size, tmp_path):
    """`.keras` save / reload gives identical outputs (BN statistics included)."""
    model = build_tiny(arch_name, config, size)
    x = np.random.default_rng(1).random((2, size, size, 3)).astype("float32")
    rng = np.random.default_rng(2)
    for layer in model.layers:  # BN statistics off their initial values
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2, size=layer.moving_variance.shape))
    path = tmp_path / f"{arch_name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [l.name for l in reloaded.layers] == [l.name for l in model.layers]


def check_constructor(constructor, size, features):
    """include_top True / False, pooling avg / max, free input size, and the errors."""
    import pytest

    model = constructor(weights=None, input_shape=(size, size, 3), classes=5,
                        classifier_activation=None)
    assert model.output.shape == (None, 5)
    assert model.get_layer("predictions").activation is keras.activations.linear
    assert model.pretrained_cfg is None
    for pooling, layer in (("avg", "avg_pool"), ("max", "max_pool")):
        pooled = constructor(include_top=False, weights=None, pooling=pooling)
        assert pooled.output.shape == (None, features)
        assert pooled.layers[-1].name == layer
    free = constructor(include_top=False, weights=None, input_shape=(None, None, 3))
    assert free.output.shape == (None, None, None, features)
    assert free(np.zeros((1, size + 8, size, 3), "float32")).shape[-1] == features
    with pytest.raises(ValueError, match="has no pretrained checkpoint"):
        constructor()  # the keras.applications default weights="imagenet"
    with pytest.raises(ValueError, match="has no pretrained checkpoint"):
        constructor(weights="imagenet", include_top=False)
    with pytest.raises(ValueError, match="at least"):
        constructor(include_top=False, weights=None, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="`pooling` must be one of"):
        constructor(include_top=False, weights=None, pooling="sum")
    return model


def macs_and_params(name, size):
    from keras_senet import create_model

    model = create_model(name, input_shape=(size, size, 3))
    return count_macs(model), count_params(model)
