"""The Selective Kernel convolution (Li et al., "Selective Kernel Networks", CVPR 2019).

Reference implementation: timm `layers/selective_kernel.py` (SelectiveKernel with
`keep_3x3=True`: every path is a 3x3 convolution, path m dilated by m).
"""

import keras
from keras import layers, ops

from keras_senet.layers.conv import BN_EPSILON, BN_MOMENTUM, make_divisible, torch_padding
from keras_senet.layers.grouped_conv import GroupedConv2D


def attention_width(channels, rd_ratio=1 / 16, rd_divisor=32):
    """d, the width of the fused descriptor z: make_divisible(C * rd_ratio, L), at least L.

    With the paper's r = 16 and L = 32 this is d = max(C / r, L) for SKNet's widths.
    """
    return make_divisible(channels * rd_ratio, rd_divisor)


@keras.saving.register_keras_serializable(package="keras_senet")
class SelectiveKernel(keras.layers.Layer):
    """Selective Kernel convolution SK[M, G, r, L] on X of shape (B, H, W, C_in).

        split:  U_m = ReLU(BN(conv3x3_{dilation m, groups G, stride s}(X_m)))   m = 1..M
                (X_m = X, or the m-th of M channel slices when `split_input`)
        fuse:   U = sum_m U_m;  s = mean_{H,W}(U) in R^C;  z = ReLU(BN(W s)) in R^d
        select: a_m = softmax_m(A_m z) per channel;  V = sum_m a_m * U_m

    A dilated stride-2 path is computed without a wasted stride-1 pass: with dilation d a
    multiple of the stride s, conv_{stride s, dilation d}(pad(X)) equals
    conv_{stride 1, dilation d/s}(pad(X)[::s, ::s]).

    Args:
        filters: C, the output channels (default: C_in).
        num_paths: M (the paper's default 2: kernels 3x3 and "5x5" as dilated 3x3).
        stride: stride of every path.
        groups: G, groups of every path's convolution (capped at C).
        rd_ratio: 1 / r.
        rd_divisor: L, the minimum of d; d is rounded to a multiple of L.
        attn_channels: explicit d; overrides `rd_ratio` / `rd_divisor`.
        split_input: feed each path C_in / M channels instead of all of them (timm's
            SK-ResNets do; SKNet-50 does not).

    Input shape: (B, H, W, C_in). Output shape: (B, ceil(H / s), ceil(W / s), C).
    """

    def __init__(self, filters=None, num_paths=2, stride=1, groups=1, rd_ratio=1 / 16,
                 rd_divisor=32, attn_channels=None, split_input=False, **kwargs):
        super().__init__(**kwargs)
        if num_paths < 2:
            raise ValueError(f"SelectiveKernel: num_paths (M) must be >= 2, received {num_paths}.")
        if stride not in (1, 2):
            raise ValueError(f"SelectiveKernel: stride must be 1 or 2, received {stride}.")
        self.filters = filters
        self.num_paths = num_paths
        self.stride = stride
        self.groups = groups
        self.rd_ratio = rd_ratio
        self.rd_divisor = rd_divisor
        self.attn_channels = attn_channels
        self.split_input = split_input
        self.path_convs = []
        self.path_bns = []
        self.attn_bn = layers.BatchNormalization(
            epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name="attn_bn")

    def _path_geometry(self, path):
        """How path m (dilation m + 1) is computed: (padding, conv stride, conv dilation,
        subsample before the conv, subsample after it)."""
        dilation = path + 1
        pad = torch_padding(3, self.stride, dilation)
        if self.stride == 1 or dilation == 1:
            return pad, self.stride, dilation, 1, 1
        if dilation % self.stride == 0:
            return pad, 1, dilation // self.stride, self.stride, 1
        return pad, 1, dilation, 1, self.stride

    def build(self, input_shape):
        in_channels = input_shape[-1]
        filters = self.filters or in_channels
        if self.split_input and in_channels % self.num_paths:
            raise ValueError(
                f"SelectiveKernel: split_input needs C_in divisible by M={self.num_paths}, "
                f"received C_in={in_channels}.")
        path_in = in_channels // self.num_paths if self.split_input else in_channels
        groups = min(filters, self.groups)
        self._filters = filters
        for m in range(self.num_paths):
            _, conv_stride, conv_dilation, _, _ = self._path_geometry(m)
            conv = GroupedConv2D(filters, 3, strides=conv_stride, dilation_rate=conv_dilation,
                                 groups=groups, padding="valid", use_bias=False,
                                 name=f"path{m}_conv")
            conv.build((None, None, None, path_in))
            bn = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM,
                                           name=f"path{m}_bn")
            bn.build((None, None, None, filters))
            self.path_convs.append(conv)
            self.path_bns.append(bn)
        attn = self.attn_channels or attention_width(filters, self.rd_ratio, self.rd_divisor)
        self.reduce_kernel = self.add_weight(name="reduce_kernel", shape=(filters, attn),
                                             initializer="he_normal")
        self.attn_bn.build((None, attn))
        self.select_kernel = self.add_weight(name="select_kernel",
                                             shape=(attn, self.num_paths * filters),
                                             initializer="glorot_uniform")

    def call(self, inputs, training=None):
        if self.split_input:
            path_inputs = ops.split(inputs, self.num_paths, axis=-1)
        else:
            path_inputs = [inputs] * self.num_paths
        paths = []
        for m, x in enumerate(path_inputs):
            pad, _, _, before, after = self._path_geometry(m)
            x = ops.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
            x = self.path_convs[m](x[:, ::before, ::before, :] if before > 1 else x)
            if after > 1:
                x = x[:, ::after, ::after, :]
            paths.append(ops.relu(self.path_bns[m](x, training=training)))
        fused = paths[0]
        for path in paths[1:]:
            fused = fused + path
        attention = self.attention(fused, training=training)
        output = paths[0] * attention[:, 0]
        for m in range(1, self.num_paths):
            output = output + paths[m] * attention[:, m]
        return output

    def attention(self, fused, training=None):
        """Per-path, per-channel weights a of shape (B, M, 1, 1, C), summing to 1 over M."""
        s = ops.mean(fused, axis=(1, 2))
        z = ops.relu(self.attn_bn(ops.matmul(s, self.reduce_kernel), training=training))
        logits = ops.matmul(z, self.select_kernel)
        logits = ops.reshape(logits, (-1, self.num_paths, 1, 1, self._filters))
        return ops.softmax(logits, axis=1)

    def compute_output_shape(self, input_shape):
        def out(size):
            return None if size is None else -(-size // self.stride)
        filters = self.filters or input_shape[-1]
        return (input_shape[0], out(input_shape[1]), out(input_shape[2]), filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "num_paths": self.num_paths,
            "stride": self.stride,
            "groups": self.groups,
            "rd_ratio": self.rd_ratio,
            "rd_divisor": self.rd_divisor,
            "attn_channels": self.attn_channels,
            "split_input": self.split_input,
        }
