"""`weights=`: Keras files, timm state dicts, mismatches, and what a loaded model exposes."""

import os

import keras
import numpy as np
import pytest

import keras_senet
from keras_senet.applications import SEResNet18
from keras_senet.weights.checkpoint_io import read_safetensors, write_safetensors

SIZE = (64, 64, 3)


def _batch(seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (2, *SIZE)).astype("float32")


def test_weights_h5_loads_into_the_same_architecture(tmp_path):
    source = SEResNet18(weights=None, input_shape=SIZE, classes=10)
    path = tmp_path / "mine.weights.h5"
    source.save_weights(path)
    loaded = SEResNet18(weights=str(path), input_shape=SIZE, classes=10, name="backbone")
    np.testing.assert_array_equal(loaded.predict(_batch(), verbose=0),
                                  source.predict(_batch(), verbose=0))
    assert loaded.pretrained_cfg is None


def test_weights_h5_with_another_head_says_what_to_use(tmp_path):
    path = tmp_path / "mine.weights.h5"
    SEResNet18(weights=None, input_shape=SIZE, classes=10).save_weights(path)
    with pytest.raises(ValueError, match="use a .keras or .safetensors file"):
        SEResNet18(weights=str(path), include_top=False, input_shape=SIZE)


def test_keras_file_loads_by_layer_name_with_or_without_top(tmp_path):
    source = keras_senet.create_model("legacy_seresnet18", input_shape=SIZE, classes=10)
    path = tmp_path / "full.keras"
    source.save(path)
    full = keras_senet.create_model("legacy_seresnet18", weights=str(path),
                                    input_shape=SIZE, classes=10)
    np.testing.assert_array_equal(full.predict(_batch(), verbose=0),
                                  source.predict(_batch(), verbose=0))
    backbone = keras_senet.create_model("legacy_seresnet18", weights=str(path),
                                        include_top=False, input_shape=(None, None, 3))
    trunk = keras.Model(source.input, source.get_layer("conv5_block2_out").output)
    np.testing.assert_allclose(backbone.predict(_batch(), verbose=0),
                               trunk.predict(_batch(), verbose=0), atol=1e-6)


def test_keras_layout_safetensors_is_read_by_variable_path(tmp_path):
    source = keras_senet.create_model("seresnet18", input_shape=SIZE, classes=4)
    path = tmp_path / "keras_layout.safetensors"
    write_safetensors(path, {v.path: keras.ops.convert_to_numpy(v) for v in source.weights})
    loaded = keras_senet.create_model("seresnet18", weights=str(path), input_shape=SIZE,
                                      classes=4)
    np.testing.assert_array_equal(loaded.predict(_batch(), verbose=0),
                                  source.predict(_batch(), verbose=0))


def test_a_checkpoint_of_another_architecture_is_refused_with_the_keys(tmp_path):
    """A timm seresnet18 file (SE width 8 at C = 64) is not legacy_seresnet18 (width 4)."""
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    state = {k: v.numpy() for k, v in timm.create_model("seresnet18").state_dict().items()}
    path = tmp_path / "seresnet18.safetensors"
    write_safetensors(path, state)
    with pytest.raises(ValueError) as error:
        keras_senet.create_model("legacy_seresnet18", weights=str(path))
    message = str(error.value)
    assert "nothing was loaded" in message
    assert "missing" in message and "layer0.conv1.weight" in message
    assert "unexpected" in message and "conv1.weight" in message
    # The right architecture takes the same file.
    model = keras_senet.create_model("seresnet18", weights=str(path))
    assert model.count_params() > 0


def test_mis_shaped_tensors_are_listed(tmp_path):
    pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    state = {k: v.numpy() for k, v in timm.create_model("seresnet18", num_classes=10)
             .state_dict().items()}
    path = tmp_path / "ten_classes.safetensors"
    write_safetensors(path, state)
    with pytest.raises(ValueError, match=r"mis-shaped[\s\S]*predictions/kernel \(512, 1000\)"):
        keras_senet.create_model("seresnet18", weights=str(path))
    model = keras_senet.create_model("seresnet18", weights=str(path), classes=10)
    assert model.output_shape == (None, 10)


def test_unsupported_extension_is_refused_before_building(tmp_path):
    path = tmp_path / "weights.npz"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="Unsupported weights file"):
        keras_senet.create_model("seresnet18", weights=str(path))


def test_model_name_does_not_change_what_is_loaded(tmp_path):
    source = SEResNet18(weights=None, input_shape=SIZE, classes=3, name="a")
    path = tmp_path / "w.weights.h5"
    source.save_weights(path)
    renamed = SEResNet18(weights=str(path), input_shape=SIZE, classes=3, name="something_else")
    np.testing.assert_array_equal(renamed.predict(_batch(), verbose=0),
                                  source.predict(_batch(), verbose=0))
    assert not os.path.exists(tmp_path / "something_else")


def test_the_converted_cache_holds_keras_tensors_for_one_source_file(tmp_path):
    """A plain safetensors file keyed by Keras variable paths, trusted only for the sha256 of
    the file it was converted from."""
    from keras_senet.checkpoints import hf_source
    from keras_senet.weights import cache

    source = hf_source("seresnet18", "local_in1k")
    tensors = {"conv1_conv/kernel": np.ones((1, 1, 3, 4), "f4")}
    cache.write_converted(source, "a" * 64, tensors)
    assert cache.read_converted(source, "a" * 64)["conv1_conv/kernel"].shape == (1, 1, 3, 4)
    assert cache.read_converted(source, "b" * 64) is None  # converted from another file
    path = cache.converted_path(source)
    assert read_safetensors(path)[1]["format"] == cache.CONVERTED_FORMAT
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]  # no temporary file
