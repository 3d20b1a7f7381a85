"""SE placement in the Inception families: after the whole module / on the residual branch.

BN-Inception and Inception-ResNet-v2 are built from their tiny rows (tests/harness.py);
Inception-v3 has no depth or width field and is built at its smallest input, 75 px.
"""

import dataclasses

import pytest
from keras import layers

import keras_senet
from keras_senet import registry
from keras_senet.flops import count_params
from keras_senet.layers import SqueezeExcite
from tests.applications.family_checks import se_parameters
from tests.models.graph_utils import consumers, producer, se_layers


def _trunk(name, size):
    """The headless network `name` as the registry holds it (tiny under `tiny_models`)."""
    return keras_senet.create_model(name, include_top=False, input_shape=(size, size, 3))


@pytest.fixture
def bn_inception(tiny_models):
    return _trunk("se_bn_inception", 64)


def test_bn_inception_se_follows_every_whole_module(bn_inception):
    model = bn_inception
    names = [row.name for row in keras_senet.get_spec("se_bn_inception").config.modules]
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
    # The paper's r = 16 with the official rounding C // 16: 320 -> 20, 1024 -> 64.
    assert bn_inception.get_layer("inception_3b_se").width == 20
    assert bn_inception.get_layer("inception_5b_se").width == 64


def test_inception_v3_se_after_every_mixed_module():
    model = _trunk("se_inception_v3", 75)
    assert [se.name for se in se_layers(model)] == [f"mixed{i}_se" for i in range(11)]
    for i in range(11):
        se = model.get_layer(f"mixed{i}_se")
        concat = model.get_layer(f"mixed{i}")
        assert isinstance(concat, layers.Concatenate)
        assert producer(model, se.input) is concat
        assert consumers(model, concat.output) == [f"mixed{i}_se"]
    assert model.output is model.get_layer("mixed10_se").output
    # the rest is keras.applications' InceptionV3 (tests/applications/test_se_inception.py)
    assert sum(count_params(se) for se in se_layers(model)) == se_parameters(
        (256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048))


def test_inception_resnet_se_on_residual_branch_before_scaled_addition(monkeypatch):
    spec = keras_senet.get_spec("se_inception_resnet_v2")
    two_of_each = dataclasses.replace(spec.config, depths=(2, 2, 2))  # a last block8 after one
    monkeypatch.setitem(registry._REGISTRY, spec.name,
                        dataclasses.replace(spec, config=two_of_each))
    model = _trunk(spec.name, 75)
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


def test_inception_resnet_reduction_modules_carry_no_se(tiny_models):
    model = _trunk("se_inception_resnet_v2", 75)
    for name in ("mixed_5b", "mixed_6a", "mixed_7a"):
        assert all(not c.endswith("_se")
                   for c in consumers(model, model.get_layer(name).output))
