"""The ResNet family table: block placement, strides, and parameter counts equal to timm's.

Placement and stride checks build the tiny rows (one block per stage: tests/harness.py); the
parameter counts build the full-size networks (no forward pass).
"""

import dataclasses

import keras
import numpy as np
import pytest

import keras_senet
from keras_senet.flops import count_params
from keras_senet.layers import SelectiveKernel, SqueezeExcite

# Trainable parameters at 1000 classes, as timm counts them (sum(p.numel())): the rows of every
# public constructor (legacy_*: SEResNet18 .. SENet154; SKNet50, SKResNet18/34) and seresnet18.
# The rest of the table is checked against timm itself in tests/parity.
TIMM_PARAMS = {
    "legacy_seresnet18": 11_778_592,
    "legacy_seresnet34": 21_958_868,
    "legacy_seresnet50": 28_088_024,
    "legacy_seresnet101": 49_326_872,
    "legacy_seresnet152": 66_821_848,
    "legacy_seresnext26_32x4d": 16_790_280,
    "legacy_seresnext50_32x4d": 27_559_896,
    "legacy_seresnext101_32x4d": 48_955_416,
    "legacy_senet154": 115_088_984,
    "seresnet18": 11_779_624,  # the SE width rounding shows at C = 64
    "skresnext50_32x4d": 27_479_784,
    "skresnet18": 11_958_056,
    "skresnet34": 22_282_376,
}


@pytest.mark.parametrize("name, expected", sorted(TIMM_PARAMS.items()))
def test_parameter_counts_equal_timm(name, expected):
    assert count_params(keras_senet.create_model(name)) == expected  # built, never run


def _inbound(model, layer_name):
    """Names of the layers feeding `layer_name` in the functional graph."""
    node = model.get_layer(layer_name)._inbound_nodes[0]
    return [t._keras_history.operation.name for t in node.input_tensors]


@pytest.mark.parametrize("name", ["legacy_seresnet50", "seresnext26d_32x4d", "legacy_seresnet18",
                                  "seresnet18", "legacy_senet154"])
def test_se_sits_on_the_residual_branch_before_the_addition(name, tiny_models):
    model = keras_senet.create_model(name, include_top=False, input_shape=(64, 64, 3))
    config = keras_senet.get_spec(name).config
    se_layers = [layer for layer in model.layers if isinstance(layer, SqueezeExcite)]
    assert len(se_layers) == sum(config.depths)  # one per block
    for se in se_layers:
        block = se.name[: -len("_se")]
        last = "_3_" if config.expansion == 4 else "_2_"
        # SE recalibrates the output of the block's last BN (legacy basic blocks: its ReLU) ...
        assert _inbound(model, se.name)[0].startswith(block + last)
        # ... and its output is added to the shortcut, then the block's ReLU follows.
        add_inputs = _inbound(model, f"{block}_add")
        assert se.name in add_inputs and len(add_inputs) == 2
        assert _inbound(model, f"{block}_out") == [f"{block}_add"]


def test_sk_replaces_the_3x3_and_carries_the_stride(tiny_models):
    model = keras_senet.create_model("skresnext50_32x4d", include_top=False,
                                     input_shape=(64, 64, 3))
    sk_layers = [layer for layer in model.layers if isinstance(layer, SelectiveKernel)]
    assert len(sk_layers) == sum(keras_senet.get_spec("skresnext50_32x4d").config.depths)
    assert not any(layer.name.endswith("_2_conv") for layer in model.layers)
    strided = {layer.name for layer in sk_layers if layer.stride == 2}
    assert strided == {"conv3_block1_2_sk", "conv4_block1_2_sk", "conv5_block1_2_sk"}
    first = model.get_layer("conv3_block1_2_sk")
    assert (first.num_paths, first.groups, first.split_input) == (2, 32, False)
    assert _inbound(model, "conv3_block1_2_sk") == ["conv3_block1_1_relu"]
    assert _inbound(model, "conv3_block1_3_conv") == ["conv3_block1_2_sk"]


def test_official_se_resnet_strides_on_the_first_1x1(tiny_models):
    legacy = keras_senet.create_model("legacy_seresnet50", include_top=False,
                                      input_shape=(64, 64, 3))
    timm_style = keras_senet.create_model("seresnet50", include_top=False,
                                          input_shape=(64, 64, 3))
    assert legacy.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert legacy.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert timm_style.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert timm_style.get_layer("conv3_block1_2_conv").strides == (2, 2)


@pytest.mark.parametrize("size, pooled", [(112, 56), (113, 56), (114, 57), (7, 3)])
def test_caffe_stem_pool_is_ceil_mode(size, pooled):
    """legacy_* stems: MaxPool2d(3, 2, ceil_mode=True) -> ceil((size - 3) / 2) + 1."""
    from keras_senet.layers.conv import max_pool_3x3_s2

    x = keras.Input((size, size, 1))
    y = max_pool_3x3_s2(x, ceil_mode=True, name="p")
    assert y.shape[1] == pooled
    values = np.random.default_rng(0).uniform(size=(1, size, size, 1)).astype("float32")
    out = keras.ops.convert_to_numpy(keras.Model(x, y)(values))
    # The last window of an even size covers only the last two rows and columns.
    if size % 2 == 0:
        assert out[0, -1, -1, 0] == values[0, -2:, -2:, 0].max()


def test_stage_outputs_and_names_are_positional(tiny_models):
    model = keras_senet.create_model("legacy_seresnext26_32x4d", include_top=False,
                                     input_shape=(96, 96, 3), name="my_backbone")
    depths = keras_senet.get_spec("legacy_seresnext26_32x4d").config.depths
    shapes = [model.get_layer(f"conv{s}_block{depth}_out").output.shape
              for s, depth in zip(range(2, 6), depths)]
    assert shapes == [(None, 24, 24, 256), (None, 12, 12, 512), (None, 6, 6, 1024),
                      (None, 3, 3, 2048)]
    features = keras_senet.create_model("legacy_seresnext26_32x4d", features_only=True,
                                        input_shape=(96, 96, 3))
    assert [output.shape for output in features.outputs] == shapes


@pytest.mark.parametrize("field, value, message", [
    ("block", "inverted", "block"), ("stem", "9x9", "stem"), ("stem_pool", "min", "stem_pool"),
    ("depths", (2, 2, 2), "depths"),
])
def test_config_rows_are_validated(field, value, message):
    row = keras_senet.get_spec("seresnet18").config
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(row, **{field: value})
