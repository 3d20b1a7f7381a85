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
