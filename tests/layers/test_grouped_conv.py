"""GroupedConv2D: `Conv2D(groups=G)` computed natively or as G convolutions on channel slices."""

import keras
import numpy as np
import pytest

import keras_senet
from keras_senet.layers import GroupedConv2D, grouped_conv_implementation
from keras_senet.layers.grouped_conv import ENV_VAR


def _block_diagonal(kernel, groups):
    """The dense (k, k, C_in, C_out) kernel equal to a grouped one: zeros across groups."""
    kh, kw, cin_g, cout = kernel.shape
    cout_g = cout // groups
    dense = np.zeros((kh, kw, cin_g * groups, cout), kernel.dtype)
    for g in range(groups):
        dense[:, :, g * cin_g:(g + 1) * cin_g, g * cout_g:(g + 1) * cout_g] = \
            kernel[:, :, :, g * cout_g:(g + 1) * cout_g]
    return dense


@pytest.mark.parametrize("implementation", ["native", "split"])
@pytest.mark.parametrize("groups, in_channels", [(4, 16), (8, 32), (4, 128)],
                         ids=["all-merged", "pairs-merged", "unmerged"])
@pytest.mark.parametrize("strides, dilation, padding, use_bias", [
    (1, 1, "same", False), (2, 1, "valid", True), (1, 2, "same", False)])
def test_equals_a_dense_conv_with_a_block_diagonal_kernel(monkeypatch, implementation, groups,
                                                          in_channels, strides, dilation,
                                                          padding, use_bias):
    """The split merges groups of fewer than 16 input channels: 4 x 4 channels into one
    convolution, 8 x 4 into two of 16, and leaves 4 x 32 as they are."""
    monkeypatch.setenv(ENV_VAR, implementation)
    x = np.random.default_rng(0).normal(size=(2, 9, 9, in_channels)).astype("float32")
    grouped = GroupedConv2D(2 * groups, 3, strides=strides, dilation_rate=dilation,
                            padding=padding, groups=groups, use_bias=use_bias,
                            bias_initializer="random_normal")
    y = keras.ops.convert_to_numpy(grouped(x))
    dense = keras.layers.Conv2D(2 * groups, 3, strides=strides, dilation_rate=dilation,
                                padding=padding, use_bias=use_bias)
    dense.build(x.shape)
    weights = [_block_diagonal(keras.ops.convert_to_numpy(grouped.kernel), groups)]
    if use_bias:
        weights.append(keras.ops.convert_to_numpy(grouped.bias))
    dense.set_weights(weights)
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(dense(x)), rtol=1e-5, atol=1e-5)


def test_the_split_merges_groups_to_sixteen_input_channels_where_the_groups_allow():
    from keras_senet.layers.grouped_conv import groups_to_merge, merge_groups

    # ResNeXt-50 32x4d, stages 1..4: 4, 8, 16, 32 input channels per group.
    assert [groups_to_merge(32, c) for c in (4, 8, 16, 32)] == [4, 2, 1, 1]
    assert groups_to_merge(3, 4) == 3  # no divisor of 3 reaches 16: everything merged
    assert groups_to_merge(32, 4, min_channels=1) == 1
    kernel = np.random.default_rng(2).normal(size=(3, 3, 4, 64)).astype("float32")
    merged = keras.ops.convert_to_numpy(merge_groups(kernel, 32, 4))
    assert merged.shape == (3, 3, 16, 64)  # 8 groups of 16 inputs and 8 outputs
    dense = _block_diagonal(kernel, 32)
    for s in range(8):  # merged group s is the dense kernel's s-th diagonal block
        np.testing.assert_array_equal(merged[..., 8 * s:8 * (s + 1)],
                                      dense[:, :, 16 * s:16 * (s + 1), 8 * s:8 * (s + 1)])


def test_auto_splits_on_cpu_and_keeps_native_groups_on_gpus(monkeypatch):
    from keras_senet.layers import grouped_conv

    monkeypatch.delenv(ENV_VAR, raising=False)
    assert keras.backend.backend() == "tensorflow"  # the suite's backend, a CPU-only machine
    assert grouped_conv_implementation() == "split"
    assert grouped_conv._runs_on_cpu("jax")  # JAX_PLATFORMS / a CPU-only jaxlib here
    assert not grouped_conv._runs_on_cpu("torch")
    monkeypatch.setattr(grouped_conv, "_runs_on_cpu", lambda backend: False)  # as on a GPU
    assert grouped_conv_implementation() == "native"
    monkeypatch.setenv(ENV_VAR, "split")
    assert grouped_conv_implementation() == "split"
    monkeypatch.setenv(ENV_VAR, "native")
    monkeypatch.setattr(grouped_conv, "_runs_on_cpu", lambda backend: True)
    assert grouped_conv_implementation() == "native"


def test_an_unknown_implementation_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"KERAS_SENET_GROUPED_CONV='fast'.*auto, native, split"):
        grouped_conv_implementation()


def test_config_is_conv2d_and_survives_a_keras_file(tmp_path):
    inputs = keras.Input((8, 8, 6))
    model = keras.Model(inputs, GroupedConv2D(6, 3, groups=3, padding="same", name="g")(inputs))
    assert model.get_layer("g").get_config() == keras.layers.Conv2D.from_config(
        model.get_layer("g").get_config()).get_config()
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    assert type(loaded.get_layer("g")) is GroupedConv2D
    x = np.ones((1, 8, 8, 6), "float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_an_se_resnext_gives_the_same_logits_either_way(monkeypatch, tiny_models):
    model = keras_senet.create_model("seresnext26d_32x4d", input_shape=(64, 64, 3))
    blocks = sum(keras_senet.get_spec("seresnext26d_32x4d").config.depths)
    assert sum(isinstance(layer, GroupedConv2D) for layer in model.layers) == blocks
    x = np.random.default_rng(1).uniform(0, 1, (2, 64, 64, 3)).astype("float32")
    monkeypatch.setenv(ENV_VAR, "native")
    native = keras.ops.convert_to_numpy(model(x))
    monkeypatch.setenv(ENV_VAR, "split")
    split = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(split, native, rtol=1e-4, atol=1e-5)
