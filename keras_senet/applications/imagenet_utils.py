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

from keras_senet.weights.sources import IMAGENET_MEAN, IMAGENET_STD


@functools.cache
def class_index():
    """{"0": ["n01440764", "tench"], ...}: the 1000 ImageNet classes."""
    text = resources.files("keras_senet.data").joinpath("imagenet_class_index.json").read_text()
    return json.loads(text)


def class_names():
    """The 1000 class names in index order."""
    index = class_index()
    return [index[str(i)][1] for i in range(len(index))]


def preprocess_input(x, data_format=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """"torch" preprocessing: RGB 0..255 -> [0, 1] -> (x - mean) / std, per channel.

    Args:
        x: RGB images, (..., H, W, 3), values 0..255; a NumPy array (a float copy is
            returned; integer inputs are converted) or a tensor.
        data_format: only "channels_last" (or None) is supported.
        mean, std: per-channel statistics; the defaults are ImageNet's.

    Returns:
        The normalised images, float.
    """
    if data_format not in (None, "channels_last"):
        raise ValueError(f"keras_senet supports channels_last only; received {data_format!r}.")
    mean = np.asarray(mean, dtype="float32")
    std = np.asarray(std, dtype="float32")
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
