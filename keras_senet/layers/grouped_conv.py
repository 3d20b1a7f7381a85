"""Grouped convolution whose kernel runs as G per-group convolutions where that is faster.

On CPUs, TensorFlow's kernels (oneDNN) and XLA:CPU run a native `groups=` convolution of
ResNeXt's shape (G = 32, 4..32 channels per group) at a fraction of the FLOP rate of a dense
one; G convolutions on channel slices, concatenated, are faster there (SE-ResNeXt-50 batch
32: 0.75x the time on TensorFlow, 0.59x on JAX; BENCHMARKS.md "CPU levers"). Narrower
convolutions are slower still: below 16 input channels one runs far under the rate of a
16-channel one (4 channels: 2-4 GFLOP/s against 57-158 for a dense 3x3), so the split first
merges k neighbouring groups into one convolution with a block-diagonal kernel
(k x the multiply-adds, zeros across the merged groups): ResNeXt-50's first stage (4 channels
per group) then runs as 8 convolutions of 16 channels. On GPUs the native op is the one the
vendor libraries tune, and it stays the default there. The variables, their names and the
saved config are `Conv2D`'s in every case, so weights move freely between backends and
implementations.
"""

import functools
import os

import keras
from keras import layers, ops

IMPLEMENTATIONS = ("auto", "native", "split")
ENV_VAR = "KERAS_SENET_GROUPED_CONV"
MIN_SPLIT_CHANNELS = 16  # input channels of each convolution the split runs (where G allows)


def groups_to_merge(groups, in_channels_per_group, min_channels=MIN_SPLIT_CHANNELS):
    """k, the number of neighbouring groups the split computes as one convolution: the
    smallest divisor of G with k * C_in/G >= `min_channels` (G when none is)."""
    for k in range(1, groups + 1):
        if groups % k == 0 and k * in_channels_per_group >= min_channels:
            return k
    return groups


def merge_groups(kernel, groups, k):
    """The grouped kernel (kh, kw, C_in/G, C_out) as one for G/k groups of k merged groups:
    (kh, kw, k C_in/G, C_out), block diagonal within each merged group."""
    kh, kw, cin_g, cout = kernel.shape
    blocks = ops.reshape(kernel, (kh, kw, 1, cin_g, groups // k, k, cout // groups))
    eye = ops.reshape(ops.eye(k, dtype=blocks.dtype), (1, 1, k, 1, 1, k, 1))
    return ops.reshape(blocks * eye, (kh, kw, k * cin_g, cout))


@functools.lru_cache(maxsize=None)
def _runs_on_cpu(backend):
    """Whether `backend` computes on the CPU here (TensorFlow: no GPU visible; JAX: its
    default platform is "cpu"). Other backends: False (keep native `groups=`)."""
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.config.list_physical_devices("GPU")
    if backend == "jax":
        import jax

        return jax.default_backend() == "cpu"
    return False


def grouped_conv_implementation():
    """The implementation grouped convolutions trace with now: "native" or "split".

    `KERAS_SENET_GROUPED_CONV=native|split` forces one; unset or "auto" picks "split" on the
    TensorFlow and JAX backends when they compute on the CPU, else "native".
    """
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in IMPLEMENTATIONS:
        raise ValueError(f"{ENV_VAR}={choice!r}: expected one of {', '.join(IMPLEMENTATIONS)}.")
    if choice != "auto":
        return choice
    return "split" if _runs_on_cpu(keras.backend.backend()) else "native"


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
        return self.split_call(inputs)

    def split_call(self, inputs, min_channels=MIN_SPLIT_CHANNELS):
        """The layer's output computed as G / k convolutions on channel slices, concatenated,
        each over k merged groups (`groups_to_merge`; k = 1 for `min_channels=1`)."""
        kernel, groups = self.kernel, self.groups
        k = groups_to_merge(groups, kernel.shape[2], min_channels)
        if k > 1:
            kernel, groups = merge_groups(kernel, groups, k), groups // k
        slices = ops.split(inputs, groups, axis=-1)
        kernels = ops.split(kernel, groups, axis=-1)
        outputs = ops.concatenate(
            [ops.conv(x, k, strides=self.strides, padding=self.padding,
                      dilation_rate=self.dilation_rate) for x, k in zip(slices, kernels)],
            axis=-1)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
