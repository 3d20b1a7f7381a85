"""The weights this project trained: weights/manifest.json, the package files and the sources
table agree, and `weights="cifar10"` loads them offline."""

import dataclasses
import json
import os

import numpy as np
import pytest

import keras_senet
from keras_senet.checkpoints import PACKAGE_SCHEME
from keras_senet.registry import find_source
from keras_senet.weights.fetch import WeightsDownloadError, fetch, sha256_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = json.load(open(os.path.join(ROOT, "weights", "manifest.json")))
ENTRIES = MANIFEST["weights"]
SAMPLE = os.path.join(ROOT, "applications", "data", "cifar10-sample", "val")


def test_manifest_lists_a_plain_network_and_its_se_twin():
    by_se = {entry["se"]: entry for entry in ENTRIES if entry["dataset"] == "cifar10"}
    assert set(by_se) == {True, False}
    assert by_se[True]["model"] == "se_" + by_se[False]["model"]
    assert by_se[True]["recipe"]["seed"] == by_se[False]["recipe"]["seed"]
    assert by_se[True]["recipe"]["epochs"] == by_se[False]["recipe"]["epochs"]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e['model']}.{e['dataset']}")
def test_manifest_entry_matches_its_file_and_its_source(entry):
    assert sha256_of(os.path.join(ROOT, entry["file"])) == entry["sha256"]
    source = find_source(entry["model"], entry["dataset"])
    assert source.url == PACKAGE_SCHEME + entry["file"]
    assert source.sha256 == entry["sha256"]
    assert source.top1 == pytest.approx(100 * entry["accuracy"], abs=0.005)
    assert 0.1 < entry["accuracy"] <= 1.0
    assert os.path.exists(os.path.join(ROOT, entry["curves"]))


@pytest.mark.parametrize("name", [e["model"] for e in ENTRIES if e["dataset"] == "cifar10"])
def test_cifar10_weights_classify_held_out_images(name):
    """0..255 RGB in, probabilities over the 10 CIFAR classes out; better than chance on
    real images the network never trained on."""
    import tensorflow as tf

    classes = sorted(os.listdir(SAMPLE))
    paths, labels = [], []
    for label, cls in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(SAMPLE, cls))):
            paths.append(os.path.join(SAMPLE, cls, file))
            labels.append(label)
    images = np.stack([tf.io.decode_jpeg(tf.io.read_file(p), channels=3).numpy()
                       for p in paths]).astype("float32")
    model = keras_senet.create_model(name, weights="cifar10")
    assert model.pretrained_cfg.tag == "cifar10"
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (40, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = np.mean(probabilities.argmax(axis=1) == np.array(labels))
    assert accuracy >= 0.4  # chance is 0.1


def test_cifar10_weights_refuse_an_imagenet_head():
    with pytest.raises(ValueError, match="classes` should be 10"):
        keras_senet.create_model("se_resnet20_cifar", weights="cifar10", classes=1000)


@pytest.mark.slow
def test_the_wheel_ships_the_trained_weights_and_the_data_files(tmp_path):
    """`weights="cifar10"` and the class index work from an installed wheel, not only here."""
    import subprocess
    import sys
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), ROOT], check=True)
    (wheel,) = tmp_path.glob("keras_senet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for entry in ENTRIES:
        assert entry["file"] in names
    assert "keras_senet/data/imagenet_class_index.json" in names
    assert "keras_senet/data/model_stats.json" in names


def test_a_corrupted_packaged_file_is_refused():
    """A damaged installation fails loudly instead of loading wrong weights."""
    source = find_source("se_resnet20_cifar", "cifar10")
    with pytest.raises(ValueError, match="has sha256 .*, not the published 0+: .* reinstall keras-senet"):
        fetch(dataclasses.replace(source, sha256="0" * 64))


def test_a_missing_packaged_file_says_how_to_restore_it():
    source = find_source("se_resnet20_cifar", "cifar10")
    missing = dataclasses.replace(source, url=source.url.replace(".safetensors", ".gone"))
    with pytest.raises(WeightsDownloadError, match="file is missing: reinstall"):
        fetch(missing)
