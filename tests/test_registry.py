"""The registry: names, tags, errors, feature extraction."""

import keras
import numpy as np
import pytest

import keras_senet
from keras_senet.registry import split_name

TIMM_LINEAGE = ["seresnet18", "seresnet34", "seresnet50", "seresnet101", "seresnet152",
                "seresnet152d", "seresnext26d_32x4d", "seresnext26t_32x4d", "seresnext50_32x4d",
                "seresnext101_32x4d", "seresnext101_32x8d", "seresnext101d_32x8d",
                "seresnext101_64x4d", "seresnextaa101d_32x8d", "senet154"]


def test_every_requested_name_is_registered():
    names = set(keras_senet.list_models())
    assert set(TIMM_LINEAGE) <= names
    assert {f"legacy_{n}" for n in ("seresnet18", "seresnet50", "seresnext50_32x4d",
                                    "senet154")} <= names
    assert keras_senet.list_models("sknet") == sorted(
        ["skresnet18", "skresnet34", "skresnet50", "skresnet50d", "skresnext50_32x4d",
         "skresnext101_32x4d"])


def test_paper_constructors_are_the_official_architectures():
    assert keras_senet.get_spec("legacy_seresnet50").constructor == "SEResNet50"
    assert keras_senet.get_spec("legacy_senet154").constructor == "SENet154"
    assert keras_senet.get_spec("skresnext50_32x4d").constructor == "SKNet50"


def test_create_model_with_another_head():
    model = keras_senet.create_model("seresnext26d_32x4d", weights=None, classes=10,
                                     input_shape=(64, 64, 3))
    assert model.output_shape == (None, 10) and model.name == "seresnext26d_32x4d"


def test_a_tag_in_the_name_is_split_off():
    assert split_name("seresnext50_32x4d.gluon_in1k") == ("seresnext50_32x4d", "gluon_in1k")
    assert split_name("seresnet50") == ("seresnet50", None)
    assert keras_senet.get_spec("seresnext50_32x4d.gluon_in1k").name == "seresnext50_32x4d"


def test_unknown_names_suggest_close_matches():
    with pytest.raises(ValueError, match=r"Unknown model name 'seresnet51'.*seresnet50"):
        keras_senet.create_model("seresnet51")


def test_unknown_tag_lists_the_available_ones():
    with pytest.raises(ValueError, match="gluon_in1k"):
        keras_senet.create_model("seresnext50_32x4d", weights="bogus_in1k")


@pytest.mark.parametrize("name, message", [
    ("seresnext50_32x4d.gluon_in21k", r"Unknown pretrained tag 'gluon_in21k'.*Did you mean "
                                      r"'gluon_in1k'.*\['racm_in1k', 'gluon_in1k'\]"),
    ("resnet20_cifar.cifar100", r"'cifar100'.*\['cifar10'\]"),
    ("seresnet18.in1k", r"'in1k'.*seresnet18 has no pretrained checkpoint"),
])
def test_an_unknown_tag_in_the_name_is_refused_even_without_weights(name, message):
    with pytest.raises(ValueError, match=message):
        keras_senet.create_model(name, weights=None)


def test_a_known_tag_in_the_name_builds_randomly_initialised_with_weights_none():
    model = keras_senet.create_model("resnet20_cifar.cifar10", weights=None)
    assert model.name == "resnet20_cifar" and model.pretrained_cfg is None


@pytest.mark.parametrize("name", [None, "", 50])
def test_a_name_that_is_not_a_string_is_named(name):
    with pytest.raises(ValueError, match=rf"received {name!r}.*list_models"):
        keras_senet.create_model(name)


def test_features_only_gives_strides_4_to_32():
    model = keras_senet.create_model("skresnet18", features_only=True,
                                     input_shape=(None, None, 3))
    maps = model(np.zeros((1, 128, 96, 3), "float32"))
    assert [tuple(m.shape) for m in maps] == [(1, 32, 24, 64), (1, 16, 12, 128),
                                               (1, 8, 6, 256), (1, 4, 3, 512)]
    assert [t._keras_history.operation.name for t in model.outputs] == [
        "conv2_block2_out", "conv3_block2_out", "conv4_block2_out", "conv5_block2_out"]


def test_channels_first_is_refused_with_the_fix():
    keras.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="set_image_data_format"):
            keras_senet.create_model("seresnet18")
    finally:
        keras.config.set_image_data_format("channels_last")
