"""An ONNX model of the Keras model (tf2onnx), checked with onnxruntime.

    export_onnx(model, "seresnext50.onnx")

Input `inputs`: the model's own input (normalised float32 [batch, H, W, 3], NHWC); output
`outputs`: the model's output. Needs the `export` extra (tf2onnx, onnxruntime).
"""

import time

import numpy as np

from keras_senet import atomic
from keras_senet.export import verification
from keras_senet.export.model_facts import weights_bytes
from keras_senet.export.output import check_output
from keras_senet.export.report import ExportError, ExportReport
from keras_senet.export.tracing import inference_model, model_function, tensorflow_backend


def inline_captured_constants(proto, concrete):
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
    """Writes an ONNX model (tf2onnx) and checks it with onnxruntime (input and output:
    the model's, see the module docstring). `opset`: the ONNX opset to target.
    `fold_bn`: trace the model with its BatchNorms folded into the convolutions.
    `verify` / `atol`: as for a float32 `export_tflite` (relative error at most
    `VERIFY_RTOL` on natural-looking images, or `max abs diff <= atol` when `atol` is given).

    Returns:
        An `ExportReport`.
    """
    tensorflow_backend()
    try:
        import tf2onnx
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the `tf2onnx` package: pip install 'keras-senet[export]' "
            f"(or pip install tf2onnx onnxruntime). ({e})") from None
    start = time.perf_counter()
    log = log or (lambda message: None)
    target = check_output(path, "onnx", overwrite=overwrite)
    with atomic.staging_dir(target, temporary_files=True) as stage:
        traced = inference_model(model, fold_bn, log)
        module, concrete = model_function(traced)
        try:
            proto, _ = tf2onnx.convert.from_function(
                module.serve, input_signature=concrete.structured_input_signature[0], opset=opset)
        except Exception as e:
            raise ExportError(f"tf2onnx failed for {model.name!r}: {e}") from e
        inline_captured_constants(proto, concrete)
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
            x = verification.sample_batch(model)
            got = session.run(None, {session.get_inputs()[0].name: x})[0]
            diff, relative, _ = verification.compare(
                "ONNX", got, model.predict(x, verbose=0), atol=atol, log=log)
        stage.publish_bytes(content, overwrite=overwrite)
    report = ExportReport(target, "onnx", len(content), weights_bytes(traced),
                          time.perf_counter() - start, diff, relative_diff=relative)
    log(f"ONNX written to {path} ({report.size_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s"
        + ("; verified" if verify else ""))
    return report
