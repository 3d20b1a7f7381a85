"""The NumPy input pipeline (no TensorFlow): what its batches hold, and that it agrees with
the tf.data pipeline it stands in for."""

import dataclasses
import os
import sys

import numpy as np
import pytest

import keras_senet
from keras_senet import array_pipeline as ap
from keras_senet import data_pipeline as dp
from keras_senet.training import default_transform, mixed_policy, steps_in
from keras_senet.checkpoints import EvalTransform

CIFAR = default_transform(keras_senet.get_spec("resnet20_cifar"))  # 0..255 pixels unchanged


def _image_folder(root, sizes, per_class=4, classes=("cat", "dog")):
    """root/train/<class>/<i>.png of random pixels; returns the folder."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        os.makedirs(root / "train" / name)
        for i in range(per_class):
            height, width = sizes[i % len(sizes)]
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "train" / name / f"{i}.png")
    return root


def test_crop_flip_cuts_a_window_of_the_zero_padded_image():
    images = np.random.default_rng(1).integers(1, 256, (64, 8, 8, 3), dtype=np.uint8)
    out = ap.random_crop_flip(images, np.random.default_rng(2), pad=1)
    assert out.shape == images.shape and out.dtype == np.uint8
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    seen = set()
    for image, window in zip(padded, out):
        matches = [(top, left, flip) for top in range(3) for left in range(3)
                   for flip in (False, True)
                   if np.array_equal(window, (lambda w: w[:, ::-1] if flip else w)(
                       image[top:top + 8, left:left + 8]))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 9  # offsets and flips both vary


def test_an_epoch_shows_every_image_once_in_a_seeded_order():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(3, axis=-1)
    images = np.broadcast_to(images, (10, 8, 8, 3)).copy()
    labels = np.arange(10) % 3
    ds = ap.ArrayDataset(images, labels, 3, CIFAR, batch_size=4, training=True, seed=7)
    assert len(ds) == steps_in(ds) == 3

    def epoch():
        batches = [ds[i] for i in range(len(ds))]
        ds.on_epoch_end()
        return batches

    first, second = epoch(), epoch()
    assert [x.shape for x, _ in first] == [(4, 8, 8, 3), (4, 8, 8, 3), (2, 8, 8, 3)]
    order = np.concatenate([x[:, 4, 4, 0] for x, _ in first]).astype(int)  # centre pixel
    assert sorted(order) == list(range(10))
    np.testing.assert_array_equal(np.concatenate([y for _, y in first]),
                                  np.eye(3, dtype=np.float32)[labels[order]])
    assert not np.array_equal(order, np.concatenate([x[:, 4, 4, 0] for x, _ in second]))
    ds.epoch = 0  # what a resumed run does: the same epoch gives the same batches
    np.testing.assert_array_equal(ds[1][0], first[1][0])
    dropped = ap.ArrayDataset(images, labels, 3, CIFAR, 4, training=True, drop_remainder=True)
    assert len(dropped) == 2
    with pytest.raises(IndexError):
        ds[3]


def test_images_are_normalised_with_the_transform():
    imagenet = EvalTransform(input_size=2)
    images = np.full((1, 2, 2, 3), 255, np.uint8)
    x, _ = ap.ArrayDataset(images, [0], 1, imagenet, 1, training=False)[0]
    expected = (1.0 - np.asarray(imagenet.mean)) / np.asarray(imagenet.std)
    np.testing.assert_allclose(x[0, 0, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("sizes", [[(32, 32)], [(40, 56), (64, 48)]], ids=["cifar", "resized"])
def test_validation_batches_agree_with_the_tf_data_pipeline(tmp_path, sizes):
    """CIFAR-sized images: the same numbers; larger ones: PIL's and TensorFlow's antialiased
    resizes of the same images differ by less than two pixel levels (PIL rounds to uint8)."""
    options = dp.DataOptions(data_dir=str(_image_folder(tmp_path, sizes)), holdout=2)
    transform = CIFAR if sizes == [(32, 32)] else EvalTransform(input_size=32, crop_pct=0.875)
    _, numpy_val, numpy_names = dp.load_datasets(
        dataclasses.replace(options, pipeline="numpy"), transform, 3, train=False)
    _, tf_val, tf_names = dp.load_datasets(
        dataclasses.replace(options, pipeline="tf.data"), transform, 3, train=False)
    assert numpy_names == tf_names == ["cat", "dog"]
    ours = np.concatenate([numpy_val[i][0] for i in range(len(numpy_val))])
    theirs = np.concatenate([x.numpy() for x, _ in tf_val])
    assert ours.shape == theirs.shape == (4, 32, 32, 3)
    std = np.asarray(transform.std) * 255
    difference = np.abs(ours - theirs) * std  # in pixel levels
    if sizes == [(32, 32)]:
        assert difference.max() == 0
    else:
        assert difference.mean() < 0.5 and difference.max() < 2.0


def test_training_images_are_resized_once_and_augmented_per_batch(tmp_path):
    options = dp.DataOptions(data_dir=str(_image_folder(tmp_path, [(40, 56)])), holdout=1,
                             pipeline="numpy")
    train, val, _ = dp.load_datasets(options, CIFAR, batch_size=2, augmentation="crop_flip")
    assert train.images.shape == (6, 32, 32, 3) and val.images.shape == (2, 32, 32, 3)
    x, y = train[0]
    assert x.shape == (2, 32, 32, 3) and y.shape == (2, 2)


def test_the_numpy_pipeline_names_what_it_cannot_do(tmp_path):
    options = dp.DataOptions(data_dir=str(_image_folder(tmp_path, [(32, 32)])), holdout=1,
                             pipeline="numpy")
    with pytest.raises(ValueError, match="--pipeline tf.data"):
        dp.load_datasets(options, CIFAR, 2, augmentation="inception")
    with pytest.raises(ValueError, match="--tfds needs the tf.data pipeline"):
        dp.load_datasets(dataclasses.replace(options, tfds="cifar10"), CIFAR, 2)
    with pytest.raises(ValueError, match="Unknown input pipeline 'pandas'"):
        dp.load_datasets(dataclasses.replace(options, pipeline="pandas"), CIFAR, 2)
    (tmp_path / "train" / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png is not a readable image"):
        dp.load_datasets(options, CIFAR, 2)


def test_auto_takes_tf_data_only_where_tensorflow_imports(monkeypatch):
    assert dp.resolve_pipeline("auto") == "tf.data"  # the test environment has TensorFlow
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now fails
    assert dp.resolve_pipeline("auto") == "numpy"
    assert dp.resolve_pipeline("tf.data") == "tf.data"


def test_mixed_precision_is_bfloat16_unless_the_gpu_predates_it():
    assert mixed_policy(None) == "mixed_bfloat16"        # CPU, TPU
    assert mixed_policy((9, 0)) == "mixed_bfloat16"      # H100
    assert mixed_policy((8, 0)) == "mixed_bfloat16"      # A100
    assert mixed_policy((7, 0)) == "mixed_float16"       # V100: no bfloat16 tensor cores
