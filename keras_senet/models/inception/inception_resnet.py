"""SE-Inception-ResNet-v2: SE on the residual branch of every Inception-ResNet module.

Papers: Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
Connections" (2017); Hu et al., "Squeeze-and-Excitation Networks" (2018), Fig. 3: SE
recalibrates the residual branch before it is summed with the identity. Reference layout:
keras.applications `InceptionResNetV2` (names `mixed_5b`, `block35_1`, `mixed_6a`, ...).

Layer names (stable, position only):
    stem      conv1..conv5_{conv,bn,relu}, pool1, pool2, mixed_5b_*, mixed_5b
    module    block{35,17,8}_{i}_branch{b}_{j}_{conv,bn,relu}, block{..}_{i}_mixed (concat),
              block{..}_{i}_conv (1x1 up-projection, with bias), block{..}_{i}_se (SE),
              block{..}_{i}_scale (x scale), block{..}_{i} (the addition), block{..}_{i}_ac
    reduction mixed_6a_*, mixed_6a, mixed_7a_*, mixed_7a (no SE: they are not residual)
    head      conv_7b_{conv,bn,relu} (1536 channels)
"""

import dataclasses

from keras import layers

from keras_senet.layers import PAPER_SE, SEConfig, attach_se
from keras_senet.layers.conv import keras_conv_bn
from keras_senet.models.inception.inception import inception_v3_stem


@dataclasses.dataclass(frozen=True)
class InceptionResNetV2Arch:
    """Inception-ResNet-v2 with or without SE.

    Attributes:
        depths: modules of each type (block35, block17, block8).
        scales: residual scaling of each type (the last block8 uses 1.0, no ReLU).
        se: the SE on the residual branch of every module (`SEConfig`), None for none.
    """

    depths: tuple = (10, 20, 10)
    scales: tuple = (0.17, 0.1, 0.2)
    se: SEConfig | None = PAPER_SE
    num_features: int = 1536


# Branches of each residual module type: lists of (filters, kernel) convolutions.
BRANCHES = {
    "block35": ([(32, 1)], [(32, 1), (32, 3)], [(32, 1), (48, 3), (64, 3)]),
    "block17": ([(192, 1)], [(128, 1), (160, (1, 7)), (192, (7, 1))]),
    "block8": ([(192, 1)], [(192, 1), (224, (1, 3)), (256, (3, 1))]),
}


def inception_resnet_module(x, block_type, scale, arch, name, activation="relu"):
    """x + scale * SE(up(concat(branches(x)))) -> ReLU.

    (B, H, W, C) -> (B, H, W, C). The SE block sees the up-projected residual, before the
    scaling and the addition with the identity.
    """
    branches = []
    for b, convs in enumerate(BRANCHES[block_type]):
        y = x
        for j, (filters, kernel) in enumerate(convs, start=1):
            y = keras_conv_bn(y, filters, kernel, name=f"{name}_branch{b}_{j}")
        branches.append(y)
    mixed = layers.Concatenate(name=f"{name}_mixed")(branches)
    residual = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_conv")(mixed)
    residual = attach_se(residual, arch.se, name=f"{name}_se")
    residual = layers.Rescaling(scale, name=f"{name}_scale")(residual)
    x = layers.Add(name=name)([x, residual])
    if activation:
        x = layers.Activation(activation, name=f"{name}_ac")(x)
    return x


def _reduction_a(x):  # mixed_6a: 35 -> 17, 1088 channels
    b0 = keras_conv_bn(x, 384, 3, stride=2, padding="valid", name="mixed_6a_branch0_1")
    b1 = keras_conv_bn(x, 256, 1, name="mixed_6a_branch1_1")
    b1 = keras_conv_bn(b1, 256, 3, name="mixed_6a_branch1_2")
    b1 = keras_conv_bn(b1, 384, 3, stride=2, padding="valid", name="mixed_6a_branch1_3")
    bp = layers.MaxPooling2D(3, strides=2, name="mixed_6a_pool")(x)
    return layers.Concatenate(name="mixed_6a")([b0, b1, bp])


def _reduction_b(x):  # mixed_7a: 17 -> 8, 2080 channels
    branches = []
    for b, widths in enumerate(((256, 384), (256, 288), (256, 288, 320))):
        y = x
        for j, filters in enumerate(widths, start=1):
            last = j == len(widths)
            y = keras_conv_bn(y, filters, 1 if j == 1 else 3, stride=2 if last else 1,
                              padding="valid" if last else "same",
                              name=f"mixed_7a_branch{b}_{j}")
        branches.append(y)
    branches.append(layers.MaxPooling2D(3, strides=2, name="mixed_7a_pool")(x))
    return layers.Concatenate(name="mixed_7a")(branches)


def _mixed_5b(x):  # 35x35, 320 channels
    b0 = keras_conv_bn(x, 96, 1, name="mixed_5b_branch0_1")
    b1 = keras_conv_bn(x, 48, 1, name="mixed_5b_branch1_1")
    b1 = keras_conv_bn(b1, 64, 5, name="mixed_5b_branch1_2")
    b2 = keras_conv_bn(x, 64, 1, name="mixed_5b_branch2_1")
    b2 = keras_conv_bn(b2, 96, 3, name="mixed_5b_branch2_2")
    b2 = keras_conv_bn(b2, 96, 3, name="mixed_5b_branch2_3")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name="mixed_5b_pool")(x)
    bp = keras_conv_bn(bp, 64, 1, name="mixed_5b_pool_proj")
    return layers.Concatenate(name="mixed_5b")([b0, b1, b2, bp])


def build_inception_resnet_v2(inputs, arch):
    """Inception-ResNet-v2 trunk (keras.applications layout).

    Args:
        inputs: (B, H, W, 3), H, W >= 75.
        arch: an `InceptionResNetV2Arch`.

    Returns:
        Feature maps at strides ~4, 8, 16, 32: conv5 (71x71 at 299), block35_10 (35x35),
        block17_20 (17x17), conv_7b (8x8, 1536 channels).
    """
    x, stride4 = inception_v3_stem(inputs)
    features = [stride4]
    x = _mixed_5b(x)
    n35, n17, n8 = arch.depths
    s35, s17, s8 = arch.scales
    for i in range(1, n35 + 1):
        x = inception_resnet_module(x, "block35", s35, arch, f"block35_{i}")
    features.append(x)
    x = _reduction_a(x)
    for i in range(1, n17 + 1):
        x = inception_resnet_module(x, "block17", s17, arch, f"block17_{i}")
    features.append(x)
    x = _reduction_b(x)
    for i in range(1, n8 + 1):
        last = i == n8
        x = inception_resnet_module(x, "block8", 1.0 if last else s8, arch, f"block8_{i}",
                                    activation=None if last else "relu")
    x = keras_conv_bn(x, arch.num_features, 1, name="conv_7b")
    features.append(x)
    return features
