"""keras_senet.training.fit_phases: a run picks up where its files say it stopped."""

import json
import os

import keras
import numpy as np

from keras_senet import array_pipeline, training
from keras_senet.weights.sources import IN_MODEL_TRANSFORM


def _tiny_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="classifier")(x))


def _data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(8) % 2
    transform = IN_MODEL_TRANSFORM
    return (array_pipeline.ArrayDataset(images, labels, 2, transform, 4, training=True),
            array_pipeline.ArrayDataset(images, labels, 2, transform, 4, training=False))


def _phases(epochs=2):
    def setup(model):
        training.compile_model(model, keras.optimizers.SGD(0.01))
    return [training.Phase("train", epochs, setup)]


def _fit(run_dir, state=None):
    model = _tiny_model()
    train_ds, val_ds = _data()
    state = state or training.new_state({"model": "tiny"})
    training.fit_phases(model, _phases(), train_ds, val_ds, str(run_dir), state, verbose=0)
    return model, state


def test_a_finished_run_comes_back_compiled_with_its_final_weights(tmp_path):
    trained, state = _fit(tmp_path)
    final = [w.copy() for w in trained.get_weights()]
    again, state = _fit(tmp_path, json.loads(json.dumps(state)))
    assert len(state["history"]) == 2  # no epoch trained twice
    for ours, theirs in zip(again.get_weights(), final):
        np.testing.assert_array_equal(ours, theirs)
    assert again.evaluate(_data()[1], verbose=0, return_dict=True)["loss"] > 0  # compiled


def test_a_run_killed_after_its_last_checkpoint_finishes_from_it(tmp_path):
    """The last epoch's checkpoint was written, the phase's safetensors were not."""
    trained, state = _fit(tmp_path)
    os.remove(tmp_path / "train.safetensors")
    again, state = _fit(tmp_path, json.loads(json.dumps(state)))
    assert os.path.exists(tmp_path / "train.safetensors")
    assert len(state["history"]) == 2
    for ours, theirs in zip(again.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
