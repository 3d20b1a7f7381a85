"""The one place keras_senet.export patches private Keras code, and the check that it still can.

Keras' TensorFlow backend wraps every grouped convolution in `tf.function(jit_compile=True)`
because old TensorFlow CPU kernels lacked grouped convolution. In a SavedModel that becomes a
`StatefulPartitionedCall` marked `_XlaMustCompile`: tf2onnx cannot convert it, the TFLite
converter and TF Serving need XLA for it. TensorFlow >= 2.16 runs grouped `Conv2D` natively on
CPU and GPU, so while tracing an export `plain_grouped_convolutions` emits `tf.nn.convolution`
directly (the same maths; the exporters' verification compares the outputs).

It replaces two private functions, written against Keras `WRITTEN_FOR_KERAS`:

    keras.src.backend.tensorflow.nn.conv(inputs, kernel, strides, padding, data_format,
                                         dilation_rate)
    keras.src.layers.convolutional.base_conv.BaseConv.convolution_op(self, inputs, kernel)

`check_keras_internals` verifies that they (and the layer attributes the patch reads) are still
what it was written for, and raises an `ExportError` naming the installed Keras version when
they are not; tests/test_export.py runs it, so a Keras upgrade that moves them fails loudly
there. A change it cannot see (Keras binding `conv` elsewhere, so the patch no longer takes
effect) still leaves an XLA function in the traced graph, which `tracing.check_no_xla`
reports.
"""

import contextlib
import inspect

from keras_senet.export.report import ExportError

WRITTEN_FOR_KERAS = "3.15.1"
CONV_PARAMETERS = ("inputs", "kernel", "strides", "padding", "data_format", "dilation_rate")
CONVOLUTION_OP_PARAMETERS = ("self", "inputs", "kernel")
# What the patched `convolution_op` reads from a convolution layer.
LAYER_ATTRIBUTES = ("groups", "use_bias", "activation", "rank", "data_format", "strides",
                    "padding", "dilation_rate")


def _changed(what):
    import keras

    return ExportError(
        f"keras_senet.export patches private Keras code written for Keras {WRITTEN_FOR_KERAS}; "
        f"the installed Keras {keras.__version__} changed it: {what}. Install keras=="
        f"{WRITTEN_FOR_KERAS}, or update keras_senet/export/keras_compat.py for Keras "
        f"{keras.__version__} (tests/test_export.py checks it).")


def _parameters(function):
    return tuple(inspect.signature(function).parameters)


def check_keras_internals():
    """Raises `ExportError` naming the Keras version when the private code that
    `plain_grouped_convolutions` replaces is not what it was written for.

    Returns:
        (the `keras.src.backend.tensorflow.nn` module, the `BaseConv` class): what it patches.
    """
    import keras

    try:
        from keras.src.backend.tensorflow import nn as tf_nn
        from keras.src.layers.convolutional.base_conv import BaseConv
    except ImportError as e:
        raise _changed(f"cannot import {e.name or e}") from e
    conv = getattr(tf_nn, "conv", None)
    if conv is None or _parameters(conv) != CONV_PARAMETERS:
        raise _changed(f"keras.src.backend.tensorflow.nn.conv is "
                       f"{_parameters(conv) if conv else 'gone'}, not {CONV_PARAMETERS}")
    if not callable(getattr(getattr(tf_nn, "backend", None), "standardize_data_format", None)):
        raise _changed("keras.src.backend.tensorflow.nn.backend.standardize_data_format is gone")
    op = getattr(BaseConv, "convolution_op", None)
    if op is None or _parameters(op) != CONVOLUTION_OP_PARAMETERS:
        raise _changed(f"BaseConv.convolution_op is {_parameters(op) if op else 'gone'}, not "
                       f"{CONVOLUTION_OP_PARAMETERS}")
    try:
        call_source = inspect.getsource(BaseConv.call)
    except (OSError, TypeError):  # installed without sources: the XLA check still guards
        call_source = "self.convolution_op("
    if "self.convolution_op(" not in call_source:
        raise _changed("BaseConv.call no longer calls self.convolution_op")
    layer = keras.layers.Conv2D(2, 1)
    missing = [name for name in LAYER_ATTRIBUTES if not hasattr(layer, name)]
    if missing or not isinstance(layer, BaseConv):
        raise _changed(f"keras.layers.Conv2D is no BaseConv with {missing or LAYER_ATTRIBUTES}")
    return tf_nn, BaseConv


@contextlib.contextmanager
def plain_grouped_convolutions():
    """Traces grouped convolutions as plain TensorFlow ops, not XLA-compiled sub-functions.

    One exception: Grappler fuses Conv2D + bias (+ activation) into `_FusedConv2D`, whose CPU
    kernel rejects grouped convolutions ("Fused conv implementation does not support grouped
    convolutions"). A grouped Conv2D *layer* with a bias or an activation is therefore traced
    as one convolution per group and a concatenation. The zoo's grouped convolutions have
    neither (BatchNorm follows them) and stay single grouped ops.
    """
    import tensorflow as tf
    from keras import activations

    tf_nn, BaseConv = check_keras_internals()
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
