"""Deployment: a TF Serving SavedModel with serving signatures, TFLite (LiteRT) and ONNX.

    from keras_senet.export import export_saved_model, export_tflite, export_onnx
    model = keras_senet.create_model("seresnext50_32x4d", weights="imagenet")
    export_saved_model(model, "serving/seresnext50", version=1)   # serving/seresnext50/1/
    export_tflite(model, "seresnext50.tflite", quantize="dynamic")
    export_onnx(model, "seresnext50.onnx")

Every exporter verifies what it wrote against the Keras model (the SavedModel in a fresh
Python process) and raises `ExportError` when the outputs differ. TFLite and ONNX files are
checked on a few smooth, natural-looking synthetic images (`natural_images`: uniform noise
drives a trained network far outside what it was trained on, to logits in the hundreds),
relative to the scale of the outputs (see `export_tflite`). By default each traces the
model with every conv -> BatchNorm pair merged into one biased convolution
(`keras_senet.folding.fold_batch_norm`, `fold_bn=False` to keep the BatchNorms); the
verification compares with the unfolded Keras model, so it checks the folding as well.

SavedModel signatures (the names are the contract clients code against):

    serving_default(images: float32 [batch, H, W, 3], RGB 0..255)
    predict_image_bytes(image_bytes: string [batch], encoded JPEG / PNG / GIF / BMP)
      -> probabilities  float32 [batch, classes]
         top_k_indices  int32   [batch, k]
         top_k_scores   float32 [batch, k]
         top_k_labels   string  [batch, k]   (from assets/labels.txt, one label a line)

`serving_default` normalises with the evaluation transform's mean / std inside the graph;
`predict_image_bytes` first decodes each image, resizes its shorter side to
`round(input_size / crop_pct)` with the transform's interpolation (antialiased, rounded to
uint8 like PIL) and centre-crops `H x W`. A batch with an undecodable element fails with an
InvalidArgumentError naming the element's index; nothing else in the server is affected.

This module is TensorFlow-only: it traces the Keras model with the TensorFlow backend.
"""

import base64
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from keras_senet import atomic
from keras_senet.weights.sources import EvalTransform

SIGNATURE_IMAGES = "serving_default"
SIGNATURE_BYTES = "predict_image_bytes"
OUTPUT_KEYS = ("probabilities", "top_k_indices", "top_k_scores", "top_k_labels")
FORMATS = ("saved_model", "tflite", "onnx")
QUANTIZE = (None, "dynamic")
VERIFY_ATOL = 1e-5
# TFLite / ONNX verification (see `export_tflite`): float exports may differ from Keras by
# VERIFY_RTOL of the outputs' scale; dynamic-range quantised ones by QUANTIZED_RTOL, with the
# top-1 class of at least QUANTIZED_TOP1 of the batch unchanged.
VERIFY_BATCH = 4
VERIFY_RTOL = 1e-4
QUANTIZED_RTOL = 0.1
QUANTIZED_TOP1 = 0.75
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "area", "lanczos3")
# What `predict_image_bytes` decodes at most, by default (see `decode_and_crop`).
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_ASPECT_RATIO = 32.0


class ExportError(RuntimeError):
    """The model could not be exported, or the exported file does not match the Keras model."""


@dataclasses.dataclass
class ExportReport:
    """What an exporter wrote and how it checked it.

    Attributes:
        path: the exported file, or the SavedModel directory (`path/<version>` if versioned).
        format: "saved_model", "tflite" or "onnx".
        size_bytes: bytes on disk (the whole directory for a SavedModel).
        weights_bytes: bytes of the model's variables (sum of `nbytes`), the floor for size.
        seconds: wall time of the export, verification included.
        max_abs_diff: largest |exported - Keras| over the verification outputs (None if not
            verified).
        summary: for a SavedModel, its signatures in `saved_model_cli show --all` form.
        relative_diff: TFLite / ONNX: `max_abs_diff / max|Keras outputs|`, the figure the
            verification judges by (None if not verified, and for a SavedModel).
        top1_agreement: a verified dynamic-range quantised TFLite file: the fraction of the
            verification batch whose top-1 class is the Keras model's (else None).
    """

    path: str
    format: str
    size_bytes: int
    weights_bytes: int
    seconds: float
    max_abs_diff: float | None = None
    summary: str = ""
    relative_diff: float | None = None
    top1_agreement: float | None = None


def _tf():
    import tensorflow as tf

    import keras

    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            "keras_senet.export traces models with the TensorFlow backend; the Keras backend "
            f"is {keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing "
            "keras (export a .weights.h5 from another backend and reload it under TensorFlow).")
    return tf


# --- tracing without XLA islands -----------------------------------------------------------

@contextlib.contextmanager
def _plain_grouped_convolutions():
    """Traces grouped convolutions as plain TensorFlow ops, not XLA-compiled sub-functions.

    Keras' TensorFlow backend wraps every grouped convolution in
    `tf.function(jit_compile=True)` because old TensorFlow CPU kernels lacked grouped
    convolution. In a SavedModel that becomes a `StatefulPartitionedCall` marked
    `_XlaMustCompile`: tf2onnx cannot convert it, the TFLite converter and TF Serving need
    XLA for it. TensorFlow >= 2.16 runs grouped `Conv2D` natively on CPU and GPU, so while
    tracing an export we emit `tf.nn.convolution` directly (the same maths; the exporters'
    verification compares the outputs). `_check_no_xla` asserts the result.

    One exception: Grappler fuses Conv2D + bias (+ activation) into `_FusedConv2D`, whose CPU
    kernel rejects grouped convolutions ("Fused conv implementation does not support grouped
    convolutions"). A grouped Conv2D *layer* with a bias or an activation is therefore traced
    as one convolution per group and a concatenation. The zoo's grouped convolutions have
    neither (BatchNorm follows them) and stay single grouped ops.
    """
    import tensorflow as tf
    from keras import activations
    from keras.src.backend.tensorflow import nn as tf_nn
    from keras.src.layers.convolutional.base_conv import BaseConv

    original_conv = tf_nn.conv
    original_op = BaseConv.convolution_op

    def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
        data_format = tf_nn.backend.standardize_data_format(data_format)
        if data_format != "channels_last" or len(inputs.shape) != 4:
            return original_conv(inputs, kernel, strides, padding, data_format, dilation_rate)
        return tf.nn.convolution(inputs, kernel, strides, padding.upper(),
                                 data_format="NHWC", dilations=dilation_rate)

    def convolution_op(self, inputs, kernel):
        fused_after = self.use_bias or self.activation not in (None, activations.linear)
        if (self.groups == 1 or not fused_after or self.rank != 2
                or self.data_format != "channels_last" or type(self).call is not BaseConv.call):
            return original_op(self, inputs, kernel)
        per_group = zip(tf.split(inputs, self.groups, axis=-1),
                        tf.split(kernel, self.groups, axis=-1))
        return tf.concat(
            [tf.nn.convolution(x, k, list(self.strides), self.padding.upper(),
                               data_format="NHWC", dilations=list(self.dilation_rate))
             for x, k in per_group], axis=-1)

    tf_nn.conv = conv
    BaseConv.convolution_op = convolution_op
    try:
        yield
    finally:
        tf_nn.conv = original_conv
        BaseConv.convolution_op = original_op


def _check_no_xla(concrete_function):
    """Raises if the traced graph still holds an XLA-compiled function (see above)."""
    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        if function.attr.get("_XlaMustCompile") and function.attr["_XlaMustCompile"].b:
            raise ExportError(
                f"The traced model contains an XLA-compiled function ({function.signature.name})"
                "; it would not convert to ONNX / TFLite or serve without XLA. Please report it "
                "with the model name.")
        nodes.extend(function.node_def)
    for node in nodes:
        if "_XlaMustCompile" in node.attr and node.attr["_XlaMustCompile"].b:
            raise ExportError(f"The traced model contains an XLA-compiled op {node.name!r}.")


def _trace_error(model, error):
    return ExportError(
        f"Could not trace {model.name!r} into a TensorFlow graph: {type(error).__name__}: "
        f"{error}. Every layer's `call` must use keras.ops / TensorFlow ops only (no NumPy "
        "conversion, no Python side effects on tensor values).")


def _inference_model(model, fold_bn, log):
    """The model to trace: `model` with its BatchNorms folded into the convolutions, or as is."""
    if not fold_bn:
        return model
    from keras_senet.folding import fold_batch_norm

    folded, count = fold_batch_norm(model)
    if log and count:
        log(f"folded {count} BatchNorm layers into the convolutions before them")
    return folded


# --- model facts ---------------------------------------------------------------------------

def weights_bytes(model):
    """Bytes of the model's variables: what any export must store at least once."""
    return int(sum(np.dtype(v.dtype).itemsize * int(np.prod(v.shape)) for v in model.weights))


def _classifier(model):
    """(num_classes, outputs_are_probabilities) of a classification model, else ValueError."""
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise ValueError(
            f"Serving signatures need a classifier with one (batch, classes) output; "
            f"{model.name!r} outputs {[tuple(o.shape) for o in model.outputs]}. Build it with "
            "include_top=True.")
    activation = getattr(model.layers[-1], "activation", None)
    activation = getattr(activation, "__name__", None)
    if activation not in ("softmax", "linear"):
        raise ValueError(
            f"The classifier of {model.name!r} ends in activation {activation!r}; serving "
            "signatures report probabilities, so export a model built with "
            "classifier_activation='softmax' or None (logits).")
    return int(model.outputs[0].shape[-1]), activation == "softmax"


def _input_hw(model, image_size, transform):
    """The fixed (H, W) the signatures take: the model's, else `image_size`, else the transform's."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4 or model.inputs[0].shape[-1] != 3:
        raise ValueError(
            f"Expected a model with one (batch, H, W, 3) input; {model.name!r} has "
            f"{[tuple(i.shape) for i in model.inputs]}.")
    h, w = model.inputs[0].shape[1:3]
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(f"`image_size` must be an int or (height, width); got {image_size!r}.")
        if (h is not None and h != size[0]) or (w is not None and w != size[1]):
            raise ValueError(
                f"image_size={image_size!r} does not match the model's fixed input size "
                f"{(h, w)}; rebuild the model with input_shape=({size[0]}, {size[1]}, 3).")
        return size
    if h is not None and w is not None:
        return int(h), int(w)
    size = transform.input_size
    return (h or size, w or size)


def _transform_of(model, transform):
    if transform is not None:
        if not isinstance(transform, EvalTransform):
            raise ValueError(f"`transform` must be a keras_senet EvalTransform; got {transform!r}.")
        result = transform
    else:
        result = _input_transform(model)
    if result.interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"Unsupported interpolation {result.interpolation!r}; expected one of {INTERPOLATIONS}.")
    return result


def _labels_for(num_classes, labels):
    if labels is None:
        if num_classes == 1000:
            from keras_senet.applications.imagenet_utils import class_names

            return class_names()
        return [str(i) for i in range(num_classes)]
    labels = [str(label) for label in labels]
    if len(labels) != num_classes:
        raise ValueError(f"Got {len(labels)} labels for a model with {num_classes} classes.")
    bad = [label for label in labels if "\n" in label or "\r" in label or not label]
    if bad:
        raise ValueError(f"Labels must be non-empty single lines; got {bad[:3]!r}.")
    return labels


# --- the serving graph ---------------------------------------------------------------------

def image_header_size(image_bytes):
    """(height, width) int64 of an encoded JPEG / PNG / GIF / BMP, read from its header
    without decoding it; (-1, -1) for any other format.

    JPEG: `tf.image.extract_jpeg_shape` (raises InvalidArgumentError on a corrupt header);
    PNG: the IHDR chunk (big-endian); GIF: the logical screen (little-endian); BMP: the info
    header (little-endian, a negative height is a top-down image). The numbers the decoders
    go on to allocate for.
    """
    import tensorflow as tf

    head = tf.io.decode_raw(tf.strings.substr(image_bytes, 0, 26), tf.uint8)
    head = tf.cast(tf.pad(head, [[0, 26 - tf.shape(head)[0]]]), tf.int64)

    def unsigned(offset, length, big_endian):
        value = tf.constant(0, tf.int64)
        for i in range(length):
            shift = 8 * (length - 1 - i if big_endian else i)
            value += tf.bitwise.left_shift(head[offset + i], shift)
        return value

    def int32_le(offset):
        value = unsigned(offset, 4, big_endian=False)
        return tf.where(value >= 2 ** 31, value - 2 ** 32, value)

    def starts_with(magic):
        return tf.equal(tf.strings.substr(image_bytes, 0, len(magic)), magic)

    png = tf.stack([unsigned(20, 4, True), unsigned(16, 4, True)])
    gif = tf.stack([unsigned(8, 2, False), unsigned(6, 2, False)])
    bmp = tf.stack([tf.abs(int32_le(22)), int32_le(18)])
    other = tf.where(starts_with(b"\x89PNG\r\n\x1a\n"), png,
                     tf.where(starts_with(b"GIF8"), gif,
                              tf.where(starts_with(b"BM"), bmp,
                                       tf.constant([-1, -1], tf.int64))))
    return tf.cond(tf.io.is_jpeg(image_bytes),
                   lambda: tf.cast(tf.image.extract_jpeg_shape(image_bytes)[:2], tf.int64),
                   lambda: other)


def within_limits(height_width, max_pixels=MAX_IMAGE_PIXELS,
                  max_aspect_ratio=MAX_ASPECT_RATIO):
    """A bool tensor: may an image of `height_width` (from `image_header_size`) be decoded?

    False when it has more than `max_pixels` pixels or its long side exceeds
    `max_aspect_ratio` times its short side. Sizes of 0 or below pass: the decoder rejects
    those itself.
    """
    import tensorflow as tf

    height, width = height_width[0], height_width[1]
    valid = (height > 0) & (width > 0)
    small = height * width <= max_pixels
    long, short = tf.maximum(height, width), tf.minimum(height, width)
    compact = tf.cast(long, tf.float64) <= max_aspect_ratio * tf.cast(short, tf.float64)
    return tf.logical_not(valid) | (small & compact)


def _limits_message(max_pixels, max_aspect_ratio):
    return (f"exceed the limits of this export: at most {max_pixels} pixels and a long side "
            f"at most {max_aspect_ratio:g} times the short side (export_saved_model's "
            "max_image_pixels / max_aspect_ratio, keras-senet export --max-image-pixels / "
            "--max-aspect-ratio). Downscale or crop them before sending")


def decode_and_crop(image_bytes, size, transform, max_pixels=MAX_IMAGE_PIXELS,
                    max_aspect_ratio=MAX_ASPECT_RATIO):
    """One encoded image -> float32 (H, W, 3) RGB 0..255 with the evaluation transform.

    Check the size in the image's header against `max_pixels` / `max_aspect_ratio`
    (InvalidArgumentError beyond them, before anything is decoded), decode (JPEG with the
    accurate IDCT as PIL, PNG / GIF first frame / BMP; to RGB), resize the shorter side to
    `round(H / crop_pct)` (non-square: each side to `round(side / crop_pct)`) with
    antialiasing, round and clip to 0..255 as PIL's uint8 output, centre-crop `size`.

    The limits bound the work: the decoded image holds at most `3 * max_pixels` bytes and
    the resized one at most `round(H / crop_pct)**2 * max_aspect_ratio` pixels.

    Args:
        image_bytes: scalar string tensor.
        size: (H, W).
        transform: the `EvalTransform`.
        max_pixels: the largest height * width accepted.
        max_aspect_ratio: the largest long side / short side accepted.
    """
    import tensorflow as tf

    height_width = image_header_size(image_bytes)
    message = tf.strings.format(
        "An image of {} x {} pixels (height x width): its size and shape "
        + _limits_message(max_pixels, max_aspect_ratio), (height_width[0], height_width[1]))
    check = tf.debugging.Assert(
        within_limits(height_width, max_pixels, max_aspect_ratio), [message])
    with tf.control_dependencies([check]):
        return _decode_and_crop_unchecked(tf.identity(image_bytes), size, transform)


def _decode_and_crop_unchecked(image_bytes, size, transform):
    """`decode_and_crop` without the size limits (for bytes already checked)."""
    import tensorflow as tf

    height, width = size
    known = tf.reduce_any(tf.not_equal(image_header_size(image_bytes), -1))
    check = tf.debugging.Assert(known, ["image_bytes is not a JPEG, PNG, GIF or BMP image"])
    with tf.control_dependencies([check]):
        # JPEG with the accurate integer IDCT: the same pixels as PIL / libjpeg's default,
        # where TensorFlow's default (fast IDCT) is about one level off on average.
        image = tf.cond(
            tf.io.is_jpeg(image_bytes),
            lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: tf.ensure_shape(
                tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
                [None, None, 3]))
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    if height == width:
        target = float(round(height / transform.crop_pct))
        short = tf.minimum(shape[0], shape[1])
        # torchvision Resize(int): the short side -> target, the long one -> int(target*long/short)
        new_hw = tf.where(shape == short, target, tf.floor(target * shape / short))
        new_hw = tf.cast(new_hw, tf.int32)
    else:
        new_hw = tf.constant([round(height / transform.crop_pct),
                              round(width / transform.crop_pct)], tf.int32)
    # Resized straight from uint8 (converted inside the kernel): no float copy of the
    # full-size image.
    image = tf.image.resize(image, new_hw, method=transform.interpolation, antialias=True)
    image = tf.clip_by_value(tf.round(tf.cast(image, tf.float32)), 0.0, 255.0)
    top = tf.cast(tf.round(tf.cast(new_hw[0] - height, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_hw[1] - width, tf.float32) / 2.0), tf.int32)
    image = image[top:top + height, left:left + width]
    return tf.ensure_shape(image, (height, width, 3))


def _make_module(model, size, transform, labels, top_k, outputs_are_probabilities, work_dir,
                 max_pixels=MAX_IMAGE_PIXELS, max_aspect_ratio=MAX_ASPECT_RATIO):
    """A tf.Module with the two serving functions; variables tracked once, by the module.
    The labels file is written into `work_dir` (the SavedModel copies it as an asset)."""
    tf = _tf()
    height, width = size
    mean = tf.constant(np.asarray(transform.mean, "float32") * 255.0)
    std = tf.constant(np.asarray(transform.std, "float32") * 255.0)
    dtype = model.inputs[0].dtype

    module = tf.Module()
    # The tf.Variables behind the Keras variables, each tracked exactly once (Keras' own
    # `model.export()` tracks the Keras wrappers as well and stores every variable twice).
    module.model_variables = [v.value for v in model.weights]
    labels_file = os.path.join(work_dir, "labels.txt")
    with open(labels_file, "w", encoding="utf-8") as f:
        f.write("\n".join(labels) + "\n")
    module.labels_asset = tf.saved_model.Asset(labels_file)
    module.labels_table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            module.labels_asset, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE),
        default_value="")

    def classify(images):
        x = (tf.cast(images, tf.float32) - mean) / std
        y = model(tf.cast(x, dtype), training=False)
        y = tf.cast(y, tf.float32)
        probabilities = y if outputs_are_probabilities else tf.nn.softmax(y, axis=-1)
        scores, indices = tf.math.top_k(probabilities, k=top_k)
        return {
            "probabilities": probabilities,
            "top_k_indices": indices,
            "top_k_scores": scores,
            "top_k_labels": module.labels_table.lookup(tf.cast(indices, tf.int64)),
        }

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32, "images")])
    def serve_images(images):
        return classify(images)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, "image_bytes")])
    def serve_bytes(image_bytes):
        return classify(decode_batch(image_bytes, size, transform, max_pixels,
                                     max_aspect_ratio))

    module.serve_images = serve_images
    module.serve_bytes = serve_bytes
    return module


def decode_batch(image_bytes, size, transform, max_pixels=MAX_IMAGE_PIXELS,
                 max_aspect_ratio=MAX_ASPECT_RATIO):
    """string [batch] -> float32 [batch, H, W, 3]; a bad element fails naming its index.

    Each element's header is checked against the limits (see `decode_and_crop`) and only
    images within them are decoded, one at a time, in a tf.data pipeline that drops elements
    whose decoding fails. Then assertions (InvalidArgumentError, which TF Serving answers
    with HTTP 400 / INVALID_ARGUMENT) report the indices of the undecodable elements and of
    those over the limits.
    """
    import tensorflow as tf

    height, width = size
    count = tf.shape(image_bytes, out_type=tf.int64)[0]

    def decode(i, data):
        allowed = within_limits(image_header_size(data), max_pixels, max_aspect_ratio)
        image = tf.cond(allowed, lambda: _decode_and_crop_unchecked(data, size, transform),
                        lambda: tf.zeros([height, width, 3], tf.float32))
        return i, image, allowed

    dataset = tf.data.Dataset.from_tensor_slices((tf.range(count), image_bytes))
    dataset = dataset.map(decode).ignore_errors().batch(tf.maximum(count, 1))
    initial = (tf.zeros([0], tf.int64), tf.zeros([0, height, width, 3], tf.float32),
               tf.zeros([0], tf.bool))
    indices, images, allowed = dataset.reduce(
        initial, lambda state, batch: tuple(tf.concat([s, b], 0) for s, b in zip(state, batch)))
    decoded = tf.scatter_nd(indices[:, None], tf.ones_like(indices), [count])
    bad = tf.reshape(tf.where(tf.equal(decoded, 0)), [-1])
    too_large = tf.boolean_mask(indices, tf.logical_not(allowed))
    checks = [
        tf.debugging.Assert(
            tf.equal(tf.size(bad), 0),
            ["image_bytes elements that are not decodable JPEG/PNG/GIF/BMP images, by index:",
             bad], summarize=16),
        tf.debugging.Assert(
            tf.equal(tf.size(too_large), 0),
            ["image_bytes elements whose size and shape "
             + _limits_message(max_pixels, max_aspect_ratio) + "; by index:", too_large],
            summarize=16),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images)


# --- writing atomically --------------------------------------------------------------------

def _export_dir(path, version):
    path = os.fspath(path)
    if version is None:
        return path
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(
            f"`version` must be a non-negative int (TF Serving reads numeric version "
            f"directories); got {version!r}.")
    return os.path.join(path, str(version))


def _check_target(target, overwrite):
    if os.path.isfile(target):
        raise ValueError(f"{target} is a file; give a directory path for the SavedModel.")
    if os.path.isdir(target) and os.listdir(target) and not overwrite:
        raise ValueError(
            f"{target} exists and is not empty; pass overwrite=True (--overwrite) to replace it.")


def _check_limits(max_image_pixels, max_aspect_ratio):
    if (not isinstance(max_image_pixels, int) or isinstance(max_image_pixels, bool)
            or max_image_pixels < 1):
        raise ValueError(f"`max_image_pixels` must be a positive int; got {max_image_pixels!r}.")
    if (not isinstance(max_aspect_ratio, (int, float)) or isinstance(max_aspect_ratio, bool)
            or not max_aspect_ratio >= 1):
        raise ValueError(f"`max_aspect_ratio` must be a number >= 1 (long side / short side); "
                         f"got {max_aspect_ratio!r}.")


def _private_temporary_files(stage):
    """TensorFlow's and our temporary files inside the staging directory (swept with it)."""
    return atomic.temporary_files_in(os.path.join(stage.path, "tmp"))


def _publish(stage, source, overwrite):
    """Renames the staged `source` to the target; an existing non-empty target only with
    `overwrite` (it may have appeared while exporting)."""
    target = stage.target
    exists = os.path.lexists(target)
    empty_dir = os.path.isdir(target) and not os.path.islink(target) and not os.listdir(target)
    if exists and not (overwrite or empty_dir):
        raise ValueError(f"{target} appeared while exporting; not replacing it.")
    stage.publish(source, replace=exists)


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


# --- verification in a fresh process ---------------------------------------------------------

_VERIFY_SCRIPT = r"""
import base64, ctypes, json, os, signal, sys, threading, time

saved_dir, inputs_path, outputs_path, parent = sys.argv[1:5]


def die_with_parent(parent):
    # Linux: the kernel kills this process when its parent dies (even by SIGKILL);
    # elsewhere a thread notices within a second.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:  # died before prctl took effect
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


die_with_parent(int(parent))
import numpy as np
import tensorflow as tf

loaded = tf.saved_model.load(saved_dir)
lines = []
for name in sorted(loaded.signatures):
    fn = loaded.signatures[name]
    lines.append(f"signature_def[{name!r}]:")
    _, kwargs = fn.structured_input_signature
    for key, spec in sorted(kwargs.items()):
        lines.append(f"  inputs[{key!r}] dtype: {spec.dtype.name} shape: {spec.shape.as_list()}")
    for key, spec in sorted(fn.structured_outputs.items()):
        lines.append(f"  outputs[{key!r}] dtype: {spec.dtype.name} shape: {spec.shape.as_list()}")
    lines.append(f"  method: tensorflow/serving/predict")
inputs = np.load(inputs_path)
out = {}
for key, value in loaded.signatures["serving_default"](images=tf.constant(inputs["images"])).items():
    out["images/" + key] = value.numpy()
with open(inputs_path + ".bytes.json") as f:
    image_bytes = [base64.b64decode(b) for b in json.load(f)]
result = loaded.signatures["predict_image_bytes"](image_bytes=tf.constant(image_bytes))
for key, value in result.items():
    out["bytes/" + key] = value.numpy()
with open(outputs_path + ".labels.json", "w") as f:
    json.dump({k: v.astype(str).tolist() for k, v in out.items() if v.dtype.kind in "SO"}, f)
np.savez(outputs_path, **{k: v for k, v in out.items() if v.dtype.kind not in "SO"})
print("\n".join(lines))
"""


def _sample_inputs(size, seed=0):
    """Two smooth random images (0..255 float32) and two encoded images of other sizes."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    height, width = size

    def smooth(h, w):
        coarse = rng.uniform(0, 255, (max(h // 8, 2), max(w // 8, 2), 3)).astype("float32")
        return tf.image.resize(coarse, (h, w), method="bicubic").numpy().clip(0, 255)

    images = np.stack([smooth(height, width), smooth(height, width)])
    jpeg = tf.io.encode_jpeg(smooth(height + 37, width + 11).astype("uint8"), quality=95)
    png = tf.io.encode_png(smooth(height * 2, width + 5).astype("uint8"))
    image_bytes = [jpeg.numpy(), png.numpy()]
    return images.astype("float32"), image_bytes


def _reference(model, size, transform, labels, top_k, outputs_are_probabilities,
               images, image_bytes):
    """What the signatures should return, computed eagerly with the Keras model."""
    import tensorflow as tf

    from keras_senet.applications.imagenet_utils import preprocess_input

    decoded = np.stack([decode_and_crop(tf.constant(b), size, transform).numpy()
                        for b in image_bytes])
    expected = {}
    for prefix, pixels in (("images", images), ("bytes", decoded)):
        y = model.predict(preprocess_input(pixels, mean=transform.mean, std=transform.std),
                          verbose=0).astype("float64")
        if not outputs_are_probabilities:
            y = np.exp(y - y.max(-1, keepdims=True))
            y /= y.sum(-1, keepdims=True)
        expected[prefix] = y
    return expected


def _verify_saved_model(export_dir, model, size, transform, labels, top_k,
                        outputs_are_probabilities, atol):
    images, image_bytes = _sample_inputs(size)
    expected = _reference(model, size, transform, labels, top_k, outputs_are_probabilities,
                          images, image_bytes)
    with tempfile.TemporaryDirectory(prefix="keras_senet_verify_") as tmp:
        inputs_path = os.path.join(tmp, "inputs.npz")
        outputs_path = os.path.join(tmp, "outputs.npz")
        np.savez(inputs_path, images=images)
        with open(inputs_path + ".bytes.json", "w") as f:
            json.dump([base64.b64encode(b).decode("ascii") for b in image_bytes], f)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        proc = subprocess.run(
            [sys.executable, "-c", _VERIFY_SCRIPT, export_dir, inputs_path, outputs_path,
             str(os.getpid())],
            capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise ExportError(
                f"Reloading the SavedModel in a fresh process failed:\n{proc.stderr[-3000:]}")
        got = dict(np.load(outputs_path))
        with open(outputs_path + ".labels.json") as f:
            got_labels = json.load(f)
    worst = 0.0
    for prefix in ("images", "bytes"):
        reference = expected[prefix]
        probabilities = got[f"{prefix}/probabilities"]
        indices = got[f"{prefix}/top_k_indices"]
        scores = got[f"{prefix}/top_k_scores"]
        diff = max(float(np.abs(probabilities - reference).max()),
                   float(np.abs(scores - np.take_along_axis(reference, indices, 1)).max()))
        worst = max(worst, diff)
        if diff > atol:
            raise ExportError(
                f"The reloaded SavedModel's {prefix!r} outputs differ from the Keras model by "
                f"{diff:.3g} (> {atol:g}).")
        want_labels = [[labels[i] for i in row] for row in indices]
        if got_labels[f"{prefix}/top_k_labels"] != want_labels:
            raise ExportError(f"The reloaded SavedModel's {prefix!r} top_k_labels do not match "
                              "its top_k_indices.")
        if not np.all(np.diff(scores, axis=1) <= 0):
            raise ExportError("top_k_scores are not sorted in decreasing order.")
    return worst, proc.stdout.strip()


# --- SavedModel ----------------------------------------------------------------------------

def export_saved_model(model, path, *, version=None, top_k=5, labels=None, image_size=None,
                       transform=None, verify=True, overwrite=False, atol=VERIFY_ATOL,
                       fold_bn=True, max_image_pixels=MAX_IMAGE_PIXELS,
                       max_aspect_ratio=MAX_ASPECT_RATIO, log=print):
    """Writes a TF Serving SavedModel with the `serving_default` and `predict_image_bytes`
    signatures (see the module docstring), then reloads and checks it in a fresh process.

    Everything is written in a staging directory `.NAME.tmp-XXXX` beside the target and
    renamed into place once verified, with the umask's modes (0755 / 0644 under umask 022,
    readable by TF Serving's user). A process killed meanwhile leaves only that directory
    (TF Serving ignores it: not a number), swept by the next export beside it; TensorFlow's
    own temporary files go there too, and the verifying process dies with its parent.

    Args:
        model: a keras_senet classifier (include_top=True), TensorFlow backend.
        path: the export directory; with `version`, the model base path of TF Serving.
        version: write `path/<version>/saved_model.pb` (the layout TF Serving expects).
        top_k: k of the top-k outputs, 1..classes.
        labels: class names (one per class); default: the ImageNet names for 1000-class
            models, else "0", "1", ...; written to `assets/labels.txt`.
        image_size: the fixed H (or (H, W)) when the model takes any size; must equal the
            model's input size when that is fixed. Default: the model's, else the transform's.
        transform: an `EvalTransform` overriding `model.pretrained_cfg.transform` (default:
            that, else ImageNet mean / std, crop 0.875, bilinear).
        verify: reload in a subprocess and compare with the Keras model (raises `ExportError`
            beyond `atol`); also logs the signatures, as `saved_model_cli show --all` would.
        overwrite: replace an existing non-empty export directory.
        fold_bn: trace the model with its BatchNorms folded into the convolutions.
        max_image_pixels: `predict_image_bytes` rejects (InvalidArgumentError: HTTP 400)
            images with more pixels, read from their headers before decoding.
        max_aspect_ratio: ... and images whose long side exceeds this times the short side.
        log: a callable taking one string, or None for silence.

    Returns:
        An `ExportReport`.

    Raises:
        ValueError: bad arguments, a non-classifier model, or an existing export directory.
        ExportError: tracing failed or the reloaded SavedModel disagrees with the model.
    """
    tf = _tf()
    start = time.perf_counter()
    log = log or (lambda message: None)
    num_classes, outputs_are_probabilities = _classifier(model)
    if not isinstance(top_k, int) or not 1 <= top_k <= num_classes:
        raise ValueError(f"`top_k` must be an int in [1, {num_classes}]; got {top_k!r}.")
    transform = _transform_of(model, transform)
    size = _input_hw(model, image_size, transform)
    labels = _labels_for(num_classes, labels)
    _check_limits(max_image_pixels, max_aspect_ratio)
    target = _export_dir(path, version)
    _check_target(target, overwrite)

    with atomic.staging_dir(target) as stage, _private_temporary_files(stage):
        traced = _inference_model(model, fold_bn, log)
        module = _make_module(traced, size, transform, labels, top_k,
                              outputs_are_probabilities, stage.path, max_image_pixels,
                              max_aspect_ratio)
        try:
            with _plain_grouped_convolutions():
                images_fn = module.serve_images.get_concrete_function()
                bytes_fn = module.serve_bytes.get_concrete_function()
        except ExportError:
            raise
        except Exception as e:
            raise _trace_error(model, e) from e
        _check_no_xla(images_fn)
        _check_no_xla(bytes_fn)
        saved = os.path.join(stage.path, "saved_model")
        tf.saved_model.save(
            module, saved,
            signatures={SIGNATURE_IMAGES: images_fn, SIGNATURE_BYTES: bytes_fn},
            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
        diff, summary = None, ""
        if verify:
            diff, summary = _verify_saved_model(
                saved, model, size, transform, labels, top_k, outputs_are_probabilities, atol)
        _publish(stage, saved, overwrite)
    report = ExportReport(target, "saved_model", _dir_size(target), weights_bytes(traced),
                          time.perf_counter() - start, diff, summary)
    log(f"SavedModel written to {target} ({report.size_bytes / 1e6:.1f} MB; variables "
        f"{report.weights_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s")
    if verify:
        log(f"verified in a fresh process: max |SavedModel - Keras| = {diff:.2g}\n{summary}")
    return report


# --- TFLite / ONNX -------------------------------------------------------------------------

def _model_function(model):
    """(tf.Module tracking the variables, its tf.function model(inputs), concrete function):
    a variable batch, grouped convolutions without XLA."""
    tf = _tf()
    shape = [None, *model.inputs[0].shape[1:]]
    if None in shape[1:]:
        raise ValueError(
            f"{model.name!r} takes inputs of any size {tuple(model.inputs[0].shape)}; rebuild "
            "it with a fixed input_shape=(H, W, 3) to export TFLite / ONNX.")

    module = tf.Module()
    module.model_variables = [v.value for v in model.weights]

    @tf.function(input_signature=[tf.TensorSpec(shape, model.inputs[0].dtype, "inputs")])
    def serve(inputs):
        return {"outputs": model(inputs, training=False)}

    module.serve = serve
    try:
        with _plain_grouped_convolutions():
            concrete = serve.get_concrete_function()
    except Exception as e:
        raise _trace_error(model, e) from e
    _check_no_xla(concrete)
    return module, concrete


def _bilinear(grid, height, width):
    """Upsamples a (h, w, C) grid to (height, width, C) bilinearly (corners aligned)."""
    rows = np.linspace(0.0, grid.shape[0] - 1, height)
    cols = np.linspace(0.0, grid.shape[1] - 1, width)
    r0 = np.minimum(np.floor(rows).astype(int), grid.shape[0] - 2)
    c0 = np.minimum(np.floor(cols).astype(int), grid.shape[1] - 2)
    fr = (rows - r0)[:, None, None]
    fc = (cols - c0)[None, :, None]
    top = grid[r0][:, c0] * (1 - fc) + grid[r0][:, c0 + 1] * fc
    bottom = grid[r0 + 1][:, c0] * (1 - fc) + grid[r0 + 1][:, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def natural_images(size, batch=VERIFY_BATCH, seed=0):
    """`batch` smooth, natural-looking synthetic RGB images: uint8 (batch, H, W, 3), 0..255.

    Each is a 4 x 4 field of random colours upsampled bilinearly to `size` (regions and
    gradients), plus shading from a field at a quarter of the resolution (std 20 levels) and
    mild pixel texture (std 3). Deterministic for a `seed`. Trained networks see inputs like
    these; on uniform noise their activations leave the range of their BatchNorm statistics
    and the logits grow to hundreds, which says nothing about the deployed accuracy.
    """
    height, width = size
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(batch):
        image = _bilinear(rng.uniform(0, 255, (4, 4, 3)), height, width)
        shading = rng.normal(0, 20, (max(height // 4, 2), max(width // 4, 2), 3))
        image += _bilinear(shading, height, width)
        image += rng.normal(0, 3, image.shape)
        images.append(np.clip(np.round(image), 0, 255).astype("uint8"))
    return np.stack(images)


def _input_transform(model):
    """The evaluation transform that makes the model's input from 0..255 pixels:
    `pretrained_cfg.transform`, else the identity for an architecture that normalises its
    pixels itself (registry preprocessing "in_model", the CIFAR networks), else ImageNet's."""
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is not None:
        return cfg.transform
    from keras_senet import registry
    from keras_senet.weights.sources import IN_MODEL_TRANSFORM

    try:
        spec = registry.get_spec(model.name)
    except ValueError:
        spec = None
    if spec is not None and spec.preprocessing == "in_model":
        return IN_MODEL_TRANSFORM
    return EvalTransform()


def _sample_batch(model, batch=VERIFY_BATCH, seed=0):
    """The verification inputs: `natural_images` through the model's preprocessing."""
    from keras_senet.applications.imagenet_utils import preprocess_input

    height, width = model.inputs[0].shape[1:3]
    transform = _input_transform(model)
    pixels = natural_images((height, width), batch, seed).astype("float32")
    return np.asarray(preprocess_input(pixels, mean=transform.mean, std=transform.std),
                      "float32")


def _check_file_target(path, overwrite):
    """Refuses an existing file before any work, unless `overwrite`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory; give a file path.")
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")


def _publish_file(stage, data, overwrite):
    """Writes `data` in the staging directory and renames it to the target file."""
    staged = os.path.join(stage.path, os.path.basename(stage.target))
    with open(staged, "wb") as f:
        f.write(data)
    if os.path.exists(stage.target) and not overwrite:
        raise ValueError(f"{stage.target} appeared while exporting; not replacing it.")
    stage.publish(staged, replace=os.path.lexists(stage.target))


_TINY = 1e-12


def _compare(kind, got, expected, *, atol=None, quantized=False, log=None):
    """Judges an export's outputs `got` against the Keras model's `expected` (see the
    `verify` and `atol` arguments of `export_tflite`) and logs the figures.

    Returns:
        (max_abs_diff, relative_diff, top1_agreement), the last None unless the outputs are
        (batch, classes).
    """
    got = np.asarray(got, "float64")
    expected = np.asarray(expected, "float64")
    if got.shape != expected.shape:
        raise ExportError(f"The {kind} model's output has shape {got.shape}; the Keras "
                          f"model's {expected.shape}.")
    count = len(expected)
    scale = float(np.abs(expected).max())
    diff = float(np.abs(got - expected).max())
    if not np.isfinite(diff):  # NaN / inf outputs fail every bound
        diff = float("inf")
    relative = diff / max(scale, _TINY)
    agree = top1 = None
    if expected.ndim == 2 and expected.shape[-1] > 1:
        agree = int(np.sum(got.argmax(-1) == expected.argmax(-1)))
        top1 = agree / count
    figures = f"max abs diff {diff:.3g} (relative {relative:.3g})"
    if quantized and agree is not None:
        figures += f"; top-1 agreement {agree}/{count}, relative error {relative:.3g}"
    if log:
        log(f"{kind} vs Keras on {count} synthetic images: {figures}")

    if atol is not None:
        if diff > atol:
            raise ExportError(f"The {kind} model's outputs differ from the Keras model's by "
                              f"{diff:.3g} (> atol {atol:g}; relative error {relative:.3g}).")
        return diff, relative, top1
    rtol = QUANTIZED_RTOL if quantized else VERIFY_RTOL
    if relative > rtol:
        raise ExportError(
            f"The {kind} model's outputs differ from the Keras model's by more than {rtol:g} "
            f"of their scale: relative error {relative:.3g} (max abs diff {diff:.3g}, "
            f"max |Keras output| {scale:.3g}"
            + (f"; top-1 agreement {agree}/{count}" if agree is not None else "") + ")."
            + (" Untrained (random) weights lose far more to quantisation than trained ones; "
               "for those, pass atol=... or verify=False (--no-verify)." if quantized else ""))
    if quantized and top1 is not None and top1 < QUANTIZED_TOP1:
        raise ExportError(
            f"The {kind} model's top-1 class agrees with the Keras model's on only "
            f"{agree}/{count} of the verification images (< {QUANTIZED_TOP1:g}; relative "
            f"error {relative:.3g}).")
    return diff, relative, top1


def tflite_interpreter(path_or_content, num_threads=None):
    """A LiteRT interpreter (`ai-edge-litert`), else TensorFlow's `tf.lite.Interpreter`.

    Args:
        path_or_content: a .tflite path, or the flatbuffer's bytes.
        num_threads: CPU threads for the kernels (default: `os.cpu_count()`; the
            interpreter's own default is a single thread).
    """
    kwargs = ({"model_content": path_or_content} if isinstance(path_or_content, bytes)
              else {"model_path": os.fspath(path_or_content)})
    if num_threads is None:
        num_threads = os.cpu_count()
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(**kwargs, num_threads=num_threads)


def run_tflite(interpreter, x):
    """Runs a single-input TFLite model on the batch `x`.

    The input is resized and the tensors reallocated only when `x`'s shape differs from
    the input's current shape (or nothing was allocated yet): repeated calls with one
    batch shape reuse the allocation.
    """
    detail = interpreter.get_input_details()[0]
    x = np.asarray(x).astype(detail["dtype"], copy=False)
    if tuple(detail["shape"]) != tuple(x.shape):
        interpreter.resize_tensor_input(detail["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], x)
    else:
        try:
            interpreter.set_tensor(detail["index"], x)
        except ValueError:  # a fresh interpreter: "Tensor is unallocated"
            interpreter.allocate_tensors()
            interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def export_tflite(model, path, quantize=None, *, verify=True, overwrite=False, atol=None,
                  fold_bn=True, log=print):
    """Writes a TFLite (LiteRT) flatbuffer of the model and checks it with the interpreter.

    Input: the model's own input (normalised float32 [batch, H, W, 3], as after
    `imagenet_utils.preprocess_input`); output: the model's output. Grouped convolutions
    become TFLite `CONV_2D` ops with groups (no Flex ops, no XLA).

    Args:
        model: a Keras model with a fixed input size.
        path: the .tflite file.
        quantize: None (float32) or "dynamic" (int8 weights, dynamic-range activations).
        verify: compare the interpreter's outputs with the Keras model's on
            `VERIFY_BATCH` (4) `natural_images` put through the model's preprocessing
            (`pretrained_cfg.transform`, else ImageNet mean / std, raw pixels for models that
            normalise themselves). With `scale = max|Keras outputs|` and
            `relative = max|exported - Keras| / scale`, a float32 file passes when
            `relative <= VERIFY_RTOL` (1e-4); a "dynamic" one when `relative <=
            QUANTIZED_RTOL` (0.1) and the top-1 class agrees on at least `QUANTIZED_TOP1`
            (3/4) of the batch. Both figures are logged; `ExportError` otherwise.
        overwrite: replace an existing file.
        atol: an absolute bound on `max|exported - Keras|` replacing the rules above (for
            models with random weights, whose quantisation errors are large, e.g. 1.0).
        fold_bn: trace the model with its BatchNorms folded into the convolutions (the
            converter folds them as well; the float32 file is the same size either way).
        log: a callable taking one string, or None for silence.

    Returns:
        An `ExportReport`.
    """
    tf = _tf()
    if quantize not in QUANTIZE:
        raise ValueError(f"`quantize` must be one of {QUANTIZE}; got {quantize!r}.")
    start = time.perf_counter()
    log = log or (lambda message: None)
    _check_file_target(path, overwrite)
    with atomic.staging_dir(path) as stage, _private_temporary_files(stage):
        traced = _inference_model(model, fold_bn, log)
        module, concrete = _model_function(traced)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
        if quantize == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        try:
            content = converter.convert()
        except Exception as e:
            raise ExportError(f"The TFLite converter failed for {model.name!r}: {e}") from e
        diff = relative = top1 = None
        if verify:
            x = _sample_batch(model)
            kind = "TFLite (dynamic-range quantised)" if quantize else "TFLite"
            diff, relative, top1 = _compare(
                kind, run_tflite(tflite_interpreter(content), x), model.predict(x, verbose=0),
                atol=atol, quantized=bool(quantize), log=log)
            top1 = top1 if quantize else None
        _publish_file(stage, content, overwrite)
    report = ExportReport(os.fspath(path), "tflite", len(content), weights_bytes(traced),
                          time.perf_counter() - start, diff, relative_diff=relative,
                          top1_agreement=top1)
    log(f"TFLite{' (dynamic-range quantised)' if quantize else ''} written to {path} "
        f"({report.size_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s"
        + ("; verified" if verify else ""))
    return report


def _inline_captured_constants(proto, concrete):
    """Turns the ONNX inputs that tf2onnx made of constant tensors the traced function
    captured (not variables: e.g. a `Normalization` layer's mean and variance, the CIFAR
    networks' first layer) back into initializers, leaving `inputs` the only input."""
    from onnx import numpy_helper

    constants = {internal.name: external for external, internal in concrete.graph.captures
                 if external.dtype.name != "resource"}
    kept = []
    for graph_input in proto.graph.input:
        value = constants.get(graph_input.name)
        if value is None:
            kept.append(graph_input)
        else:
            proto.graph.initializer.append(
                numpy_helper.from_array(np.asarray(value), graph_input.name))
    del proto.graph.input[:]
    proto.graph.input.extend(kept)


def export_onnx(model, path, *, opset=17, verify=True, overwrite=False, atol=None,
                fold_bn=True, log=print):
    """Writes an ONNX model (tf2onnx) and checks it with onnxruntime.

    Input `inputs`: the model's own input (normalised float32 [batch, H, W, 3], NHWC);
    output `outputs`: the model's output. Needs the `export` extra (tf2onnx, onnxruntime).
    `fold_bn`: trace the model with its BatchNorms folded into the convolutions.
    `verify` / `atol`: as for a float32 `export_tflite` (relative error at most
    `VERIFY_RTOL` on natural-looking images, or `max abs diff <= atol` when `atol` is given).

    Returns:
        An `ExportReport`.
    """
    _tf()
    try:
        import tf2onnx
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the `tf2onnx` package: pip install 'keras-senet[export]' "
            f"(or pip install tf2onnx onnxruntime). ({e})") from None
    start = time.perf_counter()
    log = log or (lambda message: None)
    _check_file_target(path, overwrite)
    with atomic.staging_dir(path) as stage, _private_temporary_files(stage):
        traced = _inference_model(model, fold_bn, log)
        module, concrete = _model_function(traced)
        try:
            proto, _ = tf2onnx.convert.from_function(
                module.serve, input_signature=concrete.structured_input_signature[0], opset=opset)
        except Exception as e:
            raise ExportError(f"tf2onnx failed for {model.name!r}: {e}") from e
        _inline_captured_constants(proto, concrete)
        content = proto.SerializeToString()
        diff = relative = None
        if verify:
            try:
                import onnxruntime
            except ImportError:
                raise ImportError(
                    "Verifying an ONNX export needs `onnxruntime`: pip install onnxruntime, or "
                    "pass verify=False (--no-verify).") from None
            session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
            x = _sample_batch(model)
            got = session.run(None, {session.get_inputs()[0].name: x})[0]
            diff, relative, _ = _compare("ONNX", got, model.predict(x, verbose=0), atol=atol,
                                         log=log)
        _publish_file(stage, content, overwrite)
    report = ExportReport(os.fspath(path), "onnx", len(content), weights_bytes(traced),
                          time.perf_counter() - start, diff, relative_diff=relative)
    log(f"ONNX written to {path} ({report.size_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s"
        + ("; verified" if verify else ""))
    return report


def export(model, path, format="saved_model", **kwargs):
    """Dispatches to `export_saved_model`, `export_tflite` or `export_onnx` by `format`."""
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}; expected one of {FORMATS}.")
    return {"saved_model": export_saved_model, "tflite": export_tflite,
            "onnx": export_onnx}[format](model, path, **kwargs)
