"""preprocess_input ("torch" mode) and decode_predictions with the shipped class index."""

import importlib

import keras
import numpy as np
import pytest

from keras_senet.applications.se_resnet import decode_predictions, preprocess_input


def test_class_index_ships_with_the_package():
    preds = np.zeros((2, 1000), "float32")
    preds[0, 1], preds[0, 386], preds[1, 999] = 0.7, 0.2, 0.9
    first, second = decode_predictions(preds, top=2)
    assert first == [("n01443537", "goldfish", np.float32(0.7)),
                     ("n02504458", "African_elephant", np.float32(0.2))]
    assert second[0][:2] == ("n15075141", "toilet_tissue")


def test_decode_predictions_rejects_other_shapes():
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\)"):
        decode_predictions(np.zeros((2, 10)))


def test_preprocess_input_is_torch_mode():
    pixels = np.array([[[[0, 128, 255]]]], "uint8")
    out = preprocess_input(pixels)
    expected = (np.array([0, 128, 255]) / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(out[0, 0, 0], expected, rtol=1e-6)
    assert out.dtype == np.float32
    tensor_out = keras.ops.convert_to_numpy(preprocess_input(keras.ops.convert_to_tensor(pixels)))
    np.testing.assert_allclose(tensor_out, out, rtol=1e-6)


FAMILIES = [importlib.import_module(f"keras_senet.applications.{name}")
            for name in ("se_resnet", "se_inception", "se_mobile", "se_vgg", "sknet")]


def _channels_first(images):
    """(..., H, W, C) -> (..., C, H, W): a batch or one image."""
    return np.moveaxis(images, -1, -3)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda module: module.__name__.split(".")[-1])
@pytest.mark.parametrize("batched", [True, False], ids=["batch", "single_image"])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "tensor"])
def test_channels_first_gives_the_transposed_channels_last_result(family, batched, as_tensor):
    pixels = np.random.default_rng(0).integers(0, 256, (2, 5, 4, 3)).astype("float32")
    if not batched:
        pixels = pixels[0]
    convert = keras.ops.convert_to_tensor if as_tensor else np.array
    last = keras.ops.convert_to_numpy(family.preprocess_input(convert(pixels)))
    first = keras.ops.convert_to_numpy(
        family.preprocess_input(convert(_channels_first(pixels)), data_format="channels_first"))
    assert first.shape == _channels_first(pixels).shape
    np.testing.assert_allclose(first, _channels_first(last), rtol=1e-6)
    keras_reference = keras.applications.imagenet_utils.preprocess_input(
        _channels_first(pixels), data_format="channels_first", mode="torch")
    np.testing.assert_allclose(first, keras_reference, rtol=1e-5, atol=1e-6)


def test_data_format_none_follows_the_keras_setting():
    pixels = np.random.default_rng(1).integers(0, 256, (1, 3, 4, 5)).astype("float32")
    keras.config.set_image_data_format("channels_first")
    try:
        default = preprocess_input(pixels)
    finally:
        keras.config.set_image_data_format("channels_last")
    np.testing.assert_array_equal(default, preprocess_input(pixels, data_format="channels_first"))


def test_bad_layouts_are_named():
    pixels = np.zeros((1, 3, 8, 8), "uint8")
    with pytest.raises(ValueError, match="'NHWC'"):
        preprocess_input(pixels, data_format="NHWC")
    with pytest.raises(ValueError, match=r"3 channels on axis 3 \(channels_last\).*\(1, 3, 8, 8\)"):
        preprocess_input(pixels)  # channels_first images without `data_format`
    with pytest.raises(ValueError, match="rank 2"):
        preprocess_input(np.zeros((8, 3)), data_format="channels_first")
