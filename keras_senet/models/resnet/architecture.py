"""The ResNet family's architecture: its row type (`ResNetArch`), blocks and trunk.

Papers: Hu et al., "Squeeze-and-Excitation Networks" (2018); Li et al., "Selective Kernel
Networks" (2019). Reference implementations: timm `models/senet.py` (the official Caffe
SENets, `legacy_*`), `models/resnet.py` (`seresnet*`, `seresnext*`), `models/sknet.py`.

Layer names depend on position only (never on the model's `name`):
    stem      conv1_conv, conv1_bn, conv1_relu   (deep stems: conv1_{1,2,3}_{conv,bn,relu})
              pool1_pad, pool1_pool
    block     conv{S}_block{B}_{1,2,3}_{conv,bn,relu}   S = 2..5, B = 1..depth
              conv{S}_block{B}_2_aa                       anti-aliasing pool (`aa` variants)
              conv{S}_block{B}_2_sk / _1_sk               Selective Kernel conv (SK variants)
              conv{S}_block{B}_se                         Squeeze-and-Excitation
              conv{S}_block{B}_0_{pool,conv,bn}           projection shortcut
              conv{S}_block{B}_add, conv{S}_block{B}_out
    stage outputs (strides 4, 8, 16, 32): the last block's `_out` of conv2 .. conv5.
"""

import dataclasses
import math

from keras import layers

from keras_senet.layers import TIMM_SE, SelectiveKernel, SEConfig, attach_se
from keras_senet.layers.conv import (
    avg_pool_2x2_s2,
    avg_pool_2x2_s2_ceil,
    batch_norm,
    conv2d,
    conv_bn,
    max_pool_3x3_s2,
)

BLOCKS = ("basic", "bottleneck", "sk_basic", "sk_bottleneck")
STEMS = ("7x7", "deep", "deep_tiered")
STEM_POOLS = ("max", "max_ceil", "avg")
STAGE_PLANES = (64, 128, 256, 512)
# Which timm module a row's checkpoints come from; it decides their parameter names.
LINEAGES = ("senet", "resnet", "sknet")


@dataclasses.dataclass(frozen=True)
class ResNetArch:
    """One row of the family table: everything that differs between variants.

    Attributes:
        block: "basic" | "bottleneck" | "sk_basic" | "sk_bottleneck".
        depths: blocks per stage (conv2 .. conv5).
        groups: cardinality of the 3x3 (ResNeXt); 1 for ResNet.
        width_per_group: bottleneck width per group at the first stage (ResNeXt "d").
        stem: "7x7" | "deep" (three 3x3 convs) | "deep_tiered" (3x3 widths 3/4 w, w).
        stem_width: width w of a deep stem's first convs; its output has 2 w channels.
        stem_pool: "max" (padding 1) | "max_ceil" (Caffe: ceil mode, no padding) |
            "avg" (2x2 average, timm `aa` variants).
        down_kernel: kernel of the projection shortcut at strided stages (SENet-154: 3).
        avg_down: shortcut = 2x2 average pool (ceil mode) + 1x1 conv ("d" variants).
        stride_in_1x1: stride on the first 1x1 of the bottleneck (official SE-ResNets).
        reduce_first: width of the first 1x1 is width / reduce_first (SENet-154: 2).
        anti_alias: stride the 3x3 by a 2x2 average pool after it (timm `aa` variants).
        se: the blocks' Squeeze-and-Excitation (`SEConfig`: r = 16 with `C // 16` for the
            official models, timm's `make_divisible(C / 16, 8)` for its own), None for none.
        relu_before_se: a ReLU between the basic block's last BN and SE (the official
            SE-ResNet-18/34 checkpoints were trained with it).
        sk_rd_ratio, sk_rd_divisor, sk_split_input: the SelectiveKernel options.
        drop_rate: dropout before the classifier (training only).
        lineage: the timm module whose checkpoints fit this row, and so their parameter
            names: "senet" (`legacy_*`, the official Caffe models), "resnet" or "sknet".
    """

    block: str
    depths: tuple
    groups: int = 1
    width_per_group: int = 64
    stem: str = "7x7"
    stem_width: int = 64
    stem_pool: str = "max"
    down_kernel: int = 1
    avg_down: bool = False
    stride_in_1x1: bool = False
    reduce_first: int = 1
    anti_alias: bool = False
    se: SEConfig | None = TIMM_SE
    relu_before_se: bool = False
    sk_rd_ratio: float = 1 / 16
    sk_rd_divisor: int = 32
    sk_split_input: bool = False
    drop_rate: float = 0.0
    lineage: str = "resnet"

    def __post_init__(self):
        if self.block not in BLOCKS:
            raise ValueError(f"ResNetArch.block must be one of {BLOCKS}, received {self.block!r}.")
        if self.stem not in STEMS:
            raise ValueError(f"ResNetArch.stem must be one of {STEMS}, received {self.stem!r}.")
        if self.stem_pool not in STEM_POOLS:
            raise ValueError(
                f"ResNetArch.stem_pool must be one of {STEM_POOLS}, received {self.stem_pool!r}.")
        if self.lineage not in LINEAGES:
            raise ValueError(
                f"ResNetArch.lineage must be one of {LINEAGES}, received {self.lineage!r}.")
        if len(self.depths) != 4 or min(self.depths) < 1:
            raise ValueError(
                f"ResNetArch.depths must be 4 positive block counts, received {self.depths}.")

    @property
    def expansion(self):
        return 4 if self.block.endswith("bottleneck") else 1

    @property
    def num_features(self):
        return STAGE_PLANES[-1] * self.expansion


def _stem(x, arch):
    if arch.stem == "7x7":
        x = conv_bn(x, 64, 7, stride=2, name="conv1")
        out_channels = 64
    else:
        out_channels = 2 * arch.stem_width
        first = 3 * (arch.stem_width // 4) if arch.stem == "deep_tiered" else arch.stem_width
        x = conv_bn(x, first, 3, stride=2, name="conv1_1")
        x = conv_bn(x, arch.stem_width, 3, name="conv1_2")
        x = conv_bn(x, out_channels, 3, name="conv1_3")
    if arch.stem_pool == "avg":
        x = avg_pool_2x2_s2(x, name="pool1_pool")
    else:
        x = max_pool_3x3_s2(x, ceil_mode=arch.stem_pool == "max_ceil", name="pool1")
    return x, out_channels


def _shortcut(x, filters, stride, arch, name):
    """Identity, or the projection: [2x2 avg pool ->] conv(k x k, stride) -> BN."""
    if stride == 1 and x.shape[-1] == filters:
        return x
    kernel = arch.down_kernel if stride > 1 else 1
    if arch.avg_down:
        if stride > 1:
            x = avg_pool_2x2_s2_ceil(x, name=f"{name}_0_pool")
        x = conv2d(x, filters, 1, name=f"{name}_0_conv")
    else:
        x = conv2d(x, filters, kernel, stride=stride, name=f"{name}_0_conv")
    return batch_norm(f"{name}_0_bn")(x)


def _selective_kernel(x, filters, stride, groups, arch, name):
    return SelectiveKernel(filters, stride=stride, groups=groups, rd_ratio=arch.sk_rd_ratio,
                           rd_divisor=arch.sk_rd_divisor, split_input=arch.sk_split_input,
                           name=name)(x)


def bottleneck_block(x, planes, stride, arch, name):
    """1x1 -> 3x3 (grouped; or SK) -> 1x1 -> SE -> + shortcut -> ReLU.

    Args:
        x: (B, H, W, C_in).
        planes: the stage's base width; the block outputs 4 * planes channels.
        stride: 1, or 2 at the first block of a strided stage.

    Returns:
        (B, H / stride, W / stride, 4 * planes).
    """
    width = math.floor(planes * arch.width_per_group / 64) * arch.groups
    out_channels = planes * 4
    shortcut = _shortcut(x, out_channels, stride, arch, name)
    stride_1x1, stride_3x3 = (stride, 1) if arch.stride_in_1x1 else (1, stride)
    x = conv_bn(x, width // arch.reduce_first, 1, stride=stride_1x1, name=f"{name}_1")
    if arch.block == "sk_bottleneck":
        x = _selective_kernel(x, width, stride_3x3, arch.groups, arch, name=f"{name}_2_sk")
    elif arch.anti_alias and stride_3x3 > 1:
        x = conv_bn(x, width, 3, groups=arch.groups, name=f"{name}_2")
        x = avg_pool_2x2_s2(x, name=f"{name}_2_aa")
    else:
        x = conv_bn(x, width, 3, stride=stride_3x3, groups=arch.groups, name=f"{name}_2")
    x = conv_bn(x, out_channels, 1, activation=None, name=f"{name}_3")
    return _merge(x, shortcut, arch, name)


def basic_block(x, planes, stride, arch, name):
    """3x3 (or SK) -> 3x3 -> SE -> + shortcut -> ReLU, `planes` channels out."""
    shortcut = _shortcut(x, planes, stride, arch, name)
    if arch.block == "sk_basic":
        x = _selective_kernel(x, planes, stride, 1, arch, name=f"{name}_1_sk")
    elif arch.anti_alias and stride > 1:
        x = conv_bn(x, planes, 3, name=f"{name}_1")
        x = avg_pool_2x2_s2(x, name=f"{name}_1_aa")
    else:
        x = conv_bn(x, planes, 3, stride=stride, name=f"{name}_1")
    x = conv_bn(x, planes, 3, activation="relu" if arch.relu_before_se else None,
                name=f"{name}_2")
    return _merge(x, shortcut, arch, name)


def _merge(residual, shortcut, arch, name):
    """SE recalibrates the residual branch, before the addition (the paper's Fig. 3)."""
    residual = attach_se(residual, arch.se, name=f"{name}_se")
    x = layers.Add(name=f"{name}_add")([shortcut, residual])
    return layers.Activation("relu", name=f"{name}_out")(x)


def build_resnet(inputs, arch):
    """The convolutional trunk: stem and four stages.

    Args:
        inputs: image tensor (B, H, W, 3), normalised as the weights expect.
        arch: a `ResNetArch`.

    Returns:
        The four stage outputs, strides 4, 8, 16, 32 (the last has `arch.num_features`
        channels).
    """
    block_fn = bottleneck_block if arch.expansion == 4 else basic_block
    x, _ = _stem(inputs, arch)
    features = []
    for stage, (planes, depth) in enumerate(zip(STAGE_PLANES, arch.depths)):
        for block in range(depth):
            stride = 2 if stage > 0 and block == 0 else 1
            x = block_fn(x, planes, stride, arch, name=f"conv{stage + 2}_block{block + 1}")
        features.append(x)
    return features
