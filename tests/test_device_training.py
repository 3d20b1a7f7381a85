"""Device-resident CIFAR training (keras_senet.device_training, applications/cifar_device.py):
augmentation inside the jitted step, the schedule, the epoch plan, and a pair run on JAX."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_senet import device_training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "applications", "data", "cifar10-sample")


def test_augment_crops_a_padded_window_and_flips_some_images():
    jax = pytest.importorskip("jax")
    images = np.arange(4 * 6 * 6 * 3, dtype=np.uint8).reshape(4, 6, 6, 3)
    out = np.asarray(device_training.augment(images, jax.random.PRNGKey(3), pad=2,
                                             pad_mode="reflect"))
    assert out.shape == images.shape and out.dtype == np.float32
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    windows = [padded[:, t:t + 6, l:l + 6] for t in range(5) for l in range(5)]
    flips = 0
    for i in range(4):
        plain = any(np.array_equal(out[i], w[i]) for w in windows)
        flipped = any(np.array_equal(out[i], w[i][:, ::-1]) for w in windows)
        assert plain or flipped, f"image {i} is not a crop of the padded image"
        flips += flipped and not plain
    many = np.asarray(device_training.augment(
        np.repeat(images[:1], 64, 0), jax.random.PRNGKey(0), pad=2, pad_mode="constant"))
    assert 1 < len({m.tobytes() for m in many}) <= 50, "crops and flips should vary"


def test_learning_rate_warms_up_then_decays_to_zero():
    rates = [device_training.learning_rate(s, 100, 10, 0.4) for s in range(100)]
    assert rates[0] == pytest.approx(0.04) and rates[9] == pytest.approx(0.4)
    assert max(rates) == pytest.approx(0.4)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[-1] < 1e-3


def test_plan_epochs_fits_the_budget_and_refuses_an_impossible_one():
    assert device_training.plan_epochs(164, None, 2.0) == 164
    assert device_training.plan_epochs(164, 100.0, 2.0, spent=20.0) == 40
    assert device_training.plan_epochs(10, 100.0, 2.0) == 10
    with pytest.raises(ValueError, match="fits none"):
        device_training.plan_epochs(164, 10.0, 2.0, spent=9.0)


def test_recipe_refuses_an_unknown_pad_mode():
    with pytest.raises(ValueError, match="pad_mode='wrap'"):
        device_training.Recipe(pad_mode="wrap")


@pytest.mark.slow
def test_cifar_device_trains_a_pair_and_ships_weights_tensorflow_loads(tmp_path):
    """The whole program on JAX/CPU: both runs, the paired summary, the bundles; the final
    weights load into the same network on TensorFlow and give the recorded predictions."""
    pytest.importorskip("jax")
    out, bundle = tmp_path / "pair", tmp_path / "bundle"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "applications", "cifar_device.py"),
         "resnet20_cifar", "--data-dir", SAMPLE, "--holdout", "2", "--epochs", "2",
         "--batch-size", "16", "--lr", "0.05", "--out", str(out), "--bundle", str(bundle)],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(bundle)) == ["pair.json", "pair.md", "resnet20_cifar.tar",
                                          "se_resnet20_cifar.tar"]
    summary = json.loads((bundle / "pair.json").read_text())
    assert summary["paired"]["images"] == 20
    for run in summary["runs"]:
        assert run["epochs"] == 2 and np.isfinite(run["val_loss"])
        state = json.loads((out / run["model"] / "state.json").read_text())
        assert [r["epoch"] for r in state["history"]] == [1, 2]

    import keras_senet
    from keras_senet.device_training import DataOptions, load_arrays

    data = load_arrays(DataOptions(data_dir=SAMPLE, holdout=2))
    model = keras_senet.create_model("se_resnet20_cifar", classes=10,
                                     weights=str(out / "se_resnet20_cifar" / "final.safetensors"))
    recorded = np.load(out / "se_resnet20_cifar" / "val_predictions.npz")
    top1 = np.argmax(model.predict(data.val_images.astype("float32"), verbose=0), axis=-1)
    np.testing.assert_array_equal(recorded["labels"], data.val_labels)
    assert np.mean(top1 == recorded["top_k"][:, 0]) >= 0.9  # float32 JAX vs TF round-off
