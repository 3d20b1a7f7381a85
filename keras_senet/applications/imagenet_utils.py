"""`preprocess_input` / `decode_predictions` for ImageNet checkpoints, shared by every family.

The class index ships with the package (keras_senet/data/imagenet_class_index.json, the
WordNet ids of ILSVRC-2012 in the standard order with their first lemma), so decoding works
offline: index 1 is ("n01443537", "goldfish"), 386 is ("n02504458", "African_elephant").
"""

import functools
import json
from importlib import resources

import numpy as np
from keras import backend, ops

from keras_senet.checkpoints import IMAGENET_MEAN, IMAGENET_STD


@functools.cache
def class_index():
    """{"0": ["n01440764", "tench"], ...}: the 1000 ImageNet classes."""
    text = resources.files("keras_senet.data").joinpath("imagenet_class_index.json").read_text()
    return json.loads(text)


def class_names():
    """The 1000 class names in index order."""
    index = class_index()
    return [index[str(i)][1] for i in range(len(index))]


DATA_FORMATS = ("channels_last", "channels_first")


def channel_axis(ndim, data_format):
    """The channel axis of an image array, as keras.applications reads it.

    channels_last: the last axis. channels_first: axis 0 of a single image (C, H, W),
    axis 1 of a batch (B, C, H, W).
    """
    if data_format not in DATA_FORMATS:
        raise ValueError(f"`data_format` must be one of {DATA_FORMATS} (or None for "
                         f"`keras.config.image_data_format()`); received {data_format!r}.")
    if ndim < 3:
        raise ValueError(f"`preprocess_input` expects images of rank 3 (H, W, C) or 4 "
                         f"(B, H, W, C); received rank {ndim}.")
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def preprocess_input(x, data_format=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """"torch" preprocessing: RGB 0..255 -> [0, 1] -> (x - mean) / std, per channel.

    Args:
        x: RGB images, values 0..255: one image (H, W, 3) or a batch (B, H, W, 3) in
            channels_last, (3, H, W) or (B, 3, H, W) in channels_first; a NumPy array (a
            float copy is returned; integer inputs are converted) or a tensor.
        data_format: "channels_last", "channels_first", or None for
            `keras.config.image_data_format()` (as in keras.applications).
        mean, std: per-channel statistics; the defaults are ImageNet's.

    Returns:
        The normalised images, float, in the layout of `x`.

    Raises:
        ValueError: an unknown `data_format`, or a channel axis without one value per
            channel of `mean`.
    """
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    data_format = data_format or backend.image_data_format()
    axis = channel_axis(len(x.shape), data_format)
    if x.shape[axis] is not None and x.shape[axis] != len(mean):
        raise ValueError(
            f"`preprocess_input` expects {len(mean)} channels on axis {axis} ({data_format}); "
            f"received images of shape {tuple(x.shape)}. Pass the `data_format` of the "
            "images.")
    # (3,) broadcasts over the last axis; (3, 1, 1) over the axis before (H, W).
    stats_shape = (len(mean),) + (1,) * (len(x.shape) - 1 - axis)
    mean = np.reshape(np.asarray(mean, dtype="float32"), stats_shape)
    std = np.reshape(np.asarray(std, dtype="float32"), stats_shape)
    if isinstance(x, np.ndarray):
        x = x.astype(backend.floatx() if not np.issubdtype(x.dtype, np.floating) else x.dtype)
        return (x / 255.0 - mean) / std
    x = ops.cast(x, backend.floatx())
    return (x / 255.0 - ops.convert_to_tensor(mean, x.dtype)) / ops.convert_to_tensor(std, x.dtype)


def decode_predictions(preds, top=5):
    """Decodes ImageNet predictions into `(class_id, class_name, score)` tuples.

    Args:
        preds: (samples, 1000) scores (NumPy array or tensor).
        top: how many classes to return per sample.

    Returns:
        One list of `top` tuples per sample, highest score first.
    """
    preds = ops.convert_to_numpy(preds)
    if len(preds.shape) != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
            f"(samples, 1000)). Received array with shape: {preds.shape}")
    index = class_index()
    results = []
    for pred in preds:
        top_indices = np.argsort(pred)[-top:][::-1]
        results.append([(*index[str(i)], pred[i]) for i in top_indices])
    return results
