"""preprocess_input ("torch" mode) and decode_predictions with the shipped class index."""

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
    import keras
    tensor_out = keras.ops.convert_to_numpy(preprocess_input(keras.ops.convert_to_tensor(pixels)))
    np.testing.assert_allclose(tensor_out, out, rtol=1e-6)
    with pytest.raises(ValueError, match="channels_last"):
        preprocess_input(pixels, data_format="channels_first")
