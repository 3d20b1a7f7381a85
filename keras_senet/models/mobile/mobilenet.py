"""SE-MobileNet: MobileNet v1 with SE after every depthwise-separable block.

Papers: Howard et al., "MobileNets" (2017); Hu et al., "Squeeze-and-Excitation Networks"
(2018), Table 16 (SE-MobileNet: 4.7M params, 572 MFLOPs). Reference layout:
keras.applications `MobileNet` (alpha 1.0; names `conv1`, `conv_dw_{i}`, `conv_pw_{i}`).

Layer names (stable, position only):
    stem   conv1_pad, conv1, conv1_bn, conv1_relu
    block  conv_pad_{i} (strided blocks), conv_dw_{i}, conv_dw_{i}_bn, conv_dw_{i}_relu,
           conv_pw_{i}, conv_pw_{i}_bn, conv_pw_{i}_relu, conv_pw_{i}_se     i = 1..13
Strided layers pad symmetrically (PyTorch style) where keras.applications pads (0, 1);
shapes and parameter counts are the same.
"""

import dataclasses

from keras import layers

from keras_senet.layers import PAPER_SE, SEConfig, attach_se
from keras_senet.layers.conv import keras_batch_norm


# (pointwise filters, stride) of the 13 depthwise-separable blocks.
MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


@dataclasses.dataclass(frozen=True)
class MobileNetArch:
    """MobileNet v1 with or without SE.

    Attributes:
        alpha: width multiplier (1.0 in the SENet paper).
        blocks: (filters, stride) of each depthwise-separable block.
        stem_filters: width of the stride-2 stem convolution.
        se: the SE after every block (after its pointwise conv-BN-ReLU) (`SEConfig`), None for the plain network.
    """

    alpha: float = 1.0
    blocks: tuple = MOBILENET_BLOCKS
    stem_filters: int = 32
    se: SEConfig | None = PAPER_SE

    @property
    def num_features(self):
        return int(self.blocks[-1][0] * self.alpha)


def _pad_if_strided(x, stride, name):
    return layers.ZeroPadding2D(1, name=name)(x) if stride > 1 else x


def depthwise_separable_block(x, filters, stride, arch, block_id):
    """3x3 depthwise -> BN -> ReLU6 -> 1x1 -> BN -> ReLU6 -> SE.

    (B, H, W, C) -> (B, H / stride, W / stride, filters).
    """
    padding = "valid" if stride > 1 else "same"
    x = _pad_if_strided(x, stride, f"conv_pad_{block_id}")
    x = layers.DepthwiseConv2D(3, strides=stride, padding=padding, use_bias=False,
                               name=f"conv_dw_{block_id}")(x)
    x = keras_batch_norm(f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"conv_pw_{block_id}")(x)
    x = keras_batch_norm(f"conv_pw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)
    return attach_se(x, arch.se, name=f"conv_pw_{block_id}_se")


def build_mobilenet(inputs, arch):
    """MobileNet v1 trunk.

    Args:
        inputs: (B, H, W, 3).
        arch: a `MobileNetArch`.

    Returns:
        Feature maps at strides 4, 8, 16, 32 (blocks 3, 5, 11, 13); the last has
        1024 * alpha channels.
    """
    x = _pad_if_strided(inputs, 2, "conv1_pad")
    x = layers.Conv2D(int(arch.stem_filters * arch.alpha), 3, strides=2, use_bias=False,
                      name="conv1")(x)
    x = keras_batch_norm("conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    features = []
    for i, (filters, stride) in enumerate(arch.blocks, start=1):
        if stride > 1 and i > 2:
            features.append(x)
        x = depthwise_separable_block(x, int(filters * arch.alpha), stride, arch, i)
    features.append(x)
    return features
