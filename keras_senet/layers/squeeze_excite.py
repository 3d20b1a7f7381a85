"""The Squeeze-and-Excitation block (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018).

Reference implementations: timm `layers/squeeze_excite.py` (SEModule) and the official
Caffe models ported in timm `models/senet.py` (SEModule with `C // r`).
"""

import dataclasses

import keras
from keras import ops

from keras_senet.layers.conv import make_divisible

GATES = ("sigmoid", "hard_sigmoid")


def reduced_width(channels, rd_ratio=1 / 16, rd_divisor=8):
    """Width of the excitation bottleneck, C/r.

    `rd_divisor=1` is the official SENet rule `C // r`; `rd_divisor=8` is timm's
    `make_divisible(C / r, 8)` (they differ when C / r is not a multiple of 8, e.g. C = 64).
    """
    if rd_divisor == 1:
        return max(1, int(channels * rd_ratio))
    return make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.0)


@keras.saving.register_keras_serializable(package="keras_senet")
class SqueezeExcite(keras.layers.Layer):
    """Squeeze-and-Excitation: channel recalibration of a feature map U.

    With U of shape (B, H, W, C):
        z = mean_{H,W}(U)                         squeeze, z in R^C
        s = gate(W2 . relu(W1 . z + b1) + b2)     excitation, W1: C -> C/r, W2: C/r -> C
        out = U * s                               scale, broadcast over H, W

    The two fully connected layers are stored as `(C, C/r)` and `(C/r, C)` matrices
    (the official models store them as 1x1 convolutions; the converter reshapes them).

    Args:
        rd_ratio: 1 / r, the reduction ratio (the paper's r = 16).
        rd_divisor: rounding of C/r: 1 for `C // r` (official SENet), 8 for timm.
        rd_channels: explicit width of the bottleneck; overrides `rd_ratio`.
        gate: "sigmoid" (the paper) or "hard_sigmoid" (mobile networks).
        use_bias: whether both FC layers carry a bias (they do in every reference model).

    Input shape: (B, H, W, C). Output shape: the same.
    """

    def __init__(self, rd_ratio=1 / 16, rd_divisor=8, rd_channels=None, gate="sigmoid",
                 use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if gate not in GATES:
            raise ValueError(f"SqueezeExcite: unknown gate {gate!r}; expected one of {GATES}.")
        if rd_channels is None and not 0 < rd_ratio <= 1:
            raise ValueError(f"SqueezeExcite: rd_ratio must be in (0, 1], received {rd_ratio}.")
        self.rd_ratio = rd_ratio
        self.rd_divisor = rd_divisor
        self.rd_channels = rd_channels
        self.gate = gate
        self.use_bias = use_bias

    def build(self, input_shape):
        channels = input_shape[-1]
        width = self.rd_channels or reduced_width(channels, self.rd_ratio, self.rd_divisor)
        self.reduce_kernel = self.add_weight(
            name="reduce_kernel", shape=(channels, width), initializer="he_normal")
        self.expand_kernel = self.add_weight(
            name="expand_kernel", shape=(width, channels), initializer="glorot_uniform")
        if self.use_bias:
            self.reduce_bias = self.add_weight(name="reduce_bias", shape=(width,),
                                               initializer="zeros")
            self.expand_bias = self.add_weight(name="expand_bias", shape=(channels,),
                                               initializer="zeros")

    @property
    def width(self):
        """C/r, the width of the excitation bottleneck (after build)."""
        return self.reduce_kernel.shape[-1]

    def excitation(self, inputs):
        """The per-channel gate s of shape (B, 1, 1, C)."""
        z = ops.mean(inputs, axis=(1, 2))
        z = ops.matmul(z, self.reduce_kernel)
        if self.use_bias:
            z = z + self.reduce_bias
        z = ops.relu(z)
        s = ops.matmul(z, self.expand_kernel)
        if self.use_bias:
            s = s + self.expand_bias
        s = ops.sigmoid(s) if self.gate == "sigmoid" else ops.hard_sigmoid(s)
        return s[:, None, None, :]

    def call(self, inputs):
        return inputs * self.excitation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rd_ratio": self.rd_ratio,
            "rd_divisor": self.rd_divisor,
            "rd_channels": self.rd_channels,
            "gate": self.gate,
            "use_bias": self.use_bias,
        }


@dataclasses.dataclass(frozen=True)
class SEConfig:
    """How a family attaches SE: one field of every architecture row (`se`), None for none.

    Attributes:
        ratio: 1 / r, the reduction ratio (the paper's r = 16).
        divisor: the rounding of C / r: 1 for `C // r` (the paper and the official Caffe
            models), 8 for timm's `make_divisible(C / r, 8)`.
    """

    ratio: float = 1 / 16
    divisor: int = 1


PAPER_SE = SEConfig()
TIMM_SE = SEConfig(divisor=8)


def attach_se(x, se, name):
    """`x` (B, H, W, C) recalibrated by `SqueezeExcite` named `name`; `x` itself when `se` is
    None (the plain twin of an SE network)."""
    if se is None:
        return x
    return SqueezeExcite(rd_ratio=se.ratio, rd_divisor=se.divisor, name=name)(x)
