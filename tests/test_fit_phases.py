"""keras_senet.training.fit_phases: a run picks up where its files say it stopped, also
after its directory travelled to another machine as a bundle (keras_senet.run_bundle)."""

import json
import os
import tarfile

import keras
import numpy as np
import pytest

from keras_senet import array_pipeline, run_bundle, training
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


def _fit(run_dir, state=None, epochs=2):
    model = _tiny_model()
    train_ds, val_ds = _data()
    state = state or training.new_state({"model": "tiny"})
    training.fit_phases(model, _phases(epochs), train_ds, val_ds, str(run_dir), state,
                        verbose=0)
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


def test_an_unfinished_run_continues_on_another_machine_from_its_bundle(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    _fit(here, epochs=1)
    os.remove(here / "train.safetensors")  # stopped after epoch 1 of 2, as --time-limit does
    assert run_bundle.bundle_names(here) == ["state.json", "ckpt-train-1.weights.h5"]
    run_bundle.pack(here, tmp_path / "run.tar")
    run_bundle.unpack(tmp_path / "run.tar", there)

    moved, state = _fit(there, training.read_state(there))
    stayed, _ = _fit(here, training.read_state(here))
    assert [r["epoch"] for r in state["history"]] == [1, 2]
    for ours, theirs in zip(moved.get_weights(), stayed.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_finished_run_travels_without_its_checkpoint(tmp_path):
    _fit(tmp_path / "run")
    (tmp_path / "run" / "results.json").write_text("{}")
    (tmp_path / "run" / "model.keras").write_text("rebuilt from final.safetensors")
    assert run_bundle.bundle_names(tmp_path / "run") == [
        "state.json", "train.safetensors", "results.json"]


def test_a_bundle_too_large_to_bring_back_is_refused_and_removed(tmp_path):
    _fit(tmp_path / "run")
    with pytest.raises(ValueError, match="MiB, over the 0 MiB allowed"):
        run_bundle.pack(tmp_path / "run", tmp_path / "run.tar", max_bytes=1000)
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_unpack_refuses_to_overwrite_a_run_or_to_take_a_foreign_tar(tmp_path):
    _fit(tmp_path / "run")
    run_bundle.pack(tmp_path / "run", tmp_path / "run.tar")
    with pytest.raises(ValueError, match="already holds a run"):
        run_bundle.unpack(tmp_path / "run.tar", tmp_path / "run")
    with tarfile.open(tmp_path / "foreign.tar", "w") as tar:
        tar.add(tmp_path / "run" / "state.json", arcname="../state.json")
    with pytest.raises(ValueError, match="not a run bundle: it holds '../state.json'"):
        run_bundle.unpack(tmp_path / "foreign.tar", tmp_path / "new")
    (tmp_path / "cut.tar").write_bytes((tmp_path / "run.tar").read_bytes()[:700])
    with pytest.raises(ValueError, match="not a readable run bundle"):
        run_bundle.unpack(tmp_path / "cut.tar", tmp_path / "new")
    assert not os.path.exists(tmp_path / "new")
    with pytest.raises(ValueError, match="not a training run directory"):
        run_bundle.pack(tmp_path, tmp_path / "new.tar")
