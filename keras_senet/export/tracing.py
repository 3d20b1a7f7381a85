"""Tracing a Keras model into a TensorFlow graph that converts and serves without XLA.

Every exporter traces the model with the TensorFlow backend, by default with each
conv -> BatchNorm pair merged into one biased convolution (`inference_model`), grouped
convolutions as plain ops (`keras_compat.plain_grouped_convolutions`), and checks that no
XLA-compiled function is left (`check_no_xla`). The TFLite exporter also fixes how the zoo's
`GroupedConv2D` layers trace (`grouped_convolution_implementation`).
"""

import contextlib
import os

from keras_senet.export.keras_compat import WRITTEN_FOR_KERAS, plain_grouped_convolutions
from keras_senet.export.report import ExportError


def tensorflow_backend():
    """The `tensorflow` module; `ExportError` unless Keras runs on the TensorFlow backend."""
    import tensorflow as tf

    import keras

    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            "keras_senet.export traces models with the TensorFlow backend; the Keras backend "
            f"is {keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing "
            "keras (export a .weights.h5 from another backend and reload it under TensorFlow).")
    return tf


def check_no_xla(concrete_function):
    """Raises `ExportError` if the traced graph still holds an XLA-compiled function."""
    import keras

    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        if function.attr.get("_XlaMustCompile") and function.attr["_XlaMustCompile"].b:
            raise ExportError(
                f"The traced model contains an XLA-compiled function ({function.signature.name})"
                "; it would not convert to ONNX / TFLite or serve without XLA. The patch in "
                f"keras_senet/export/keras_compat.py was written for Keras {WRITTEN_FOR_KERAS} "
                f"(installed: {keras.__version__}); please report it with the model name.")
        nodes.extend(function.node_def)
    for node in nodes:
        if "_XlaMustCompile" in node.attr and node.attr["_XlaMustCompile"].b:
            raise ExportError(f"The traced model contains an XLA-compiled op {node.name!r}.")


def trace_error(model, error):
    """The `ExportError` for a model whose tracing raised `error`."""
    return ExportError(
        f"Could not trace {model.name!r} into a TensorFlow graph: {type(error).__name__}: "
        f"{error}. Every layer's `call` must use keras.ops / TensorFlow ops only (no NumPy "
        "conversion, no Python side effects on tensor values).")


def concrete_functions(*functions):
    """The concrete functions of input-signature `tf.function`s, traced without XLA islands.

    Raises:
        ExportError: a function did not trace, or its graph holds an XLA-compiled function.
    """
    with plain_grouped_convolutions():
        concrete = [function.get_concrete_function() for function in functions]
    for function in concrete:
        check_no_xla(function)
    return concrete


@contextlib.contextmanager
def grouped_convolution_implementation(implementation):
    """Inside the block the zoo's `GroupedConv2D` layers trace as `implementation`
    ("native": one grouped convolution; "split": per-group convolutions on channel slices),
    whatever `KERAS_SENET_GROUPED_CONV` says (the layer reads that variable at each call;
    it is restored on exit). None: leave it as it is."""
    from keras_senet.layers import grouped_conv

    if implementation is None:
        yield
        return
    previous = os.environ.get(grouped_conv.ENV_VAR)
    os.environ[grouped_conv.ENV_VAR] = implementation
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(grouped_conv.ENV_VAR, None)
        else:
            os.environ[grouped_conv.ENV_VAR] = previous


def inference_model(model, fold_bn, log):
    """The model to trace: `model` with its BatchNorms folded into the convolutions, or as is."""
    if not fold_bn:
        return model
    from keras_senet.folding import fold_batch_norm

    folded, count = fold_batch_norm(model)
    if log and count:
        log(f"folded {count} BatchNorm layers into the convolutions before them")
    return folded


def model_function(model, grouped_convolutions=None):
    """The model as one graph function, for the TFLite and ONNX converters.

    Args:
        model: a Keras model with a fixed input size.
        grouped_convolutions: how the zoo's grouped convolutions trace ("native", "split",
            see `grouped_convolution_implementation`); None: as `KERAS_SENET_GROUPED_CONV`
            (or the device) decides.

    Returns:
        (a tf.Module tracking the variables once, with `serve(inputs) -> {"outputs": y}`;
        its concrete function): inputs [None, H, W, C] of the model's dtype, a variable batch.

    Raises:
        ValueError: the model takes inputs of any size.
        ExportError: the model does not trace (see `concrete_functions`).
    """
    tf = tensorflow_backend()
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
        with grouped_convolution_implementation(grouped_convolutions):
            (concrete,) = concrete_functions(serve)
    except ExportError:
        raise
    except Exception as e:
        raise trace_error(model, e) from e
    return module, concrete
