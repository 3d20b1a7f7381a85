"""SE placement in MobileNet, ShuffleNet and VGG-16-BN, and grouped convolutions on CPU.

Each network is its registered row's builder with a narrower / shallower config.
"""

import dataclasses

import keras
import numpy as np
import pytest
from keras import layers

import keras_senet
from keras_senet.layers import ChannelShuffle
from tests.models.graph_utils import consumers, producer, se_layers


def _trunk(name, size=32, **config_changes):
    """The trunk of the registered row `name` with `config_changes` applied to its config,
    (B, size, size, 3) -> its last feature map."""
    spec = keras_senet.get_spec(name)
    inputs = keras.Input((size, size, 3))
    config = dataclasses.replace(spec.config, **config_changes)
    return keras.Model(inputs, spec.builder(inputs, config)[-1])


def _tiny_shufflenet():
    return _trunk("se_shufflenet_g3", widths=(24, 48, 96), depths=(2, 2, 1), stem_filters=12)


def test_mobilenet_se_after_each_depthwise_separable_block():
    model = _trunk("se_mobilenet", alpha=0.25)  # all 13 blocks, a quarter of the width
    assert [se.name for se in se_layers(model)] == [f"conv_pw_{i}_se" for i in range(1, 14)]
    for i in range(1, 14):
        se = model.get_layer(f"conv_pw_{i}_se")
        assert producer(model, se.input).name == f"conv_pw_{i}_relu"
        if i < 13:
            nxt = f"conv_pad_{i + 1}" if f"conv_pad_{i + 1}" in [l.name for l in model.layers] \
                else f"conv_dw_{i + 1}"
            assert consumers(model, se.output) == [nxt]
    assert model.get_layer("conv_pw_13_se").width == 256 // 16  # C // 16 at alpha 0.25


def test_shufflenet_se_on_residual_branch_before_add_or_concat():
    model = _tiny_shufflenet()
    units = ["stage2_block1", "stage2_block2", "stage3_block1", "stage3_block2",
             "stage4_block1"]
    assert [se.name for se in se_layers(model)] == [f"{u}_se" for u in units]
    for unit in units:
        se = model.get_layer(f"{unit}_se")
        assert producer(model, se.input).name == f"{unit}_3_bn"
        merge = consumers(model, se.output)
        assert merge in ([f"{unit}_add"], [f"{unit}_concat"])
        merge = model.get_layer(merge[0])
        shortcut, branch = merge.input
        assert branch is se.output
        # strided units concatenate an average-pooled shortcut; the others add the identity
        if unit.endswith("block1"):
            assert producer(model, shortcut).name == f"{unit}_shortcut_pool"
        else:
            assert producer(model, shortcut).name.endswith("_out")


def test_shufflenet_unit_structure():
    model = _tiny_shufflenet()
    # first pointwise of the network is ungrouped (24-channel stem), the others use g = 3
    assert model.get_layer("stage2_block1_1_conv").groups == 1
    assert model.get_layer("stage2_block2_1_conv").groups == 3
    assert model.get_layer("stage2_block1_3_conv").groups == 3
    assert isinstance(model.get_layer("stage2_block1_shuffle"), ChannelShuffle)
    # strided unit: branch makes out - in channels, concat restores the stage width
    assert model.get_layer("stage3_block1_3_conv").filters == 48 - 24
    assert model.get_layer("stage3_block1_concat").output.shape[-1] == 48
    assert model.output.shape == (None, 1, 1, 96)


def test_shufflenet_rejects_widths_not_divisible_by_groups():
    with pytest.raises(ValueError, match="not divisible by groups=8"):
        _trunk("se_shufflenet_g3", groups=8)


def test_vgg_se_after_each_conv_bn_relu():
    model = _trunk("se_vgg16_bn", stages=((4, 4), (8,), (8,), (8,), (8,)))
    convs = ["block1_conv1", "block1_conv2", "block2_conv1", "block3_conv1", "block4_conv1",
             "block5_conv1"]
    assert [se.name for se in se_layers(model)] == [f"{c}_se" for c in convs]
    for conv in convs:
        se = model.get_layer(f"{conv}_se")
        assert producer(model, se.input).name == f"{conv}_relu"
    assert consumers(model, model.get_layer("block1_conv1_se").output) == ["block1_conv2"]
    assert consumers(model, model.get_layer("block1_conv2_se").output) == ["block1_pool"]


def test_grouped_convolution_runs_on_tf_cpu_and_equals_split_concat():
    """Grouped Conv2D compiles and runs inside tf.function on CPU (older TF could not)."""
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow backend only")
    assert not tf.config.list_physical_devices("GPU")
    inputs = keras.Input((8, 8, 12))
    grouped = keras.Model(inputs, layers.Conv2D(6, 1, groups=3, use_bias=False)(inputs))
    kernel = grouped.get_weights()[0]  # (1, 1, 12 / 3, 6)
    x = np.random.default_rng(0).random((2, 8, 8, 12)).astype("float32")
    expected = np.concatenate(
        [np.einsum("bhwc,cd->bhwd", x[..., 4 * g:4 * g + 4], kernel[0, 0][:, 2 * g:2 * g + 2])
         for g in range(3)], axis=-1)
    with tf.device("/CPU:0"):
        out = grouped.predict(x, verbose=0)  # graph mode (tf.function)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_shufflenet_runs_on_tf_cpu_graph_mode():
    model = _tiny_shufflenet()
    out = model.predict(np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32"),
                        verbose=0)
    assert out.shape == (2, 1, 1, 96) and np.isfinite(out).all()
