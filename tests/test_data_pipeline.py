"""The shared input pipeline: image-folder splits, hold-out, archives, transforms."""

import os
import tarfile

import numpy as np
import pytest

from keras_senet import data_pipeline as dp
from keras_senet.training import default_transform
from keras_senet.checkpoints import EvalTransform
import keras_senet


def _touch_folder(root, per_class=5, classes=("b", "a")):
    for name in classes:
        os.makedirs(root / "train" / name)
        for i in range(per_class):
            (root / "train" / name / f"{i:04d}.jpg").write_bytes(b"")


def test_holdout_takes_the_last_images_of_each_class(tmp_path):
    _touch_folder(tmp_path)
    options = dp.DataOptions(data_dir=str(tmp_path), holdout=2, limit_per_class=2)
    (train, train_labels), (val, val_labels), names = dp.folder_splits(options)
    assert names == ["a", "b"]  # sorted: label index = alphabetical order
    assert [os.path.relpath(p, tmp_path / "train") for p in val] == [
        "a/0003.jpg", "a/0004.jpg", "b/0003.jpg", "b/0004.jpg"]
    assert [os.path.relpath(p, tmp_path / "train") for p in train] == [
        "a/0000.jpg", "a/0001.jpg", "b/0000.jpg", "b/0001.jpg"]
    assert list(val_labels) == [0, 0, 1, 1]


def test_missing_validation_is_a_clear_error(tmp_path):
    _touch_folder(tmp_path)
    with pytest.raises(ValueError, match="--holdout"):
        dp.folder_splits(dp.DataOptions(data_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="does not exist"):
        dp.folder_splits(dp.DataOptions(data_dir=str(tmp_path / "nowhere"), holdout=1))


def test_archives_are_extracted_once(tmp_path):
    _touch_folder(tmp_path / "src")
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "train", arcname="train")
    root = dp.extract_archive(str(archive), str(tmp_path / "out"))
    assert sorted(os.listdir(os.path.join(root, "train"))) == ["a", "b"]
    assert dp.extract_archive(str(archive), str(tmp_path / "out")) == root


def test_eval_transform_resizes_the_shorter_side_then_centre_crops():
    import tensorflow as tf

    transform = EvalTransform(input_size=32, crop_pct=0.5)
    image = tf.zeros((40, 80, 3), tf.uint8)
    assert tuple(dp.eval_resize_crop(image, transform).shape) == (32, 32, 3)
    # CIFAR models take 0..255 pixels: their default transform leaves values unchanged.
    cifar = default_transform(keras_senet.get_spec("resnet20_cifar"))
    pixels = tf.constant([[[0.0, 128.0, 255.0]]])
    np.testing.assert_allclose(dp.normalize(pixels, cifar).numpy(), pixels.numpy(), rtol=1e-6)
    imagenet = default_transform(keras_senet.get_spec("legacy_seresnet50"))
    assert imagenet.mean == (0.485, 0.456, 0.406) and imagenet.input_size == 224


def test_training_batches_mix_classes_even_when_the_listing_is_sorted(tmp_path):
    """A folder listing is sorted by class; every training batch must still mix the classes
    (batches of one or two classes make BatchNorm learn the batch, not the images)."""
    import tensorflow as tf

    paths, labels = [], []
    for label in range(4):
        for i in range(10_000):  # 40,000 entries: four times the shuffle buffer
            paths.append(str(tmp_path / f"{label}_{i % 10}.png"))
            labels.append(label)
    for label in range(4):
        for i in range(10):
            pixels = tf.fill((8, 8, 3), tf.constant(60 * label, tf.uint8))
            tf.io.write_file(str(tmp_path / f"{label}_{i}.png"), tf.io.encode_png(pixels))
    transform = default_transform(keras_senet.get_spec("resnet20_cifar"))
    ds = dp.make_dataset(paths, labels, 4, transform, batch_size=64, training=True,
                         cache=False)
    for _, one_hot in ds.take(3):
        classes_in_batch = np.unique(np.argmax(one_hot.numpy(), axis=1))
        assert len(classes_in_batch) == 4


def test_an_empty_class_folder_is_named_not_counted_as_a_class(tmp_path):
    _touch_folder(tmp_path)
    os.makedirs(tmp_path / "train" / "c")
    (tmp_path / "train" / "c" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"train/c'\] hold no images.*add its images or remove"):
        dp.folder_splits(dp.DataOptions(data_dir=str(tmp_path), holdout=1))


def test_hidden_folders_are_not_classes(tmp_path):
    _touch_folder(tmp_path)
    os.makedirs(tmp_path / "train" / ".ipynb_checkpoints")
    _, _, names = dp.folder_splits(dp.DataOptions(data_dir=str(tmp_path), holdout=1))
    assert names == ["a", "b"]


def test_a_validation_folder_that_is_not_a_training_class_is_named(tmp_path):
    _touch_folder(tmp_path)
    _touch_folder(tmp_path / "val", classes=("a", "zebra"))
    os.rename(tmp_path / "val" / "train", tmp_path / "val_tmp")
    os.rmdir(tmp_path / "val")
    os.rename(tmp_path / "val_tmp", tmp_path / "val")
    with pytest.raises(ValueError, match=r"val/zebra'\] are not classes of the training split"):
        dp.folder_splits(dp.DataOptions(data_dir=str(tmp_path)))


def _jpeg_folder(root, per_class=3, classes=("a", "b")):
    """root/train/<class>/<i>.jpg of random 24 x 20 pixels."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        os.makedirs(root / "train" / name)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "train" / name / f"{i}.jpg")
    return root


def _corrupt(path, kind):
    """Random bytes, or the first half of a real JPEG."""
    if kind == "random_bytes":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 600, np.uint8).tobytes())
    else:
        jpeg = (path.parent / "0.jpg").read_bytes()
        path.write_bytes(jpeg[:len(jpeg) // 2])


@pytest.mark.parametrize("kind", ["random_bytes", "truncated_jpeg"])
@pytest.mark.parametrize("split", ["train", "val"])
def test_a_corrupt_image_stops_the_tf_data_pipeline_naming_it(tmp_path, kind, split):
    import tensorflow as tf

    _jpeg_folder(tmp_path)
    # The last image of class "b" is held out for validation: "b/2.jpg".
    broken = tmp_path / "train" / "b" / ("1.jpg" if split == "train" else "2.jpg")
    _corrupt(broken, kind)
    options = dp.DataOptions(data_dir=str(tmp_path), holdout=1, pipeline="tf.data")
    transform = default_transform(keras_senet.get_spec("resnet20_cifar"))
    train_ds, val_ds, _ = dp.load_datasets(options, transform, batch_size=2)
    dataset = train_ds if split == "train" else val_ds
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"{broken}\] \[could not be read or decoded"):
        list(dataset)


def test_readable_folders_keep_their_batch_count_and_images(tmp_path):
    from PIL import Image

    from keras_senet.training import steps_in

    _jpeg_folder(tmp_path, per_class=5)
    paths, labels, _ = dp.list_image_folder(str(tmp_path / "train"))
    images = [(image.numpy(), int(label)) for image, label in dp.decode_files(paths, labels)]
    assert [label for _, label in images] == list(labels)
    for (image, _), path in zip(images, paths):
        assert image.shape == np.asarray(Image.open(path)).shape  # every file, in order
    options = dp.DataOptions(data_dir=str(tmp_path), holdout=1, pipeline="tf.data")
    transform = default_transform(keras_senet.get_spec("resnet20_cifar"))
    train_ds, val_ds, _ = dp.load_datasets(options, transform, batch_size=3)
    assert steps_in(train_ds) == 3 and steps_in(val_ds) == 1  # 8 and 2 images
