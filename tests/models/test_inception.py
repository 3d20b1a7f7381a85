"""SE placement in the Inception families: after the whole module / on the residual branch."""

import keras
import pytest
from keras import layers

from keras_senet.layers import SqueezeExcite
from keras_senet.models.inception import (
    BN_INCEPTION_MODULES,
    BNInceptionArch,
    InceptionV3Arch,
    build_bn_inception,
    build_inception_v3,
)
from keras_senet.models.inception_resnet import InceptionResNetV2Arch, build_inception_resnet_v2
from tests.models.graph_utils import consumers, producer, se_layers


def _trunk(builder, arch, size):
    inputs = keras.Input((size, size, 3))
    return keras.Model(inputs, builder(inputs, arch)[-1])


@pytest.fixture(scope="module")
def bn_inception():
    return _trunk(build_bn_inception, BNInceptionArch(), 64)


def test_bn_inception_se_follows_every_whole_module(bn_inception):
    model = bn_inception
    names = [row.name for row in BN_INCEPTION_MODULES]
    assert [se.name for se in se_layers(model)] == [f"{n}_se" for n in names]
    for name, next_name in zip(names, names[1:] + [None]):
        se = model.get_layer(f"{name}_se")
        # the SE recalibrates the concatenation of all four branches ...
        assert producer(model, se.input).name == f"{name}_concat"
        assert consumers(model, model.get_layer(f"{name}_concat").output) == [f"{name}_se"]
        # ... and the next module (all its branches) reads the recalibrated map
        if next_name:
            assert set(consumers(model, se.output)) >= {
                f"{next_name}_3x3_reduce_conv", f"{next_name}_double_3x3_reduce_conv"}
    assert model.output is model.get_layer("inception_5b_se").output
    assert model.output.shape == (None, 2, 2, 1024)


def test_bn_inception_se_width_is_c_over_16(bn_inception):
    # The paper's r = 16 with the official rounding C // 16: 256 -> 16, 1024 -> 64.
    assert bn_inception.get_layer("inception_3a_se").width == 16
    assert bn_inception.get_layer("inception_5b_se").width == 64


def test_inception_v3_se_after_every_mixed_module():
    model = _trunk(build_inception_v3, InceptionV3Arch(), 75)
    assert [se.name for se in se_layers(model)] == [f"mixed{i}_se" for i in range(11)]
    for i in range(11):
        se = model.get_layer(f"mixed{i}_se")
        concat = model.get_layer(f"mixed{i}")
        assert isinstance(concat, layers.Concatenate)
        assert producer(model, se.input) is concat
        assert consumers(model, concat.output) == [f"mixed{i}_se"]
    assert model.output is model.get_layer("mixed10_se").output


def test_inception_v3_plain_twin_has_no_se():
    model = _trunk(build_inception_v3, InceptionV3Arch(se=False), 75)
    assert not se_layers(model)
    assert model.output is model.get_layer("mixed10").output


def test_inception_resnet_se_on_residual_branch_before_scaled_addition():
    arch = InceptionResNetV2Arch(depths=(2, 2, 2))
    model = _trunk(build_inception_resnet_v2, arch, 75)
    blocks = [f"block{t}_{i}" for t in (35, 17, 8) for i in (1, 2)]
    assert [se.name for se in se_layers(model)] == [f"{b}_se" for b in blocks]
    for block in blocks:
        se = model.get_layer(f"{block}_se")
        add = model.get_layer(block)
        assert isinstance(add, layers.Add)
        # branch: concat -> 1x1 up-projection -> SE -> scale -> add (with the identity)
        assert producer(model, se.input).name == f"{block}_conv"
        assert consumers(model, se.output) == [f"{block}_scale"]
        scale_out = model.get_layer(f"{block}_scale").output
        assert consumers(model, scale_out) == [block]
        identity, residual = add.input
        assert residual is scale_out
        assert producer(model, identity).name != f"{block}_scale"
        # the identity path carries no SE
        assert not isinstance(producer(model, identity), SqueezeExcite)
    assert model.get_layer("block35_1_scale").scale == pytest.approx(0.17)
    assert model.get_layer("block8_2_scale").scale == 1.0  # last block: scale 1, no ReLU
    assert model.output.shape == (None, 1, 1, 1536)


def test_inception_resnet_reduction_modules_carry_no_se():
    model = _trunk(build_inception_resnet_v2, InceptionResNetV2Arch(depths=(1, 1, 1)), 75)
    for name in ("mixed_5b", "mixed_6a", "mixed_7a"):
        assert all(not c.endswith("_se")
                   for c in consumers(model, model.get_layer(name).output))
