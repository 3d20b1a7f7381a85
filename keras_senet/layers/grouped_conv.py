"""Grouped convolution whose kernel runs as G per-group convolutions where that is faster.

On the TensorFlow CPU kernels (oneDNN) a native `groups=` convolution of ResNeXt's shape
(G = 32, 4..32 channels per group) runs at a fraction of the FLOP rate of a dense one;
G convolutions on channel slices, concatenated, are faster there (SE-ResNeXt-50 batch 32:
0.75x the time, BENCHMARKS.md "grouped convolutions"). On GPUs and on JAX the native op is
the fast one. The variables, their names and the saved config are `Conv2D`'s in both cases,
so weights move freely between backends and implementations.
"""

import functools
import os

import keras
from keras import layers, ops

IMPLEMENTATIONS = ("auto", "native", "split")
ENV_VAR = "KERAS_SENET_GROUPED_CONV"


@functools.lru_cache(maxsize=None)
def _tensorflow_sees_a_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def grouped_conv_implementation():
    """The implementation grouped convolutions trace with now: "native" or "split".

    `KERAS_SENET_GROUPED_CONV=native|split` forces one; unset or "auto" picks "split" on the
    TensorFlow backend when TensorFlow sees no GPU, else "native".
    """
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in IMPLEMENTATIONS:
        raise ValueError(f"{ENV_VAR}={choice!r}: expected one of {', '.join(IMPLEMENTATIONS)}.")
    if choice != "auto":
        return choice
    if keras.backend.backend() == "tensorflow" and not _tensorflow_sees_a_gpu():
        return "split"
    return "native"


@keras.saving.register_keras_serializable(package="keras_senet")
class GroupedConv2D(layers.Conv2D):
    """`Conv2D(groups=G)` that may compute as G convolutions on channel slices.

    Input (B, H, W, C_in), kernel (k, k, C_in / G, C_out), output (B, H', W', C_out); output
    channels [g C_out/G, (g+1) C_out/G) see only input channels [g C_in/G, (g+1) C_in/G).
    Channels-last only; with `groups=1` or channels-first it is exactly `Conv2D`.
    """

    def call(self, inputs):
        if (self.groups == 1 or self.data_format != "channels_last"
                or grouped_conv_implementation() == "native"):
            return super().call(inputs)
        slices = ops.split(inputs, self.groups, axis=-1)
        kernels = ops.split(self.kernel, self.groups, axis=-1)
        outputs = ops.concatenate(
            [ops.conv(x, k, strides=self.strides, padding=self.padding,
                      dilation_rate=self.dilation_rate) for x, k in zip(slices, kernels)],
            axis=-1)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
