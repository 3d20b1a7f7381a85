"""applications/publish_weights.py turns finished `keras-senet train` runs into shipped weights:
the package file, its manifest entry (with the whole recipe) and the curves."""

import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PUBLISH = os.path.join(ROOT, "applications", "publish_weights.py")


def _fake_run(run_dir, model, epochs, command, val_top1, seconds):
    """A run directory as `keras-senet train` leaves it (weights replaced by marker bytes)."""
    os.makedirs(run_dir)
    history = [{"phase": "train", "epoch": e + 1, "loss": 2.0 / (e + 1), "accuracy": 0.3 + e / 20,
                "val_loss": 2.2 / (e + 1), "val_accuracy": 0.25 + e / 20} for e in range(epochs)]
    with open(os.path.join(run_dir, "state.json"), "w") as f:
        json.dump({"config": {"command": command, "model": model, "seed": 0, "epochs": epochs},
                   "history": history}, f)
    with open(os.path.join(run_dir, "results.json"), "w") as f:
        json.dump({"val_top1": val_top1, "val_top5": 0.97, "epochs": epochs,
                   "train_seconds": seconds, "command": command}, f)
    with open(os.path.join(run_dir, "final.safetensors"), "wb") as f:
        f.write(f"weights of {run_dir}".encode())


def _publish(*args):
    return subprocess.run([sys.executable, PUBLISH, *args], capture_output=True, text=True,
                          timeout=300)


def test_a_continued_run_is_published_with_both_stages(tmp_path):
    first, second, repo = tmp_path / "stage1", tmp_path / "stage2", tmp_path / "repo"
    _fake_run(first, "se_resnet20_cifar", 3, "train se_resnet20_cifar --epochs 3", 0.7286, 2792)
    _fake_run(second, "se_resnet20_cifar", 7,
              f"train se_resnet20_cifar --weights {first}/final.safetensors --epochs 7",
              0.8812, 4000)
    proc = _publish(str(second), "--after", str(first), "--machine", "a test", "--root",
                    str(repo))
    assert proc.returncode == 0, proc.stderr

    (entry,) = json.loads((repo / "weights" / "manifest.json").read_text())["weights"]
    shipped = repo / "keras_senet" / "weights" / "cifar10" / "se_resnet20_cifar.cifar10.safetensors"
    assert entry["file"] == str(shipped.relative_to(repo))
    assert entry["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert (entry["se"], entry["accuracy"], entry["train_seconds"]) == (True, 0.8812, 6792)
    recipe = entry["recipe"]
    assert (recipe["epochs"], recipe["seed"]) == (10, 0)
    assert [stage["epochs"] for stage in recipe["stages"]] == [3, 7]
    assert recipe["stages"][1]["initial_weights_sha256"] == hashlib.sha256(
        (first / "final.safetensors").read_bytes()).hexdigest()
    assert recipe["command"] == ("train se_resnet20_cifar --epochs 3 && train se_resnet20_cifar "
                                 f"--weights {first}/final.safetensors --epochs 7")
    assert (repo / entry["curves"]).read_bytes().startswith(b"\x89PNG")
    assert f'packaged_source("se_resnet20_cifar", "cifar10", sha256="{entry["sha256"]}", ' \
           "top1=88.12)" in proc.stdout


def test_republishing_replaces_the_entry_and_keeps_the_others(tmp_path):
    repo = tmp_path / "repo"
    _fake_run(tmp_path / "plain", "resnet20_cifar", 3, "train resnet20_cifar", 0.75, 10)
    _fake_run(tmp_path / "se", "se_resnet20_cifar", 3, "train se_resnet20_cifar", 0.72, 10)
    _fake_run(tmp_path / "se2", "se_resnet20_cifar", 4, "train se_resnet20_cifar -e4", 0.8, 10)
    assert _publish(str(tmp_path / "plain"), str(tmp_path / "se"), "--machine", "m",
                    "--root", str(repo)).returncode == 0
    assert _publish(str(tmp_path / "se2"), "--machine", "m", "--root", str(repo)).returncode == 0
    entries = json.loads((repo / "weights" / "manifest.json").read_text())["weights"]
    assert [(e["model"], e["accuracy"]) for e in entries] == [("resnet20_cifar", 0.75),
                                                              ("se_resnet20_cifar", 0.8)]


def test_continuing_another_models_run_is_refused(tmp_path):
    _fake_run(tmp_path / "plain", "resnet20_cifar", 3, "train resnet20_cifar", 0.75, 10)
    _fake_run(tmp_path / "se", "se_resnet20_cifar", 3, "train se_resnet20_cifar", 0.72, 10)
    proc = _publish(str(tmp_path / "se"), "--after", str(tmp_path / "plain"), "--machine", "m",
                    "--root", str(tmp_path / "repo"))
    assert proc.returncode != 0
    assert "trained resnet20_cifar, not se_resnet20_cifar" in proc.stderr
    assert not (tmp_path / "repo" / "weights" / "manifest.json").exists()
