"""Deployment: a TF Serving SavedModel with serving signatures, TFLite (LiteRT) and ONNX.

    from keras_senet.export import export_saved_model, export_tflite, export_onnx
    model = keras_senet.create_model("seresnext50_32x4d", weights="imagenet")
    export_saved_model(model, "serving/seresnext50", version=1)   # serving/seresnext50/1/
    export_tflite(model, "seresnext50.tflite", quantize="dynamic")
    export_onnx(model, "seresnext50.onnx")

Every exporter verifies what it wrote against the Keras model (the SavedModel in a fresh
Python process) and raises `ExportError` when the outputs differ. By default each traces the
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
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from keras_senet.weights.sources import EvalTransform

SIGNATURE_IMAGES = "serving_default"
SIGNATURE_BYTES = "predict_image_bytes"
OUTPUT_KEYS = ("probabilities", "top_k_indices", "top_k_scores", "top_k_labels")
FORMATS = ("saved_model", "tflite", "onnx")
QUANTIZE = (None, "dynamic")
VERIFY_ATOL = 1e-5
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "area", "lanczos3")


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
    """

    path: str
    format: str
    size_bytes: int
    weights_bytes: int
    seconds: float
    max_abs_diff: float | None = None
    summary: str = ""


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
        cfg = getattr(model, "pretrained_cfg", None)
        result = cfg.transform if cfg is not None else EvalTransform()
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

def decode_and_crop(image_bytes, size, transform):
    """One encoded image -> float32 (H, W, 3) RGB 0..255 with the evaluation transform.

    Decode (JPEG with the accurate IDCT as PIL, PNG / GIF first frame / BMP; to RGB), resize the shorter side to
    `round(H / crop_pct)` (non-square: each side to `round(side / crop_pct)`) with
    antialiasing, round and clip to 0..255 as PIL's uint8 output, centre-crop `size`.

    Args:
        image_bytes: scalar string tensor.
        size: (H, W).
        transform: the `EvalTransform`.
    """
    import tensorflow as tf

    height, width = size
    # JPEG with the accurate integer IDCT: the same pixels as PIL / libjpeg's default, where
    # TensorFlow's default (fast IDCT) is about one level off on average.
    image = tf.cond(
        tf.io.is_jpeg(image_bytes),
        lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.ensure_shape(
            tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
            [None, None, 3]))
    image = tf.cast(image, tf.float32)
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
    image = tf.image.resize(image, new_hw, method=transform.interpolation, antialias=True)
    image = tf.clip_by_value(tf.round(image), 0.0, 255.0)
    top = tf.cast(tf.round(tf.cast(new_hw[0] - height, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_hw[1] - width, tf.float32) / 2.0), tf.int32)
    image = image[top:top + height, left:left + width]
    return tf.ensure_shape(image, (height, width, 3))


def _make_module(model, size, transform, labels, top_k, outputs_are_probabilities):
    """A tf.Module with the two serving functions; variables tracked once, by the module."""
    tf = _tf()
    height, width = size
    mean = tf.constant(np.asarray(transform.mean, "float32") * 255.0)
    std = tf.constant(np.asarray(transform.std, "float32") * 255.0)
    dtype = model.inputs[0].dtype

    module = tf.Module()
    # The tf.Variables behind the Keras variables, each tracked exactly once (Keras' own
    # `model.export()` tracks the Keras wrappers as well and stores every variable twice).
    module.model_variables = [v.value for v in model.weights]
    labels_file = os.path.join(tempfile.mkdtemp(prefix="keras_senet_labels_"), "labels.txt")
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
        return classify(decode_batch(image_bytes, size, transform))

    module.serve_images = serve_images
    module.serve_bytes = serve_bytes
    module._labels_dir = os.path.dirname(labels_file)
    return module


def decode_batch(image_bytes, size, transform):
    """string [batch] -> float32 [batch, H, W, 3]; an undecodable element fails naming its index.

    Each element is decoded in a tf.data pipeline that drops elements whose decoding fails;
    if any was dropped, an assertion reports the indices (InvalidArgumentError).
    """
    import tensorflow as tf

    height, width = size
    count = tf.shape(image_bytes, out_type=tf.int64)[0]
    dataset = tf.data.Dataset.from_tensor_slices((tf.range(count), image_bytes))
    dataset = dataset.map(lambda i, data: (i, decode_and_crop(data, size, transform)))
    dataset = dataset.ignore_errors().batch(tf.maximum(count, 1))
    initial = (tf.zeros([0], tf.int64), tf.zeros([0, height, width, 3], tf.float32))
    indices, images = dataset.reduce(
        initial, lambda state, batch: (tf.concat([state[0], batch[0]], 0),
                                       tf.concat([state[1], batch[1]], 0)))
    decoded = tf.scatter_nd(indices[:, None], tf.ones_like(indices), [count])
    bad = tf.reshape(tf.where(tf.equal(decoded, 0)), [-1])
    check = tf.debugging.Assert(
        tf.equal(tf.size(bad), 0),
        ["image_bytes elements that are not decodable JPEG/PNG/GIF/BMP images, by index:", bad],
        summarize=16)
    with tf.control_dependencies([check]):
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


@contextlib.contextmanager
def _staging(target, overwrite):
    """Yields a temporary sibling of `target`; on success renames it to `target`.

    On any error the temporary directory is removed and `target` is left as it was.
    """
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    try:
        yield staging
        if os.path.isdir(target):
            if os.listdir(target) and not overwrite:  # appeared while we were writing
                raise ValueError(f"{target} appeared while exporting; not replacing it.")
            trash = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=parent)
            os.rename(target, os.path.join(trash, "old"))
            os.rename(staging, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(staging, target)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


# --- verification in a fresh process ---------------------------------------------------------

_VERIFY_SCRIPT = r"""
import base64, json, sys
import numpy as np
import tensorflow as tf

saved_dir, inputs_path, outputs_path = sys.argv[1:4]
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
            [sys.executable, "-c", _VERIFY_SCRIPT, export_dir, inputs_path, outputs_path],
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
                       fold_bn=True, log=print):
    """Writes a TF Serving SavedModel with the `serving_default` and `predict_image_bytes`
    signatures (see the module docstring), then reloads and checks it in a fresh process.

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
    target = _export_dir(path, version)
    _check_target(target, overwrite)

    traced = _inference_model(model, fold_bn, log)
    module = _make_module(traced, size, transform, labels, top_k, outputs_are_probabilities)
    try:
        with _staging(target, overwrite) as staging:
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
            tf.saved_model.save(
                module, staging,
                signatures={SIGNATURE_IMAGES: images_fn, SIGNATURE_BYTES: bytes_fn},
                options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
            diff, summary = None, ""
            if verify:
                diff, summary = _verify_saved_model(
                    staging, model, size, transform, labels, top_k, outputs_are_probabilities,
                    atol)
    finally:
        shutil.rmtree(module._labels_dir, ignore_errors=True)
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


def _sample_batch(model, batch=2, seed=0):
    from keras_senet.applications.imagenet_utils import preprocess_input

    shape = model.inputs[0].shape[1:]
    pixels = np.random.default_rng(seed).uniform(0, 255, (batch, *shape)).astype("float32")
    return preprocess_input(pixels)


def _write_file(path, data, overwrite):
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _check_diff(kind, diff, atol):
    if diff > atol:
        raise ExportError(f"The {kind} model's outputs differ from the Keras model by "
                          f"{diff:.3g} (> {atol:g}).")


def tflite_interpreter(path_or_content):
    """A LiteRT interpreter (`ai-edge-litert`), else TensorFlow's `tf.lite.Interpreter`."""
    kwargs = ({"model_content": path_or_content} if isinstance(path_or_content, bytes)
              else {"model_path": os.fspath(path_or_content)})
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(**kwargs)


def run_tflite(interpreter, x):
    """Runs a single-input TFLite model on the batch `x` (resizing the batch dimension)."""
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))
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
        verify: compare the interpreter's outputs with the Keras model's on random inputs.
        overwrite: replace an existing file.
        atol: tolerance (default 1e-4 for float32, 5e-2 for "dynamic").
        fold_bn: trace the model with its BatchNorms folded into the convolutions (the
            converter folds them as well; the float32 file is the same size either way).

    Returns:
        An `ExportReport`.
    """
    tf = _tf()
    if quantize not in QUANTIZE:
        raise ValueError(f"`quantize` must be one of {QUANTIZE}; got {quantize!r}.")
    start = time.perf_counter()
    log = log or (lambda message: None)
    traced = _inference_model(model, fold_bn, log)
    module, concrete = _model_function(traced)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        content = converter.convert()
    except Exception as e:
        raise ExportError(f"The TFLite converter failed for {model.name!r}: {e}") from e
    diff = None
    if verify:
        x = _sample_batch(model)
        diff = float(np.abs(run_tflite(tflite_interpreter(content), x)
                            - model.predict(x, verbose=0)).max())
        _check_diff("TFLite", diff, atol if atol is not None else (5e-2 if quantize else 1e-4))
    _write_file(path, content, overwrite)
    report = ExportReport(os.fspath(path), "tflite", len(content), weights_bytes(traced),
                          time.perf_counter() - start, diff)
    log(f"TFLite{' (dynamic-range quantised)' if quantize else ''} written to {path} "
        f"({report.size_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s"
        + (f"; max |TFLite - Keras| = {diff:.2g}" if verify else ""))
    return report


def export_onnx(model, path, *, opset=17, verify=True, overwrite=False, atol=1e-4,
                fold_bn=True, log=print):
    """Writes an ONNX model (tf2onnx) and checks it with onnxruntime.

    Input `inputs`: the model's own input (normalised float32 [batch, H, W, 3], NHWC);
    output `outputs`: the model's output. Needs the `export` extra (tf2onnx, onnxruntime).
    `fold_bn`: trace the model with its BatchNorms folded into the convolutions.

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
    traced = _inference_model(model, fold_bn, log)
    module, concrete = _model_function(traced)
    try:
        proto, _ = tf2onnx.convert.from_function(
            module.serve, input_signature=concrete.structured_input_signature[0], opset=opset)
    except Exception as e:
        raise ExportError(f"tf2onnx failed for {model.name!r}: {e}") from e
    content = proto.SerializeToString()
    diff = None
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
        diff = float(np.abs(got - model.predict(x, verbose=0)).max())
        _check_diff("ONNX", diff, atol)
    _write_file(path, content, overwrite)
    report = ExportReport(os.fspath(path), "onnx", len(content), weights_bytes(traced),
                          time.perf_counter() - start, diff)
    log(f"ONNX written to {path} ({report.size_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s"
        + (f"; max |ONNX - Keras| = {diff:.2g}" if verify else ""))
    return report


def export(model, path, format="saved_model", **kwargs):
    """Dispatches to `export_saved_model`, `export_tflite` or `export_onnx` by `format`."""
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}; expected one of {FORMATS}.")
    return {"saved_model": export_saved_model, "tflite": export_tflite,
            "onnx": export_onnx}[format](model, path, **kwargs)
