"""The CIFAR networks' architecture: the row type (`CifarArch`), blocks and trunk.

Papers: He et al., "Deep Residual Learning for Image Recognition" (2016, the 6n+2 CIFAR
ResNets); He et al., "Identity Mappings in Deep Residual Networks" (2016, the pre-activation
bottleneck ResNet-164); Zagoruyko & Komodakis, "Wide Residual Networks" (2016, WRN-16-8);
Hu et al., "Squeeze-and-Excitation Networks" (2018): SE with r = 16 on the residual branch,
before the addition.

Inputs are RGB pixel values in [0, 255] of shape (B, 32, 32, 3); the model normalises them
itself with the CIFAR-10 training-set mean / std (layer `normalize`).

Layer names depend on position only:
    normalize                                   (x - mean) / std
    stem         conv1_conv [, conv1_bn, conv1_relu (post-activation nets)]
    block        conv{S}_block{B}_{1,2,3}_{conv,bn,relu}   S = 2..4
                 conv{S}_block{B}_preact_{bn,relu}          (pre-activation blocks)
                 conv{S}_block{B}_se                        Squeeze-and-Excitation
                 conv{S}_block{B}_0_{conv,bn}               projection shortcut
                 conv{S}_block{B}_add [, conv{S}_block{B}_out]
    final        post_bn, post_relu                         (pre-activation nets)
    stage outputs (strides 1, 2, 4): the last layer of conv2, conv3, conv4.
"""

import dataclasses

from keras import layers

from keras_senet.layers import SEConfig, attach_se
from keras_senet.layers.conv import batch_norm, conv2d, conv_bn

# CIFAR-10 training-set statistics of RGB pixel values in [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

BLOCKS = ("basic", "preact_bottleneck", "preact_basic")


@dataclasses.dataclass(frozen=True)
class CifarArch:
    """One row of the CIFAR table.

    Attributes:
        block: "basic" (post-activation, ResNet-20..110), "preact_bottleneck" (ResNet-164),
            "preact_basic" (wide ResNet).
        depth: blocks per stage (the same for the three stages).
        widths: block widths of the three stages (the bottleneck's inner width).
        stem_width: channels of the 3x3 stem convolution.
        se: each block's Squeeze-and-Excitation (`PAPER_SE`: r = 16, `C // 16`), None for
            the plain network.
    """

    block: str
    depth: int
    widths: tuple = (16, 32, 64)
    stem_width: int = 16
    se: SEConfig | None = None

    def __post_init__(self):
        if self.block not in BLOCKS:
            raise ValueError(f"Unknown CIFAR block {self.block!r}; expected one of {BLOCKS}.")

    @property
    def expansion(self):
        return 4 if self.block == "preact_bottleneck" else 1

    @property
    def num_features(self):
        return self.widths[-1] * self.expansion


def _projection(x, filters, stride, name, with_bn=True):
    x = conv2d(x, filters, 1, stride=stride, name=f"{name}_0_conv")
    return batch_norm(f"{name}_0_bn")(x) if with_bn else x


def basic_block(x, width, stride, arch, name):
    """Post-activation basic block: conv3x3-BN-ReLU, conv3x3-BN, [SE], + shortcut, ReLU."""
    needs_projection = stride != 1 or x.shape[-1] != width
    shortcut = _projection(x, width, stride, name) if needs_projection else x
    y = conv_bn(x, width, 3, stride=stride, name=f"{name}_1")
    y = conv_bn(y, width, 3, activation=None, name=f"{name}_2")
    y = attach_se(y, arch.se, name=f"{name}_se")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _preact(x, name):
    x = batch_norm(f"{name}_preact_bn")(x)
    return layers.Activation("relu", name=f"{name}_preact_relu")(x)


def preact_basic_block(x, width, stride, arch, name):
    """Pre-activation (wide) basic block: BN-ReLU-conv3x3, BN-ReLU-conv3x3, [SE], + shortcut.

    A projection shortcut takes the pre-activated input, as in the reference code.
    """
    needs_projection = stride != 1 or x.shape[-1] != width
    act = _preact(x, name)
    shortcut = _projection(act, width, stride, name, with_bn=False) if needs_projection else x
    y = conv_bn(act, width, 3, stride=stride, name=f"{name}_1")
    y = conv2d(y, width, 3, name=f"{name}_2_conv")
    y = attach_se(y, arch.se, name=f"{name}_se")
    return layers.Add(name=f"{name}_add")([shortcut, y])


def preact_bottleneck_block(x, width, stride, arch, name):
    """Pre-activation bottleneck: BN-ReLU-conv1x1, BN-ReLU-conv3x3 (stride), BN-ReLU-conv1x1
    to 4 x width, [SE], + shortcut."""
    out_channels = width * 4
    needs_projection = stride != 1 or x.shape[-1] != out_channels
    act = _preact(x, name)
    shortcut = (_projection(act, out_channels, stride, name, with_bn=False)
                if needs_projection else x)
    y = conv_bn(act, width, 1, name=f"{name}_1")
    y = conv_bn(y, width, 3, stride=stride, name=f"{name}_2")
    y = conv2d(y, out_channels, 1, name=f"{name}_3_conv")
    y = attach_se(y, arch.se, name=f"{name}_se")
    return layers.Add(name=f"{name}_add")([shortcut, y])


_BLOCK_FNS = {"basic": basic_block, "preact_basic": preact_basic_block,
              "preact_bottleneck": preact_bottleneck_block}


def normalize_layer():
    """(x - 255 mean) / (255 std) on 0..255 RGB pixels, a fixed (non-trainable) layer."""
    mean = [255.0 * m for m in CIFAR10_MEAN]
    variance = [(255.0 * s) ** 2 for s in CIFAR10_STD]
    return layers.Normalization(mean=mean, variance=variance, name="normalize")


def build_cifar(inputs, arch):
    """Builds the body of a CIFAR network.

    Args:
        inputs: (B, H, W, 3) RGB pixel values in [0, 255] (H = W = 32 for CIFAR).
        arch: a `CifarArch` row.

    Returns:
        The three stage outputs, strides 1, 2, 4: (B, H, W, w1 e), (B, H/2, W/2, w2 e),
        (B, H/4, W/4, w3 e) with e = 4 for the bottleneck, 1 otherwise.
    """
    x = normalize_layer()(inputs)
    preact = arch.block.startswith("preact")
    if preact:
        x = conv2d(x, arch.stem_width, 3, name="conv1_conv")
    else:
        x = conv_bn(x, arch.stem_width, 3, name="conv1")
    block_fn = _BLOCK_FNS[arch.block]
    features = []
    for stage, width in enumerate(arch.widths):
        for index in range(arch.depth):
            stride = 2 if stage > 0 and index == 0 else 1
            x = block_fn(x, width, stride, arch, name=f"conv{stage + 2}_block{index + 1}")
        if preact and stage == len(arch.widths) - 1:
            x = batch_norm("post_bn")(x)
            x = layers.Activation("relu", name="post_relu")(x)
        features.append(x)
    return features
