"""SE-ShuffleNet: ShuffleNet v1 with SE on the residual branch of every unit.

Papers: Zhang et al., "ShuffleNet" (CVPR 2018); Hu et al., "Squeeze-and-Excitation
Networks" (2018), Table 16 (SE-ShuffleNet 1x (g=3): 2.4M params, 142 MFLOPs). No reference
checkpoint; the unit follows the paper's Fig. 2 (b, c).

Layer names (stable, position only):
    stem   conv1_{conv,bn,relu}, pool1_{pad,pool}
    unit   stage{S}_block{B}_1_{conv,bn,relu} (1x1 group conv), stage{S}_block{B}_shuffle,
           stage{S}_block{B}_2_{pad,conv,bn} (3x3 depthwise), stage{S}_block{B}_3_{conv,bn}
           (1x1 group conv), stage{S}_block{B}_se, stage{S}_block{B}_shortcut_{pad,pool}
           (strided units), stage{S}_block{B}_add | _concat, stage{S}_block{B}_out
    S = 2..4, B = 1..depth
"""

import dataclasses

from keras import layers

from keras_senet.layers import PAPER_SE, ChannelShuffle, SEConfig, attach_se
from keras_senet.layers.conv import batch_norm, conv_bn, max_pool_3x3_s2

# Stage output widths of ShuffleNet 1x for each group count (ShuffleNet paper, Table 1).
STAGE_WIDTHS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
                4: (272, 544, 1088), 8: (384, 768, 1536)}


@dataclasses.dataclass(frozen=True)
class ShuffleNetArch:
    """ShuffleNet v1 with or without SE.

    Attributes:
        groups: g, the group count of the 1x1 convolutions.
        widths: output channels of stages 2, 3, 4.
        depths: units per stage.
        stem_filters: width of the stride-2 3x3 stem.
        bottleneck_ratio: bottleneck width = output width * ratio (the paper's 1/4).
        se: the SE on the residual branch of every unit (`SEConfig`), None for the plain network.
    """

    groups: int = 3
    widths: tuple = STAGE_WIDTHS[3]
    depths: tuple = (4, 8, 4)
    stem_filters: int = 24
    bottleneck_ratio: float = 0.25
    se: SEConfig | None = PAPER_SE

    @property
    def num_features(self):
        return self.widths[-1]


def shufflenet_unit(x, filters, stride, arch, name, first_unit=False):
    """1x1 GConv -> BN -> ReLU -> shuffle -> 3x3 DWConv -> BN -> 1x1 GConv -> BN -> SE,
    then `+ x` (stride 1) or `concat(avgpool(x), .)` (stride 2), then ReLU.

    (B, H, W, C) -> (B, H / stride, W / stride, filters). A strided unit's branch makes
    `filters - C` channels. The first unit of the network keeps its first 1x1 ungrouped (the
    stem has only 24 channels), as in the paper.
    """
    in_channels = x.shape[-1]
    branch_out = filters - in_channels if stride > 1 else filters
    bottleneck = int(filters * arch.bottleneck_ratio)
    first_groups = 1 if first_unit else arch.groups
    y = conv_bn(x, bottleneck, 1, groups=first_groups, name=f"{name}_1")
    y = ChannelShuffle(arch.groups, name=f"{name}_shuffle")(y)
    if stride > 1:
        y = layers.ZeroPadding2D(1, name=f"{name}_2_pad")(y)
    y = layers.DepthwiseConv2D(3, strides=stride, padding="valid" if stride > 1 else "same",
                               use_bias=False, name=f"{name}_2_conv")(y)
    y = batch_norm(f"{name}_2_bn")(y)
    y = conv_bn(y, branch_out, 1, groups=arch.groups, activation=None, name=f"{name}_3")
    y = attach_se(y, arch.se, name=f"{name}_se")
    if stride > 1:  # PyTorch AvgPool2d(3, 2, padding=1), padded zeros counted
        shortcut = layers.ZeroPadding2D(1, name=f"{name}_shortcut_pad")(x)
        shortcut = layers.AveragePooling2D(3, strides=2, name=f"{name}_shortcut_pool")(shortcut)
        x = layers.Concatenate(name=f"{name}_concat")([shortcut, y])
    else:
        x = layers.Add(name=f"{name}_add")([x, y])
    return layers.Activation("relu", name=f"{name}_out")(x)


def build_shufflenet(inputs, arch):
    """ShuffleNet v1 trunk.

    Args:
        inputs: (B, H, W, 3).
        arch: a `ShuffleNetArch`.

    Returns:
        Feature maps at strides 4, 8, 16, 32 (pool1 and the three stage outputs).
    """
    for width in arch.widths:
        if width % arch.groups or int(width * arch.bottleneck_ratio) % arch.groups:
            raise ValueError(
                f"ShuffleNet: stage width {width} (bottleneck "
                f"{int(width * arch.bottleneck_ratio)}) is not divisible by groups="
                f"{arch.groups}; use the widths of STAGE_WIDTHS[{arch.groups}].")
    x = conv_bn(inputs, arch.stem_filters, 3, stride=2, name="conv1")
    x = max_pool_3x3_s2(x, name="pool1")
    features = [x]
    for stage, (width, depth) in enumerate(zip(arch.widths, arch.depths), start=2):
        for block in range(1, depth + 1):
            x = shufflenet_unit(x, width, 2 if block == 1 else 1, arch,
                                name=f"stage{stage}_block{block}",
                                first_unit=stage == 2 and block == 1)
        features.append(x)
    return features
