"""The training programs, run for real on a tiny generated image folder on the CPU.

Each test starts `applications/<program>.py` in a subprocess, as a user would.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.image_folders import CLASSES, tinted_image_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """root/{train,val}/<class>/*.png: 32x32 noisy images tinted by class, 6 + 3 per class."""
    return tinted_image_folder(tmp_path_factory.mktemp("images"), 6, 3)


def start_program(program, *args, env=None, timeout=600):
    """`python applications/PROGRAM ARGS` as a user runs it; the finished process."""
    env = env or {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3",
                  "KERAS_BACKEND": "tensorflow"}
    return subprocess.run([sys.executable, os.path.join(ROOT, "applications", program), *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def run_program(program, *args, env=None, timeout=600):
    """start_program, which must succeed; its standard output."""
    proc = start_program(program, *args, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_train_then_evaluate_then_finetune(folder, tmp_path):
    run = str(tmp_path / "train")
    out = run_program("train.py", "resnet20_cifar", "--data-dir", folder, "--epochs", "1",
                      "--batch-size", "6", "--lr", "0.05", "--label-smoothing", "0.1",
                      "--output", run, "--verbose", "2")
    assert "3 classes" in out
    results = json.load(open(os.path.join(run, "results.json")))
    assert results["epochs"] == 1 and 0.0 <= results["val_top1"] <= 1.0
    for name in ("final.safetensors", "model.keras", "curves.png", "state.json"):
        assert os.path.getsize(os.path.join(run, name)) > 0
    assert os.listdir(os.path.join(run, "logs", "train"))  # TensorBoard event files

    # The weights file loads through create_model and scores the same in evaluate; per
    # image, evaluate --predictions writes what train wrote at the end of the run.
    predictions = str(tmp_path / "scores" / "predictions.npz")  # the folder is created
    out = run_program("evaluate.py", "resnet20_cifar", "--weights",
                      os.path.join(run, "final.safetensors"), "--data-dir", folder,
                      "--batch-size", "6", "--predictions", predictions)
    scores = json.loads(out.strip().splitlines()[-1])
    assert scores["top1"] == pytest.approx(results["val_top1"], abs=1e-6)
    assert scores["predictions"] == predictions
    evaluated = np.load(predictions)
    trained = np.load(os.path.join(run, "val_predictions.npz"))
    assert list(evaluated["class_names"]) == sorted(CLASSES)
    assert evaluated["top_k"].shape == (9, 3)  # 3 val images per class; top-5 of 3 classes
    np.testing.assert_array_equal(evaluated["labels"], np.repeat([0, 1, 2], 3))
    np.testing.assert_array_equal(evaluated["top_k"], trained["top_k"])
    assert np.mean(evaluated["top_k"][:, 0] == evaluated["labels"]) == pytest.approx(
        scores["top1"], abs=1e-6)

    # Fine-tune from those weights: 2 epochs in all, a frozen one then an unfrozen one.
    ft = str(tmp_path / "finetune")
    run_program("finetune.py", "resnet20_cifar", "--weights",
                os.path.join(run, "final.safetensors"), "--data-dir", folder, "--epochs", "2",
                "--unfrozen-epochs", "1", "--batch-size", "6", "--output", ft, "--verbose", "2")
    state = json.load(open(os.path.join(ft, "state.json")))
    assert [(r["phase"], r["epoch"]) for r in state["history"]] == [("frozen", 1),
                                                                     ("unfrozen", 1)]
    assert os.path.exists(os.path.join(ft, "frozen.safetensors"))
    assert open(os.path.join(ft, "classes.txt")).read().split() == sorted(CLASSES)


def test_train_on_jax_where_tensorflow_is_not_installed(folder, tmp_path):
    """The GPU hosts have Keras on JAX and no TensorFlow: `--pipeline auto` falls back to the
    NumPy pipeline and the run is complete; its weights score the same under TensorFlow's
    tf.data evaluation."""
    no_tensorflow = tmp_path / "no_tensorflow" / "tensorflow"
    no_tensorflow.mkdir(parents=True)
    (no_tensorflow / "__init__.py").write_text('raise ImportError("no TensorFlow here")')
    run = str(tmp_path / "run")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(no_tensorflow.parent), ROOT]),
           "KERAS_BACKEND": "jax"}
    printed = run_program("train.py", "se_resnet20_cifar", "--data-dir", folder, "--epochs",
                          "2", "--batch-size", "6", "--output", run, "--verbose", "2", env=env)
    assert "TensorFlow is not installed: no TensorBoard logs" in printed
    results = json.load(open(os.path.join(run, "results.json")))
    assert results["epochs"] == 2
    for name in ("final.safetensors", "model.keras", "curves.png"):
        assert os.path.getsize(os.path.join(run, name)) > 0

    out = run_program("evaluate.py", "se_resnet20_cifar", "--weights",
                      os.path.join(run, "final.safetensors"), "--data-dir", folder,
                      "--batch-size", "6", "--pipeline", "tf.data")
    scores = json.loads(out.strip().splitlines()[-1])
    assert scores["top1"] == pytest.approx(results["val_top1"], abs=1e-6)
    assert scores["loss"] == pytest.approx(results["val_loss"], rel=1e-4)
    # The NumPy pipeline validates on the same images in the same order as tf.data.
    predictions = str(tmp_path / "tf_data.npz")
    run_program("evaluate.py", "se_resnet20_cifar", "--weights",
                os.path.join(run, "final.safetensors"), "--data-dir", folder,
                "--batch-size", "6", "--pipeline", "tf.data", "--predictions", predictions)
    numpy_run, tf_data = np.load(os.path.join(run, "val_predictions.npz")), np.load(predictions)
    np.testing.assert_array_equal(numpy_run["labels"], tf_data["labels"])
    np.testing.assert_array_equal(numpy_run["top_k"][:, 0], tf_data["top_k"][:, 0])


def test_a_network_and_its_se_twin_train_side_by_side(folder, tmp_path):
    """applications/cifar_pair.py: one recipe for both runs and a comparison table; a model
    without an SE twin is refused. (Both runs take `--resume`: see tests/test_fit_phases.py
    for what a rerun does.)"""
    out, back = tmp_path / "pair", tmp_path / "back"
    args = ["resnet20_cifar", "--data-dir", folder, "--holdout", "0", "--epochs", "1",
            "--out", str(out), "--", "--batch-size", "6", "--lr", "0.05"]
    stopped = start_program("cifar_pair.py", *args[:-5], "--time-limit", "0", *args[-5:])
    assert stopped.returncode == 3 and "Run the same command again to continue" in stopped.stdout
    printed = run_program("cifar_pair.py", *args[:-5], "--bundle", str(back), *args[-5:])
    summary = json.load(open(out / "pair.json"))
    plain, se = summary["runs"]
    assert (plain["model"], plain["se"], se["model"], se["se"]) == (
        "resnet20_cifar", False, "se_resnet20_cifar", True)
    assert se["command"] == plain["command"].replace("resnet20_cifar", "se_resnet20_cifar")
    assert "--batch-size 6 --lr 0.05" in plain["command"] and plain["epochs"] == 1
    assert "| se_resnet20_cifar |" in printed and "SE minus plain" in (out / "pair.md").read_text()
    assert " --resume " in plain["command"]
    # The image-by-image comparison counts what the runs' val_predictions.npz say.
    records = [np.load(out / name / "val_predictions.npz") for name in ("resnet20_cifar",
                                                                          "se_resnet20_cifar")]
    right = [r["top_k"][:, 0] == r["labels"] for r in records]
    assert summary["paired"] == {
        "images": 9, "both_right": int(np.sum(right[0] & right[1])),
        "only_plain": int(np.sum(right[0] & ~right[1])),
        "only_se": int(np.sum(right[1] & ~right[0])), "p_value": summary["paired"]["p_value"]}
    assert 0 < summary["paired"]["p_value"] <= 1 and "McNemar" in (out / "pair.md").read_text()

    # What a device command brings back (one .tar per run, logs, summary) continues elsewhere.
    assert sorted(os.listdir(back)) == [
        "pair.json", "pair.md", "resnet20_cifar.log", "resnet20_cifar.tar",
        "se_resnet20_cifar.log", "se_resnet20_cifar.tar"]
    elsewhere = tmp_path / "elsewhere"
    printed = run_program("cifar_pair.py", "resnet20_cifar", "--data-dir", folder, "--holdout",
                          "0", "--epochs", "1", "--out", str(elsewhere), "--resume-from",
                          str(back), "--", "--batch-size", "6", "--lr", "0.05")
    assert "se_resnet20_cifar: continuing from" in printed
    again = json.load(open(elsewhere / "pair.json"))
    assert [r["val_top1"] for r in again["runs"]] == [r["val_top1"] for r in summary["runs"]]
    assert again["paired"] == summary["paired"]

    proc = start_program("cifar_pair.py", "se_resnet20_cifar", "--data-dir", folder,
                         "--epochs", "1", "--out", str(out))
    assert proc.returncode != 0 and "has no SE twin" in proc.stderr

    for wrong, message in ((["--resume-from", str(tmp_path)], "no resnet20_cifar.tar or"),
                           (["--time-limit", "-5"], "not a number of seconds >= 0")):
        proc = start_program("cifar_pair.py", *args[:-5], *wrong)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]


def test_train_mirrored_over_two_logical_cpus(folder, tmp_path):
    out = run_program("train.py", "resnet20_cifar", "--data-dir", folder, "--epochs", "1",
                      "--batch-size", "6", "--strategy", "mirrored", "--logical-cpus", "2",
                      "--output", str(tmp_path / "run"), "--verbose", "2")
    assert "2 replica(s)" in out
    assert json.load(open(tmp_path / "run" / "results.json"))["epochs"] == 1


def test_a_killed_run_resumes_with_no_lost_epoch(folder, tmp_path):
    run, epochs = str(tmp_path / "run"), 12
    args = ["resnet20_cifar", "--data-dir", folder, "--epochs", str(epochs), "--batch-size",
            "6", "--output", run, "--verbose", "2", "--schedule", "step"]
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "applications", "train.py"),
                             *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state_path = os.path.join(run, "state.json")
    deadline = time.time() + 500
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(state_path) and json.load(open(state_path))["epochs_done"].get(
                "train", 0) >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.load(open(state_path))["epochs_done"]["train"]
    assert 1 <= done < epochs, "the run finished before it could be killed"

    out = run_program("train.py", *args, "--resume")
    assert f"resuming after epoch {done} of {epochs}" in out
    history = json.load(open(state_path))["history"]
    assert [r["epoch"] for r in history] == list(range(1, epochs + 1))
    assert json.load(open(os.path.join(run, "results.json")))["epochs"] == epochs


def test_an_existing_run_is_not_overwritten(folder, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.json").write_text("{}")
    proc = start_program("train.py", "resnet20_cifar", "--data-dir", folder, "--output",
                         str(run))
    assert proc.returncode != 0 and "--resume" in proc.stderr
