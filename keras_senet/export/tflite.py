"""A TFLite (LiteRT) flatbuffer of the model, checked with the interpreter, and running one.

    export_tflite(model, "seresnext50.tflite")                          # float32
    export_tflite(model, "seresnext50.f16.tflite", quantize="float16")  # half the size
    export_tflite(model, "seresnext50.dyn.tflite", quantize="dynamic")  # int8 weights
    export_tflite(model, "seresnext50.int8.tflite", quantize="int8",    # int8 throughout
                  calibration_data="photos/")
    logits = run_tflite(tflite_interpreter("seresnext50.tflite"), x)

Input: the model's own input (normalised float32 [batch, H, W, 3], as after
`imagenet_utils.preprocess_input`); output: the model's output, float32, whatever `quantize`
is. The quantisations (`QUANTIZE`):

    None       float32 weights and arithmetic.
    "float16"  float16 weights (half the file); the CPU interpreter widens them to float32
               when it loads the file, GPU delegates compute in float16.
    "dynamic"  int8 weights (a quarter of the file); activations quantised on the fly.
    "int8"     full-integer: int8 weights (per channel) and activations (per tensor), their
               ranges calibrated on images the caller names (`calibration.py`): what integer
               accelerators (Edge TPU, NPUs, DSPs) run, and the fastest on x86 CPUs. The
               file keeps float32 input and output (one QUANTIZE op after the input, one
               DEQUANTIZE before the output), so callers feed the same normalised float
               images as to every other export; int8 input and output would make each
               caller quantise with the file's scale and zero point.

Grouped convolutions become single TFLite `CONV_2D` ops with groups (no Flex ops, no XLA):
the zoo's `GroupedConv2D` is traced as one native grouped convolution whatever
`KERAS_SENET_GROUPED_CONV` says. Its "split" form (per-group convolutions on channel slices,
Keras' default on CPUs) leaves the slicing of the kernels in the file as run-time TRANSPOSE /
SPLIT / MUL ops on the weights. The filters are then computed tensors, which full-integer
quantisation treats as activations (asymmetric, zero point != 0), and TFLite's int8 CONV_2D
refuses them ("conv.cc: zero_point != 0 ... CONV_2D failed to prepare"); in float32 the
native form also ran SE-ResNeXt-50 at batch 8 in 0.77x the time of the split one.
"""

import os
import time

import numpy as np

from keras_senet import atomic
from keras_senet.export import calibration, verification
from keras_senet.export.model_facts import weights_bytes
from keras_senet.export.output import check_output
from keras_senet.export.report import ExportError, ExportReport
from keras_senet.export.tracing import inference_model, model_function, tensorflow_backend

QUANTIZE = (None, "float16", "dynamic", "int8")
KINDS = {None: "TFLite", "float16": "TFLite (float16 weights)",
         "dynamic": "TFLite (dynamic-range int8)", "int8": "TFLite (full-integer int8)"}
RTOL = {None: verification.VERIFY_RTOL, "float16": verification.FLOAT16_RTOL,
        "dynamic": verification.QUANTIZED_RTOL, "int8": verification.FULL_INT8_RTOL}


def tflite_interpreter(path_or_content, num_threads=None):
    """A LiteRT interpreter (`ai-edge-litert`), else TensorFlow's `tf.lite.Interpreter`
    (ImportError naming the package when neither is there).

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

        Interpreter = getattr(getattr(tf, "lite", None), "Interpreter", None)
        if Interpreter is None:
            raise ImportError("Running a TFLite file needs the LiteRT interpreter: pip install "
                              "ai-edge-litert (or 'keras-senet[export]').") from None
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


def check_quantize(quantize, calibration_data=None, calibration_steps=None):
    """ValueError for an unknown `quantize`, calibration options without "int8", or "int8"
    without calibration data; then the calibration checks that need no model
    (`calibration.check_calibration`)."""
    if quantize not in QUANTIZE:
        raise ValueError(f"Unknown quantize={quantize!r} (--quantize); expected one of "
                         f"{QUANTIZE}.")
    if quantize != "int8":
        given = [name for name, value in (("calibration_data", calibration_data),
                                          ("calibration_steps", calibration_steps))
                 if value is not None]
        if given:
            raise ValueError(f"{' and '.join(given)} apply to quantize='int8' (full-integer) "
                             f"only; got quantize={quantize!r}.")
        return
    if calibration_data is None:
        raise ValueError(
            "quantize='int8' (full-integer) needs calibration_data (--calibration-data): a "
            "folder of images like those the model will classify, 'tfds:NAME:SPLIT' or an "
            f"array of pixels; at least {calibration.MIN_CALIBRATION_IMAGES} images.")
    calibration.check_calibration(calibration_data, calibration_steps)


def _converter(tf, module, concrete, quantize, images):
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.representative_dataset = calibration.representative_dataset(images)
        # Every op in int8, or the conversion fails (no silent float fallback); the input
        # and output stay float32 (see the module docstring).
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter


# A calibrated range this narrow means no calibration image moved the tensor (a ReLU that
# never fired); XNNPACK refuses the scales that follow from it. Usual scales: 1e-3 .. 1e-1.
DEGENERATE_SCALE = 1e-6


def degenerate_ranges(content):
    """Names of the per-tensor quantised tensors of the flatbuffer whose scale is below
    `DEGENERATE_SCALE` (read without the XNNPACK delegate); [] if that cannot be read."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        interpreter = Interpreter(
            model_content=content,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    except (ImportError, RuntimeError, ValueError):
        return []
    names = []
    for detail in interpreter.get_tensor_details():
        scales = detail["quantization_parameters"]["scales"]
        if len(scales) == 1 and 0 < scales[0] < DEGENERATE_SCALE:
            names.append(detail["name"])
    return names


def check_loads(content, kind, model_name):
    """Raises `ExportError` unless the interpreter loads the flatbuffer and prepares every
    op, with XNNPACK as LiteRT applies it by default (run even without verification: no
    file that cannot load is written)."""
    try:
        tflite_interpreter(content, num_threads=1).allocate_tensors()
    except (RuntimeError, ValueError) as e:
        degenerate = degenerate_ranges(content)
        if degenerate:
            raise ExportError(
                f"The {kind} file of {model_name!r} does not load in the TFLite interpreter "
                f"({e}): the calibrated range of {len(degenerate)} tensor(s) is all but empty "
                f"(scale < {DEGENERATE_SCALE:g}: {', '.join(degenerate[:3])}): no calibration "
                "image activated them. Calibrate on more, and more varied, images like those "
                "the model will classify.") from e
        raise ExportError(
            f"The {kind} file of {model_name!r} does not load in the TFLite interpreter: {e}. "
            "An op of this model has no TFLite kernel in this form: export it unquantised "
            "or with another quantize mode, and please report it with the model name.") from e


def export_tflite(model, path, quantize=None, *, calibration_data=None,
                  calibration_steps=None, verify=True, overwrite=False, atol=None,
                  fold_bn=True, log=print):
    """Writes a TFLite (LiteRT) flatbuffer of the model and checks it with the interpreter
    (input and output: the model's, float32; see the module docstring).

    Args:
        model: a Keras model with a fixed input size.
        path: the .tflite file.
        quantize: None (float32), "float16" (float16 weights), "dynamic" (int8 weights,
            dynamic-range activations) or "int8" (full-integer, calibrated).
        calibration_data: for "int8": the images to calibrate on, an image folder,
            "tfds:NAME:SPLIT" or an array of 0..255 pixels (N, H, W, 3), read through the
            model's evaluation transform; at least `MIN_CALIBRATION_IMAGES` (32) images
            (`keras_senet/export/calibration.py`).
        calibration_steps: for "int8": how many of them (default 128, or all if fewer).
        verify: compare the interpreter's outputs with the Keras model's on
            `VERIFY_BATCH` (4) `natural_images` put through the model's preprocessing
            (`pretrained_cfg.transform`, else ImageNet mean / std, raw pixels for models that
            normalise themselves). With `scale = max|Keras outputs|` and
            `relative = max|exported - Keras| / scale`, a float32 file passes when
            `relative <= VERIFY_RTOL` (1e-4), a "float16" one when `relative <=
            FLOAT16_RTOL` (0.05); a "dynamic" one when `relative <= QUANTIZED_RTOL` (0.1),
            an "int8" one when `relative <= FULL_INT8_RTOL` (0.25), each with the top-1
            class agreeing on at least `QUANTIZED_TOP1` (3/4) of the batch. The figures
            are logged; `ExportError` otherwise. Unverified, the file is still loaded into
            the interpreter (`check_loads`).
        overwrite: replace an existing file.
        atol: an absolute bound on `max|exported - Keras|` replacing the rules above (for
            models with random weights, whose quantisation errors are large, e.g. 1.0).
        fold_bn: trace the model with its BatchNorms folded into the convolutions (the
            converter folds them as well; the float32 file is the same size either way).
        log: a callable taking one string, or None for silence.

    Returns:
        An `ExportReport` (with `quantize`, and for "int8" `calibration_images`).

    Raises:
        ValueError: an unknown `quantize`, bad calibration data (both before any conversion
            work), an existing file without `overwrite`.
        ExportError: conversion, loading or verification failed.
    """
    tf = tensorflow_backend()
    check_quantize(quantize, calibration_data, calibration_steps)
    start = time.perf_counter()
    log = log or (lambda message: None)
    kind = KINDS[quantize]
    target = check_output(path, "tflite", overwrite=overwrite)
    images = None
    if quantize == "int8":
        images = calibration.calibration_images(model, calibration_data, calibration_steps)
        log(f"calibrating the int8 ranges on {len(images)} images")
    with atomic.staging_dir(target, temporary_files=True) as stage:
        traced = inference_model(model, fold_bn, log)
        module, concrete = model_function(traced, grouped_convolutions="native")
        try:
            content = _converter(tf, module, concrete, quantize, images).convert()
        except Exception as e:
            raise ExportError(f"The TFLite converter failed for {model.name!r} ({kind}): "
                              f"{e}") from e
        check_loads(content, kind, model.name)
        diff = relative = top1 = None
        if verify:
            x = verification.sample_batch(model)
            quantized = quantize in ("dynamic", "int8")
            diff, relative, top1 = verification.compare(
                kind, run_tflite(tflite_interpreter(content), x), model.predict(x, verbose=0),
                atol=atol, quantized=quantized, rtol=RTOL[quantize], log=log)
            top1 = top1 if quantized else None
        stage.publish_bytes(content, overwrite=overwrite)
    report = ExportReport(target, "tflite", len(content), weights_bytes(traced),
                          time.perf_counter() - start, diff, relative_diff=relative,
                          top1_agreement=top1, quantize=quantize,
                          calibration_images=None if images is None else len(images))
    log(f"{kind} written to {path} ({report.size_bytes / 1e6:.1f} MB) in "
        f"{report.seconds:.1f} s" + ("; verified" if verify else ""))
    return report
