"""An OpenVINO IR (model.xml + model.bin) of the Keras model, checked with OpenVINO's CPU plugin.

    export_openvino(model, "seresnext50.xml")            # seresnext50.xml + seresnext50.bin
    compiled = openvino.Core().compile_model("seresnext50.xml", "CPU",
                                             {"INFERENCE_PRECISION_HINT": "f32"})

Input `inputs`: the model's own input (normalised float32 [batch, H, W, 3], NHWC, a variable
batch); output `outputs`: the model's output. Weights are stored in float32. Needs the
`export` extra (openvino, tf2onnx).

The IR is converted from the ONNX graph `export_onnx` writes (`onnx.onnx_model`: grouped
convolutions as single grouped Convs, SE gates multiplied in NCHW), not from the traced
TensorFlow function: both convert grouped convolutions (Keras' own
`model.export(format="openvino")` fails on SE-ResNeXt: "No conversion rule found for
operations: MatrixDiagV3"), but the IR from ONNX ran faster: SE-ResNet-50 at 224 px,
2 threads, LATENCY hint, float32: 0.94x the time of the IR from TensorFlow at batch 1 and
8; bfloat16: 0.50x / 0.75x; SE-ResNeXt-50 in bfloat16: 0.68x / 0.73x.

Precision: on CPUs with bfloat16 (AVX512_BF16, AMX) OpenVINO computes in bfloat16 unless
told otherwise; the IR cannot carry that choice (the CPU plugin ignores it in the model's
runtime options), so pass `{"INFERENCE_PRECISION_HINT": "f32"}` to `compile_model` for the
Keras model's figures. The verification does.

Already exported to ONNX? `export_openvino(model, "m.xml", from_onnx="m.onnx")` converts that
file instead of tracing the model again (the IR is still verified against the model).

Publishing two files: the .bin appears first, then the .xml (an existing .xml is withdrawn
before its .bin is replaced), so a reader that finds the .xml finds its own weights.
"""

import os
import time

from keras_senet import atomic
from keras_senet.export import verification
from keras_senet.export.model_facts import weights_bytes
from keras_senet.export.onnx import onnx_model
from keras_senet.export.output import check_output, weights_file
from keras_senet.export.report import ExportError, ExportReport
from keras_senet.export.tracing import inference_model, tensorflow_backend

# Verification compiles with float32 arithmetic (see the module docstring).
VERIFY_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


def import_openvino():
    """The `openvino` module; ImportError with the install hint when it is missing."""
    try:
        import openvino
    except ImportError as e:
        raise ImportError(
            "OpenVINO export needs the `openvino` package: pip install 'keras-senet[export]' "
            f"(or pip install openvino tf2onnx). ({e})") from None
    return openvino


def run_openvino(compiled, x):
    """Runs a compiled single-input OpenVINO model on the batch `x`: its first output."""
    return compiled(x)[compiled.outputs[0]]


def check_onnx_source(from_onnx):
    """Refuses a `from_onnx` that is not an existing .onnx file, naming the fix."""
    if from_onnx is None:
        return
    source = os.fspath(from_onnx)
    if not source.endswith(".onnx") or not os.path.isfile(source):
        raise ValueError(
            f"from_onnx (--from-onnx) must be an existing .onnx file `export_onnx` wrote for "
            f"this model; got {source!r}. Leave it out to convert the model itself.")


def export_openvino(model, path, *, from_onnx=None, verify=True, overwrite=False, atol=None,
                    fold_bn=True, log=print):
    """Writes an OpenVINO IR, `path` (.xml) and its weights beside it (.bin, same stem), and
    checks it with OpenVINO's CPU plugin (input and output: the model's, see the module
    docstring).

    Args:
        model: a Keras model with a fixed input size.
        path: the .xml file.
        from_onnx: an ONNX file `export_onnx` wrote for this model (with the same
            `fold_bn`), converted instead of tracing the model again: tf2onnx takes nearly
            all of the export's time (SE-ResNeXt-26d at 64 px: 6.6 s of 7 s). The IR is
            verified against `model` all the same; its input must be the model's.
        verify: compile the written IR on the CPU in float32 and compare its outputs with the
            Keras model's, as for a float32 `export_tflite` (relative error at most
            `VERIFY_RTOL` on natural-looking images).
        overwrite: replace an existing .xml / .bin.
        atol: an absolute bound on `max|exported - Keras|` replacing the relative one.
        fold_bn: trace the model with its BatchNorms folded into the convolutions.
        log: a callable taking one string, or None for silence.

    Returns:
        An `ExportReport` (`size_bytes`: the .xml and the .bin together).

    Raises:
        ImportError: openvino or tf2onnx is not installed.
        ValueError: `path` does not end in .xml, or the .xml / .bin exists without
            `overwrite`, or `from_onnx` is not an .onnx file.
        ExportError: tracing, conversion or verification failed, or the ONNX file is not
            an ONNX model or its input / output shape is not the model's.
    """
    tensorflow_backend()
    ov = import_openvino()
    start = time.perf_counter()
    log = log or (lambda message: None)
    target = check_output(path, "openvino", overwrite=overwrite)
    check_onnx_source(from_onnx)
    weights_target = weights_file(target)
    with atomic.staging_dir(target, temporary_files=True) as stage:
        if from_onnx is None:
            proto, traced = onnx_model(model, fold_bn=fold_bn, log=log)
            source = proto.SerializeToString()
        else:
            traced = inference_model(model, fold_bn, log)
            with open(from_onnx, "rb") as f:
                source = f.read()
        try:
            converted = ov.Core().read_model(source)
        except Exception as e:
            if from_onnx is not None:
                raise ExportError(
                    f"OpenVINO could not read the ONNX file {os.fspath(from_onnx)!r}: not an "
                    "ONNX model, or cut short. Export the model to ONNX again (export_onnx), "
                    f"or leave out from_onnx. ({e})") from e
            raise ExportError(f"OpenVINO could not convert {model.name!r}: {e}") from e
        check_signature(converted, model, from_onnx)
        staged_xml = os.path.join(stage.path, "model.xml")
        try:
            ov.save_model(converted, staged_xml, compress_to_fp16=False)
        except Exception as e:
            raise ExportError(f"OpenVINO could not write the IR of {model.name!r}: {e}") from e
        staged_bin = weights_file(staged_xml)
        size = os.path.getsize(staged_xml) + os.path.getsize(staged_bin)
        diff = relative = None
        if verify:
            compiled = ov.Core().compile_model(staged_xml, "CPU", VERIFY_CONFIG)
            x = verification.sample_batch(model)
            diff, relative, _ = verification.compare(
                "OpenVINO", run_openvino(compiled, x), model.predict(x, verbose=0),
                atol=atol, log=log)
        publish(stage, staged_xml, staged_bin, weights_target, overwrite)
    report = ExportReport(target, "openvino", size, weights_bytes(traced),
                          time.perf_counter() - start, diff, relative_diff=relative)
    log(f"OpenVINO IR written to {path} (+ {os.path.basename(weights_target)}, "
        f"{report.size_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s"
        + ("; verified" if verify else ""))
    return report


def check_signature(converted, model, from_onnx):
    """ExportError when the converted graph's input is not the model's [batch, H, W, C], or
    its output not the model's [batch, classes] (or feature shape)."""
    source = f"the ONNX file {os.fspath(from_onnx)!r}" if from_onnx else "the ONNX graph"
    for what, port, keras_tensor in (("input", converted.inputs[0], model.inputs[0]),
                                     ("output", converted.outputs[0], model.outputs[0])):
        expected = [None, *keras_tensor.shape[1:]]
        got = [None if d.is_dynamic else d.get_length() for d in port.get_partial_shape()]
        if got[1:] != expected[1:]:
            raise ExportError(
                f"The {what} of {source} is {got} (None: any size); the model {model.name!r} "
                f"has {expected}: export this model with export_onnx and convert that file.")


def publish(stage, staged_xml, staged_bin, weights_target, overwrite):
    """Publishes the .bin, then the .xml (`stage.target`); with `overwrite` an existing .xml
    is first moved into the staging directory, so no .xml is ever visible beside another
    export's .bin."""
    if overwrite and os.path.lexists(stage.target):
        os.rename(stage.target, os.path.join(stage.path, ".replaced.xml"))
    atomic.Staging(stage.path, weights_target).publish(staged_bin, overwrite=overwrite)
    stage.publish(staged_xml, overwrite=overwrite)
