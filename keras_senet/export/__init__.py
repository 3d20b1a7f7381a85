"""Deployment: a TF Serving SavedModel with serving signatures, TFLite (LiteRT), ONNX and
an OpenVINO IR.

    from keras_senet import export
    model = keras_senet.create_model("seresnext50_32x4d", weights="imagenet")
    export.export(model, "serving/seresnext50", version=1)       # serving/seresnext50/1/
    export.export(model, "seresnext50.tflite", format="tflite", quantize="float16")
    export.export(model, "seresnext50.int8.tflite", format="tflite", quantize="int8",
                  calibration_data="photos/")          # full-integer, calibrated
    export.export(model, "seresnext50.onnx", format="onnx")
    export.export(model, "seresnext50.xml", format="openvino")   # + seresnext50.bin

`export` calls `export_saved_model`, `export_tflite`, `export_onnx` or `export_openvino`
(importable from here too), after refusing options the format does not take. Every exporter
verifies what it wrote against the Keras model (the SavedModel in a fresh Python process)
and raises `ExportError` when the outputs differ. TFLite, ONNX and OpenVINO files are
checked on a few smooth, natural-looking synthetic images (`natural_images`), relative to
the scale of the outputs (see `export_tflite`). By default each traces the model with every
conv -> BatchNorm pair merged into one biased convolution
(`keras_senet.folding.fold_batch_norm`, `fold_bn=False` to keep the BatchNorms); the
verification compares with the unfolded Keras model, so it checks the folding as well. An
existing output is refused unless `overwrite=True` (`check_output`), and nothing is visible
under the output's name until it is complete and verified.

The modules, one job each:

    savedmodel.py     the SavedModel, its signatures (documented there) and labels asset
    serving_graph.py  predict_image_bytes' decoding: header sizes, limits, resize and crop
    tflite.py         the TFLite file (float32, float16, int8); tflite_interpreter / run_tflite
    calibration.py    the images a full-integer int8 file is calibrated on
    onnx.py           the ONNX file (and the ONNX graph the OpenVINO IR is converted from)
    openvino.py       the OpenVINO IR (.xml + .bin); compile it with INFERENCE_PRECISION_HINT f32
    verification.py   natural_images, the relative-error judgement, the fresh-process reload
    tracing.py        the model as a TensorFlow graph without XLA, BatchNorms folded
    keras_compat.py   the one patch of private Keras code, and the check that it still fits
    model_facts.py    a model's classifier, input size, evaluation transform, labels, bytes
    output.py         where an export goes; the check that refuses an existing output
    report.py         ExportReport, ExportError

TensorFlow-only: the Keras model is traced with the TensorFlow backend.
"""

import inspect

from keras_senet.export.calibration import (DEFAULT_CALIBRATION_IMAGES,
                                            MIN_CALIBRATION_IMAGES, calibration_images)
from keras_senet.export.keras_compat import WRITTEN_FOR_KERAS, check_keras_internals
from keras_senet.export.model_facts import INTERPOLATIONS, input_transform, weights_bytes
from keras_senet.export.onnx import export_onnx
from keras_senet.export.openvino import check_onnx_source, export_openvino
from keras_senet.export.output import FORMATS, check_output
from keras_senet.export.report import ExportError, ExportReport
from keras_senet.export.savedmodel import (OUTPUT_KEYS, SIGNATURE_BYTES, SIGNATURE_IMAGES,
                                           export_saved_model)
from keras_senet.export.serving_graph import (MAX_ASPECT_RATIO, MAX_IMAGE_PIXELS,
                                              decode_and_crop, decode_batch,
                                              image_header_size, within_limits)
from keras_senet.export.tflite import (QUANTIZE, check_quantize, export_tflite, run_tflite,
                                       tflite_interpreter)
from keras_senet.export.verification import (FLOAT16_RTOL, FULL_INT8_RTOL, QUANTIZED_RTOL,
                                             QUANTIZED_TOP1, VERIFY_ATOL, VERIFY_BATCH,
                                             VERIFY_RTOL, natural_images)

EXPORTERS = {"saved_model": export_saved_model, "tflite": export_tflite, "onnx": export_onnx,
             "openvino": export_openvino}

__all__ = [
    "export", "check_export", "check_output", "export_saved_model", "export_tflite",
    "export_onnx", "export_openvino", "ExportError", "ExportReport", "FORMATS", "EXPORTERS",
    "QUANTIZE", "SIGNATURE_IMAGES", "SIGNATURE_BYTES", "OUTPUT_KEYS", "MAX_IMAGE_PIXELS",
    "MAX_ASPECT_RATIO", "INTERPOLATIONS", "VERIFY_ATOL", "VERIFY_BATCH", "VERIFY_RTOL",
    "QUANTIZED_RTOL", "QUANTIZED_TOP1", "FLOAT16_RTOL", "FULL_INT8_RTOL",
    "MIN_CALIBRATION_IMAGES", "DEFAULT_CALIBRATION_IMAGES", "calibration_images",
    "check_quantize", "image_header_size", "within_limits", "decode_and_crop", "decode_batch",
    "natural_images", "tflite_interpreter", "run_tflite", "weights_bytes", "input_transform",
    "options_of", "WRITTEN_FOR_KERAS", "check_keras_internals",
]


def options_of(format):
    """The keyword arguments the exporter of `format` takes besides the model and path."""
    return tuple(inspect.signature(EXPORTERS[format]).parameters)[2:]


def _check_options(format, options):
    """ValueError for an unknown format, or an option its exporter does not take."""
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}; expected one of {FORMATS}.")
    wrong = [name for name in options if name not in options_of(format)]
    if not wrong:
        return
    elsewhere = {name: [f for f in FORMATS if name in options_of(f)] for name in wrong}
    unknown = [name for name, formats in elsewhere.items() if not formats]
    if unknown:
        raise ValueError(f"Unknown export option(s) {unknown}; format {format!r} takes "
                         f"{options_of(format)}.")
    raise ValueError("; ".join(
        f"`{name}` (--{name.replace('_', '-')}) applies to format "
        f"{' / '.join(repr(f) for f in formats)} only" for name, formats in elsewhere.items())
        + f", not to {format!r}.")


def check_export(path, format="saved_model", **options):
    """Checks an export's format, options and output before any model is built or traced
    (a TFLite conversion of a large model takes minutes): what the command line does first.

    Args:
        path, format, options: as for `export`.

    Returns:
        The path the export will write (`path/<version>` for a versioned SavedModel).

    Raises:
        ValueError: an unknown format, an option the format does not take, a TFLite
            quantisation or calibration set `check_quantize` refuses (a missing or empty
            folder, too few images; the images themselves are read by the export), an
            OpenVINO `from_onnx` that is not an .onnx file, or an output `check_output`
            refuses.
    """
    _check_options(format, options)
    if format == "tflite":
        check_quantize(options.get("quantize"), options.get("calibration_data"),
                       options.get("calibration_steps"))
    if format == "openvino":
        check_onnx_source(options.get("from_onnx"))
    return check_output(path, format, overwrite=options.get("overwrite", False),
                        version=options.get("version"))


def export(model, path, format="saved_model", **options):
    """Exports `model` to `path` in `format` ("saved_model", "tflite", "onnx", "openvino").

    Args:
        model: a Keras model (for a SavedModel, a classifier), TensorFlow backend.
        path: the SavedModel directory (with `version`, TF Serving's model base path), or the
            .tflite / .onnx file, or the OpenVINO IR's .xml (its .bin goes beside it).
        format: one of `FORMATS`.
        **options: the keyword arguments of `export_saved_model`, `export_tflite`,
            `export_onnx` or `export_openvino` (`options_of(format)` lists them): verify,
            overwrite, fold_bn and log for every format; version, top_k, labels,
            max_image_pixels ... for a SavedModel; quantize ("float16", "dynamic", "int8"),
            calibration_data and calibration_steps for TFLite; opset for ONNX; from_onnx
            for OpenVINO.

    Returns:
        The exporter's `ExportReport`.

    Raises:
        ValueError: bad arguments (an unknown format, an option of another format), or an
            existing output without overwrite=True.
        ExportError: tracing, conversion or verification failed.
    """
    _check_options(format, options)
    return EXPORTERS[format](model, path, **options)
