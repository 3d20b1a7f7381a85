"""Checking an export against the Keras model it came from.

TFLite and ONNX files are run on `natural_images` (uniform noise drives a trained network far
outside what it was trained on, to logits in the hundreds) and judged by `compare`, relative
to the scale of the outputs. A SavedModel is reloaded in a fresh Python process
(`verify_saved_model`), which dies with the exporting process, and both its signatures are
compared with the Keras model's outputs.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from keras_senet.export.model_facts import input_transform
from keras_senet.export.report import ExportError
from keras_senet.export.serving_graph import decode_and_crop

# SavedModel: the largest |reloaded - Keras| probability (for a logits model, see
# `probability_tolerance`).
VERIFY_ATOL = 1e-5
# TFLite / ONNX: float exports may differ from Keras by VERIFY_RTOL of the outputs' scale;
# TFLite files with float16 weights by FLOAT16_RTOL; dynamic-range int8 ones by
# QUANTIZED_RTOL and full-integer int8 ones by FULL_INT8_RTOL, both with the top-1 class of
# at least QUANTIZED_TOP1 of the batch unchanged.
VERIFY_BATCH = 4
VERIFY_RTOL = 1e-4
# float16 keeps 11 significant bits: each weight moves by up to 2**-12 of itself (2.4e-4),
# and deep networks amplify that. Measured relative errors (on natural-looking and on photo
# crops): trained CIFAR SE-ResNet-20 1.1e-3; SE-ResNet-18 / SE-ResNeXt-26d / SK-ResNet-18 /
# SE-ShuffleNet at 32-64 px with randomised BatchNorms 2e-4 to 8e-4; at 96 px with random
# weights and BatchNorm statistics of photos, SE-ResNet-50 6.7e-3, SE-ResNeXt-50 5.8e-3,
# SK-ResNeXt-50 2.0e-2 (Keras itself, running weights rounded to float16: 2.2e-2; so the
# rounding, not the converter). The bound leaves 2.5x room over the worst of these.
FLOAT16_RTOL = 0.05
# Dynamic-range int8: measured 0.014 on the trained CIFAR network.
QUANTIZED_RTOL = 0.1
# Full-integer int8 also rounds every activation to one of 256 levels of a range calibrated
# on the caller's images; the synthetic verification images leave those ranges more than
# real ones do. Trained CIFAR SE-ResNet-20 calibrated on 32 real CIFAR-10 images: 0.10-0.13
# on the verification images (0.04 with 128), while its top-1 class stayed the Keras model's
# on 99.1% of 5,000 held-out images (top-1 85.18% against 85.22%); the grouped networks of
# the tests: 0.01-0.03. A broken conversion is off by the whole scale.
FULL_INT8_RTOL = 0.25
QUANTIZED_TOP1 = 0.75
_TINY = 1e-12


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


def sample_batch(model, batch=VERIFY_BATCH, seed=0):
    """The verification inputs: `natural_images` through the model's preprocessing."""
    from keras_senet.applications.imagenet_utils import preprocess_input

    height, width = model.inputs[0].shape[1:3]
    transform = input_transform(model)
    pixels = natural_images((height, width), batch, seed).astype("float32")
    return np.asarray(preprocess_input(pixels, mean=transform.mean, std=transform.std),
                      "float32")


def compare(kind, got, expected, *, atol=None, quantized=False, rtol=None, log=None):
    """Judges an export's outputs `got` against the Keras model's `expected` (see the
    `verify` and `atol` arguments of `export_tflite`) and logs the figures.

    `quantized`: judge as an int8 export (`QUANTIZED_RTOL` and top-1 agreement); `rtol`:
    the relative bound, replacing `VERIFY_RTOL` / `QUANTIZED_RTOL`.

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
    if rtol is None:
        rtol = QUANTIZED_RTOL if quantized else VERIFY_RTOL
    if relative > rtol:
        raise ExportError(
            f"The {kind} model's outputs differ from the Keras model's by more than {rtol:g} "
            f"of their scale: relative error {relative:.3g} (max abs diff {diff:.3g}, "
            f"max |Keras output| {scale:.3g}"
            + (f"; top-1 agreement {agree}/{count}" if agree is not None else "") + ")."
            + (" Untrained (random) weights lose far more to quantisation than trained ones "
               "(and a full-integer file calibrated on few or unrepresentative images); for "
               "those, pass atol=... or verify=False (--no-verify)." if quantized else ""))
    if quantized and top1 is not None and top1 < QUANTIZED_TOP1:
        raise ExportError(
            f"The {kind} model's top-1 class agrees with the Keras model's on only "
            f"{agree}/{count} of the verification images (< {QUANTIZED_TOP1:g}; relative "
            f"error {relative:.3g}).")
    return diff, relative, top1


# --- the SavedModel, reloaded in a fresh process ---------------------------------------------

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


def _reference(model, size, transform, outputs_are_probabilities, images, image_bytes):
    """What the signatures should return, computed eagerly with the Keras model, and the
    largest |logit| (None for a model that outputs probabilities)."""
    import tensorflow as tf

    from keras_senet.applications.imagenet_utils import preprocess_input

    decoded = np.stack([decode_and_crop(tf.constant(b), size, transform).numpy()
                        for b in image_bytes])
    expected, logit_scale = {}, None
    for prefix, pixels in (("images", images), ("bytes", decoded)):
        y = model.predict(preprocess_input(pixels, mean=transform.mean, std=transform.std),
                          verbose=0).astype("float64")
        if not outputs_are_probabilities:
            logit_scale = max(logit_scale or 0.0, float(np.abs(y).max()))
            y = np.exp(y - y.max(-1, keepdims=True))
            y /= y.sum(-1, keepdims=True)
        expected[prefix] = y
    return expected, logit_scale


def probability_tolerance(atol, logit_scale):
    """The bound on |reloaded - Keras| probabilities: `atol`, or for a logits model (the
    softmax is in the SavedModel's graph) the change that logits within `VERIFY_RTOL` of
    their scale can make, if larger. A softmax moves by at most half the largest change of
    its logits (dp_i = p_i (dz_i - sum_j p_j dz_j), |dp_i| <= 2 p_i (1 - p_i) max|dz| <=
    max|dz| / 2); logits of scale 50 (realistic BatchNorm statistics) may differ by 5e-5
    after the graph is folded and retraced, and their probabilities by 2.5e-5."""
    if logit_scale is None:
        return atol
    return max(atol, 0.5 * VERIFY_RTOL * logit_scale)


def verify_saved_model(export_dir, model, size, transform, labels,
                       outputs_are_probabilities, atol):
    """Reloads the SavedModel at `export_dir` in a fresh process and compares both signatures
    with the Keras model on two images of size `size` = (H, W) and two encoded ones.

    Returns:
        (the largest |reloaded - Keras| probability or top-k score, the signatures in
        `saved_model_cli show --all` form).

    Raises:
        ExportError: the reload failed, an output differs by more than
            `probability_tolerance(atol, largest |logit|)`, the top-k
            labels do not match `labels`, or the top-k scores are not sorted.
    """
    images, image_bytes = _sample_inputs(size)
    expected, logit_scale = _reference(model, size, transform, outputs_are_probabilities,
                                       images, image_bytes)
    bound = probability_tolerance(atol, logit_scale)
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
        if diff > bound:
            raise ExportError(
                f"The reloaded SavedModel's {prefix!r} outputs differ from the Keras model by "
                f"{diff:.3g} (> {bound:.3g}"
                + (f": {atol:g}, or half of {VERIFY_RTOL:g} of the largest |logit| "
                   f"{logit_scale:.3g}" if logit_scale is not None else "") + ").")
        want_labels = [[labels[i] for i in row] for row in indices]
        if got_labels[f"{prefix}/top_k_labels"] != want_labels:
            raise ExportError(f"The reloaded SavedModel's {prefix!r} top_k_labels do not match "
                              "its top_k_indices.")
        if not np.all(np.diff(scores, axis=1) <= 0):
            raise ExportError("top_k_scores are not sorted in decreasing order.")
    return worst, proc.stdout.strip()
