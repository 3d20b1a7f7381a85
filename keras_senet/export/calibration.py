"""The representative images a full-integer int8 TFLite file is calibrated on.

    images = calibration_images(model, "photos/")              # an image folder
    images = calibration_images(model, "tfds:imagenette:validation")
    images = calibration_images(model, pixels)                  # uint8 / float (N, H, W, 3)

The converter runs the float model on each image and records the range of every tensor;
those ranges become the int8 scales. The images must therefore be what the model sees in
service: each goes through the model's evaluation transform (`model_facts.input_transform`,
at the model's input size): shorter side resized to `floor(size / crop_pct)`, centre crop,
`(x / 255 - mean) / std`.

Sources:
    a folder      every image file under it (.jpg .jpeg .png .bmp .gif; sub-folders such as
                  class folders included, hidden ones skipped), read with Pillow.
    "tfds:NAME:SPLIT"  the first images of a prepared tensorflow-datasets split (splits are
                  shuffled when tfds prepares them); nothing is downloaded.
    an array      (N, H, W, 3) RGB pixels 0..255 at the model's input size (already resized
                  and cropped); normalised here.

Every check runs before any conversion work: a missing or empty folder, fewer than
`MIN_CALIBRATION_IMAGES` images, an unreadable image (of those used), an image under half
the size it is resized to, an array of the wrong shape or range are each a ValueError
naming the fix.
"""

import dataclasses
import os

import numpy as np

from keras_senet.export.model_facts import input_transform

# Fewer images leave the recorded ranges to chance: the converter keeps each tensor's
# min / max over the set, and the extremes of the activations (which set the int8 scales)
# come from a few images in a hundred. Trained CIFAR SE-ResNet-20, top-1 on 5,000 held-out
# images (Keras 85.22%), three random calibration samples each: 4 images 84.58-85.06%
# (98.0-98.6% of top-1 classes unchanged), 8 images 84.80-85.16%, 16 images 84.98-85.08%,
# 32 images 85.18-85.38% (99.0-99.2% unchanged): 32 is the fewest of these at which every
# sample stayed within 0.2 points of float (applications/int8_accuracy.py: 32 and more).
MIN_CALIBRATION_IMAGES = 32
# How many are used when not told: TensorFlow advises a few hundred; on the CIFAR network
# 128 and 512 images did no better than 32, and calibration time grows with each image.
DEFAULT_CALIBRATION_IMAGES = 128
# An image smaller than this fraction of the size it is resized to is refused: blown up,
# it has none of the texture the model meets in service, and its activations would set
# ranges the real images exceed.
MIN_IMAGE_FRACTION = 0.5
TFDS_PREFIX = "tfds:"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def image_files(folder):
    """The image files under `folder`, sorted; hidden files and folders skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
    return found


def _tfds_name_split(data):
    """(name, split) of "tfds:NAME:SPLIT", else ValueError."""
    name, _, split = data[len(TFDS_PREFIX):].partition(":")
    if not name or not split:
        raise ValueError(f"calibration_data {data!r}: a tfds split is written "
                         "'tfds:NAME:SPLIT', e.g. 'tfds:imagenette:validation'.")
    return name, split


def _count_check(count, where, steps):
    """ValueError unless `count` images satisfy the minimum and `steps`."""
    if count == 0:
        raise ValueError(
            f"{where} holds no images ({', '.join(IMAGE_EXTENSIONS)}); give a folder of "
            "images like those the model will classify.")
    if count < MIN_CALIBRATION_IMAGES:
        raise ValueError(
            f"{where} holds {count} images; full-integer int8 needs at least "
            f"{MIN_CALIBRATION_IMAGES} to calibrate on (the int8 ranges are the extremes "
            "of the activations over these images: with fewer they are left to chance). "
            "Add images like those the model will classify.")
    if steps is not None and steps > count:
        raise ValueError(f"calibration_steps={steps} (--calibration-steps) but {where} holds "
                         f"only {count} images; lower it or add images.")


def check_calibration(calibration_data, calibration_steps):
    """The checks that need no model (the command line runs them before building one): the
    steps, the folder's existence and image count, the tfds spelling and package.

    Raises:
        ValueError: naming the problem and the fix.
    """
    if calibration_steps is not None and (
            not isinstance(calibration_steps, int) or isinstance(calibration_steps, bool)
            or calibration_steps < MIN_CALIBRATION_IMAGES):
        raise ValueError(f"calibration_steps (--calibration-steps) is the number of images "
                         f"to calibrate on, an int >= {MIN_CALIBRATION_IMAGES}; got "
                         f"{calibration_steps!r}.")
    if isinstance(calibration_data, np.ndarray):
        if calibration_data.ndim != 4 or calibration_data.shape[-1] != 3:
            raise ValueError("A calibration array holds RGB images (N, H, W, 3); got shape "
                             f"{calibration_data.shape}.")
        _count_check(len(calibration_data), "The calibration array", calibration_steps)
        return
    if not isinstance(calibration_data, (str, os.PathLike)):
        raise ValueError(
            "calibration_data must be an image folder, 'tfds:NAME:SPLIT' or an array of "
            f"pixels (N, H, W, 3); got {type(calibration_data).__name__}.")
    data = os.fspath(calibration_data)
    if data.startswith(TFDS_PREFIX):
        _tfds_name_split(data)
        import importlib.util

        try:
            found = importlib.util.find_spec("tensorflow_datasets") is not None
        except ValueError:  # in sys.modules without a spec (set to None: import refused)
            found = False
        if not found:
            raise ValueError(f"calibration_data {data!r} needs tensorflow-datasets: pip "
                             "install tensorflow-datasets (or 'keras-senet[data]').")
        return
    if not os.path.isdir(data):
        raise ValueError(f"Calibration folder {data!r} does not exist" +
                         (" (it is a file; give the folder of images)"
                          if os.path.exists(data) else "") + ".")
    _count_check(len(image_files(data)), f"Calibration folder {data!r}", calibration_steps)


def model_transform(model):
    """The model's evaluation transform at the model's own input size (square inputs)."""
    height, width = model.inputs[0].shape[1:3]
    if height is None or height != width:
        raise ValueError(f"Calibrating {model.name!r} from images needs a fixed square input; "
                         f"it takes {tuple(model.inputs[0].shape[1:])}. Pass an array of "
                         "pixels at its input size as calibration_data instead.")
    return dataclasses.replace(input_transform(model), input_size=int(height))


def _pick(count, steps):
    """Indices of `steps` of `count` items, spread over them (a fixed random sample)."""
    if steps >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, steps, replace=False))


def _check_size(where, height, width, transform):
    needed = MIN_IMAGE_FRACTION * transform.resize_size
    if min(height, width) < needed:
        raise ValueError(
            f"{where} is {width} x {height} pixels; it would be enlarged to a shorter side of "
            f"{transform.resize_size} for a model of input size {transform.input_size}. "
            f"Calibration images need a shorter side of at least {needed:g} (enlarged, they "
            "lack the detail the model sees in service and set int8 ranges too narrow): use "
            "images of the size the model will classify.")


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ValueError("Reading calibration images needs Pillow: pip install pillow (or "
                         "'keras-senet[data]').") from None
    return Image


def _folder_pixels(folder, steps, transform):
    from keras_senet.array_pipeline import decode_image

    image_module = _pillow()
    paths = image_files(folder)
    paths = [paths[i] for i in _pick(len(paths), steps)]
    for path in paths:
        try:
            with image_module.open(path) as image:
                width, height = image.size
        except (OSError, SyntaxError) as e:
            raise ValueError(f"Calibration image {path} is not a readable image ({e}); remove "
                             "it from the folder or replace it.") from None
        _check_size(f"Calibration image {path}", height, width, transform)
    return np.stack([decode_image(p, transform.input_size, transform, training=False)
                     for p in paths]).astype("float32")


def _tfds_pixels(data, steps, transform, calibration_steps):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from keras_senet.data_pipeline import eval_resize_crop

    name, split = _tfds_name_split(data)
    try:
        dataset = tfds.load(name, split=split, download=False)
    except Exception as e:  # tfds raises many kinds for a missing / unknown dataset
        raise ValueError(f"tensorflow-datasets could not load {name!r} split {split!r} "
                         f"({type(e).__name__}: {e}). Prepare it first (tfds build {name}) "
                         "or give an image folder.") from None
    pixels = []
    for index, example in enumerate(dataset.take(steps)):
        if "image" not in example:
            raise ValueError(f"{data!r} has no 'image' feature (it has {sorted(example)}); "
                             "give a tfds image-classification dataset or an image folder.")
        image = example["image"]
        _check_size(f"Image {index} of {data!r}", int(image.shape[0]), int(image.shape[1]),
                    transform)
        crop = eval_resize_crop(image, transform)
        pixels.append(tf.clip_by_value(tf.round(crop), 0.0, 255.0).numpy())
    _count_check(len(pixels), repr(data), calibration_steps)
    return np.stack(pixels).astype("float32")


def _array_pixels(array, steps, input_shape):
    if tuple(array.shape[1:]) != input_shape:
        raise ValueError(f"A calibration array must hold RGB images at the model's input "
                         f"size, shape (N, {', '.join(map(str, input_shape))}); got "
                         f"{array.shape}.")
    pixels = array[_pick(len(array), steps)].astype("float32")
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError("A calibration array holds RGB pixels 0..255 before normalisation "
                         f"(the model's transform is applied here); got values in "
                         f"[{pixels.min():g}, {pixels.max():g}].")
    if pixels.max() <= 1.0:
        raise ValueError("The calibration array's values are all within 0..1: pass pixels "
                         "0..255 (multiply by 255), not scaled images.")
    return pixels


def calibration_images(model, calibration_data, calibration_steps=None):
    """The calibration set: model inputs, float32 (N, H, W, 3), after the model's transform.

    Args:
        model: the Keras model to be converted (a fixed square input for folders and tfds).
        calibration_data: a folder, "tfds:NAME:SPLIT" or an array of pixels (see the module
            docstring).
        calibration_steps: how many images (>= `MIN_CALIBRATION_IMAGES`); default
            `DEFAULT_CALIBRATION_IMAGES`, or all there are when fewer. A folder or an array
            gives a fixed random sample of that many, a tfds split its first ones.

    Raises:
        ValueError: any of the bad inputs of the module docstring.
    """
    from keras_senet.applications.imagenet_utils import preprocess_input

    check_calibration(calibration_data, calibration_steps)
    steps = calibration_steps or DEFAULT_CALIBRATION_IMAGES
    if isinstance(calibration_data, np.ndarray):
        transform = input_transform(model)
        pixels = _array_pixels(calibration_data, steps, tuple(model.inputs[0].shape[1:]))
    else:
        transform = model_transform(model)
        data = os.fspath(calibration_data)
        if data.startswith(TFDS_PREFIX):
            pixels = _tfds_pixels(data, steps, transform, calibration_steps)
        else:
            pixels = _folder_pixels(data, steps, transform)
    return np.asarray(preprocess_input(pixels, mean=transform.mean, std=transform.std),
                      "float32")


def representative_dataset(images):
    """The converter's `representative_dataset`: a callable yielding [one image] batches."""
    def batches():
        for index in range(len(images)):
            yield [images[index:index + 1]]

    return batches
