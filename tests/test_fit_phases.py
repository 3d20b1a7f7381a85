"""keras_senet.training.fit_phases: a run picks up where its files say it stopped, also
after its directory travelled to another machine as a bundle (keras_senet.run_bundle)."""

import json
import os
import signal
import subprocess
import sys
import tarfile

import keras
import numpy as np
import pytest

from keras_senet import array_pipeline, run_bundle, training
from keras_senet.checkpoints import IN_MODEL_TRANSFORM


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


# --- the training curves: per batch window, so that even a one-epoch run draws a line ---

def _running_means(values):
    """What Keras reports after each batch k (1-based): the mean of batches 1..k."""
    return np.cumsum(values) / np.arange(1, len(values) + 1)


def _epoch(phase, seed, batches=100):
    """A history record as the Checkpointer writes it, from known per-batch losses."""
    rng = np.random.default_rng(seed)
    loss, accuracy = rng.uniform(0.5, 2.5, batches), rng.uniform(0, 1, batches)
    running = {k + 1: {"loss": m, "accuracy": a} for k, (m, a) in
               enumerate(zip(_running_means(loss), _running_means(accuracy)))}
    return {"phase": phase, "epoch": 1, "loss": loss.mean(), "accuracy": accuracy.mean(),
            "val_loss": 1.0, "val_accuracy": 0.5, "batches": training.batch_curve(running)}


def test_batch_curve_recovers_the_window_means_from_running_means():
    rng = np.random.default_rng(0)
    loss, accuracy = rng.uniform(0.5, 2.5, 100), rng.uniform(0, 1, 100)
    running = {k + 1: {"loss": m, "accuracy": a, "val_loss": 9.0} for k, (m, a) in
               enumerate(zip(_running_means(loss), _running_means(accuracy)))}
    curve = training.batch_curve(running)  # 25 windows of 4 batches
    assert curve["at"] == pytest.approx(np.arange(1, 26) / 25)
    assert curve["loss"] == pytest.approx(loss.reshape(25, 4).mean(axis=1), abs=1e-6)
    assert curve["accuracy"] == pytest.approx(accuracy.reshape(25, 4).mean(axis=1), abs=1e-6)
    assert set(curve) == {"at", "loss", "accuracy"}

    # Keras reports every 5th batch only (steps_per_execution=5): 20 windows of 5.
    sparse = training.batch_curve({k: v for k, v in running.items() if k % 5 == 0})
    assert sparse["loss"] == pytest.approx(loss.reshape(20, 5).mean(axis=1), abs=1e-6)
    assert training.batch_curve({}) == {}


def test_a_one_epoch_history_draws_a_per_batch_training_curve():
    record = _epoch("train", seed=0)
    series = training.curve_series([record])
    x, y = series["loss"]["train, per batch"]
    assert len(x) >= 10 and 0 < x[0] < x[-1] == 1
    assert y == record["batches"]["loss"]
    assert series["loss"]["train, epoch mean"] == ([1], [record["loss"]])
    assert series["accuracy"]["validation"] == ([1], [0.5])


def test_an_epoch_of_fit_phases_records_its_batches(tmp_path):
    _, state = _fit(tmp_path, epochs=1)
    (record,) = state["history"]
    curve = record["batches"]  # 8 images in batches of 4
    assert curve["at"] == [0.5, 1.0]
    assert np.mean(curve["loss"]) == pytest.approx(record["loss"], rel=1e-5)
    assert training.read_state(tmp_path)["history"][0]["batches"] == curve


def test_plot_curves_of_two_one_epoch_phases(tmp_path):
    from PIL import Image

    history = [_epoch("frozen", seed=0), _epoch("unfrozen", seed=1)]
    x, _ = training.curve_series(history)["loss"]["train, per batch"]
    assert x[0] < 1 < x[-1] == 2  # the unfrozen epoch's windows follow the frozen one's
    training.plot_curves(history, tmp_path / "curves.png", title="tiny")
    assert Image.open(tmp_path / "curves.png").size == (1000, 400)


KILLED_WHILE_SAVING = """
import os, signal, sys
import keras
from keras_senet import training

model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def killed_while_writing(path, *args, **kwargs):
    open(path, "wb").close()  # what a zip writer killed at its start leaves: an empty file
    os.kill(os.getpid(), signal.SIGKILL)


model.save = killed_while_writing
training.save_model(model, sys.argv[1])
"""


def test_a_run_killed_while_saving_its_model_leaves_no_empty_model_file(tmp_path):
    target = tmp_path / "model.keras"
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_SAVING, str(target)],
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert killed.returncode == -signal.SIGKILL
    assert not target.exists()  # only the temporary file beside it, never model.keras
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    training.save_model(model, str(target))  # the next run overwrites the leftover
    assert os.listdir(tmp_path) == ["model.keras"]
    assert keras.models.load_model(target).count_params() == 3
