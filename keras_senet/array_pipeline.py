"""An in-memory NumPy input pipeline: the training programs' data path without TensorFlow.

    train_ds, val_ds, names = load_datasets(DataOptions(data_dir="cifar10-train.tar.gz",
                                                        holdout=500, pipeline="numpy"), ...)

For image folders (or .tar.gz archives of one) that fit in memory, such as CIFAR-10: every
image is decoded once with Pillow into a uint8 array of shape (N, S, S, 3), and each batch is
cut from it in NumPy. Keras on JAX or PyTorch trains from it on a machine with no TensorFlow
(the GPU hosts this project borrows have none), and `keras.Model.fit` takes it on every
backend. The transforms are the tf.data pipeline's (`keras_senet.data_pipeline`):

    evaluation   shorter side resized to `transform.resize_size`, centre crop S x S
                 (decoded once); then (x / 255 - mean) / std
    "crop_flip"  resized to S x S once; per epoch: zero-pad by max(1, S / 8), a random
                 S x S crop and a random horizontal flip; then normalised the same way
    "none"       the evaluation transform

Batches are (float32 images (B, S, S, 3), float32 one-hot labels (B, classes)). The order and
the augmentation of batch i in epoch e depend only on (seed, e, i), so prefetching threads
and a resumed run see the same batches.
"""

import concurrent.futures
import os

import keras
import numpy as np

AUGMENTATIONS = ("crop_flip", "none")


def check_augmentation(augmentation):
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"The NumPy pipeline augments with one of {AUGMENTATIONS}, not "
                         f"{augmentation!r}; use the tf.data pipeline (--pipeline tf.data) for "
                         "it.")


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ValueError("The NumPy input pipeline decodes images with Pillow: "
                         "pip install pillow (or 'keras-senet[data]').") from None
    return Image


def decode_image(path, size, transform, training):
    """One image file as uint8 (size, size, 3), resized the way the tf.data pipeline does.

    Training images are resized to size x size (kept as they are when already that size);
    evaluation images get the transform's shorter-side resize and centre crop.
    """
    image_module = _pillow()
    try:
        with image_module.open(path) as image:
            image = image.convert("RGB")
    except (OSError, SyntaxError) as e:
        raise ValueError(f"{path} is not a readable image ({e}); remove it from the folder "
                         "or replace it.") from None
    if training:
        if image.size != (size, size):
            image = image.resize((size, size), image_module.BILINEAR)
        return np.asarray(image, np.uint8)
    resample = {"bicubic": image_module.BICUBIC, "nearest": image_module.NEAREST}.get(
        transform.interpolation, image_module.BILINEAR)
    width, height = image.size
    scale = transform.resize_size / min(width, height)
    new_width, new_height = round(width * scale), round(height * scale)
    if (new_width, new_height) != (width, height):
        image = image.resize((new_width, new_height), resample)
    left, top = (new_width - size) // 2, (new_height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)), np.uint8)


def decode_images(paths, size, transform, training):
    """uint8 (N, size, size, 3) of `paths`, decoded on every core."""
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        images = list(pool.map(lambda p: decode_image(p, size, transform, training), paths))
    return np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)


def random_crop_flip(images, rng, pad):
    """Zero-pad uint8 (B, S, S, 3) by `pad`, crop S x S at random offsets, flip half at random."""
    batch, size = images.shape[0], images.shape[1]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    top = rng.integers(0, 2 * pad + 1, batch)
    left = rng.integers(0, 2 * pad + 1, batch)
    flip = rng.random(batch) < 0.5
    span = np.arange(size)
    rows = (top[:, None] + span)[:, :, None]                                  # (B, S, 1)
    cols = left[:, None] + np.where(flip[:, None], span[::-1], span)          # (B, S)
    return padded[np.arange(batch)[:, None, None], rows, cols[:, None, :]]


class ArrayDataset(keras.utils.PyDataset):
    """Batches of (normalised float32 images, one-hot float32 labels) cut from arrays.

    Args:
        images: uint8 (N, S, S, 3).
        labels: int (N,).
        num_classes: width of the one-hot labels.
        transform: `EvalTransform` whose mean / std normalise the pixels.
        batch_size: B; the last batch is smaller unless `drop_remainder`.
        training: shuffle and augment each epoch (else the stored order, no augmentation).
        augmentation: "crop_flip" or "none".
        seed: the shuffles' and augmentations' seed.
    """

    def __init__(self, images, labels, num_classes, transform, batch_size, training,
                 augmentation="crop_flip", seed=0, drop_remainder=False, workers=4):
        super().__init__(workers=workers if training else 1)
        check_augmentation(augmentation)
        self.images, self.labels = images, np.asarray(labels, np.int64)
        self.num_classes, self.batch_size = num_classes, batch_size
        self.training, self.augmentation, self.seed = training, augmentation, seed
        self.drop_remainder = drop_remainder
        self.epoch = 0
        self._epoch_order = (None, None)  # (epoch, its permutation), computed on first use
        self._mean = np.asarray(transform.mean, np.float32) * 255.0
        self._scale = 1.0 / (np.asarray(transform.std, np.float32) * 255.0)

    def __len__(self):
        count = len(self.images) / self.batch_size
        return int(count) if self.drop_remainder else int(np.ceil(count))

    def on_epoch_end(self):
        self.epoch += 1

    def _order(self):
        if not self.training:
            return np.arange(len(self.images))
        epoch, order = self._epoch_order
        if epoch != self.epoch:
            epoch = self.epoch
            order = np.random.default_rng((self.seed, epoch)).permutation(len(self.images))
            self._epoch_order = epoch, order
        return order

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        picked = self._order()[index * self.batch_size:(index + 1) * self.batch_size]
        images = self.images[picked]
        if self.training and self.augmentation == "crop_flip":
            rng = np.random.default_rng((self.seed, self.epoch, index))
            images = random_crop_flip(images, rng, max(1, images.shape[1] // 8))
        x = (images.astype(np.float32) - self._mean) * self._scale
        y = np.zeros((len(picked), self.num_classes), np.float32)
        y[np.arange(len(picked)), self.labels[picked]] = 1.0
        return x, y


def load_datasets(train_split, val_split, num_classes, transform, batch_size, training=True,
                  augmentation="crop_flip", seed=0, drop_remainder=False):
    """(train ArrayDataset or None, val ArrayDataset) from ((paths, labels), (paths, labels))."""
    if training:
        check_augmentation(augmentation)  # before seconds of decoding
    size = transform.input_size
    val_paths, val_labels = val_split
    val_ds = ArrayDataset(decode_images(val_paths, size, transform, training=False), val_labels,
                          num_classes, transform, batch_size, training=False)
    train_ds = None
    if training:
        paths, labels = train_split
        train_ds = ArrayDataset(
            decode_images(paths, size, transform, training=augmentation == "crop_flip"),
            labels, num_classes, transform, batch_size, training=True,
            augmentation=augmentation, seed=seed, drop_remainder=drop_remainder)
    return train_ds, val_ds
