import numpy as np
import keras
import pytest

from keras_senet.layers import ChannelShuffle


def test_channel_shuffle_matches_numpy_transpose():
    x = np.arange(2 * 3 * 3 * 6, dtype="float32").reshape(2, 3, 3, 6)
    out = keras.ops.convert_to_numpy(ChannelShuffle(3)(x))
    # channels [0 1 | 2 3 | 4 5] seen as 3 groups of 2 -> [0 2 4 1 3 5]
    np.testing.assert_array_equal(out, x[..., [0, 2, 4, 1, 3, 5]])


def test_channel_shuffle_free_spatial_size_and_round_trip(tmp_path):
    inputs = keras.Input((None, None, 12))
    model = keras.Model(inputs, ChannelShuffle(4, name="shuffle")(inputs))
    x = np.random.default_rng(0).random((1, 5, 7, 12)).astype("float32")
    path = tmp_path / "shuffle.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert reloaded.get_layer("shuffle").groups == 4


def test_channel_shuffle_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="not divisible by groups=4"):
        ChannelShuffle(4)(np.zeros((1, 2, 2, 6), "float32"))
