"""SE-VGG-16: VGG-16 with BatchNorm and SE after every conv-BN-ReLU.

Papers: Simonyan & Zisserman, "Very Deep Convolutional Networks" (2015), configuration D;
Hu et al., "Squeeze-and-Excitation Networks" (2018), Table 5 (VGG-16 with BN: 27.02 ->
25.22 top-1 err). Reference layout: torchvision `vgg16_bn` (convs with bias, BN, fc 4096-4096-classes,
dropout 0.5; the same parameter count), with keras.applications VGG16's layer names.

Layer names (stable, position only):
    block{b}_conv{i} (3x3 conv with bias), block{b}_conv{i}_bn, block{b}_conv{i}_relu,
    block{b}_conv{i}_se, block{b}_pool; head: flatten, fc1, fc1_dropout, fc2, fc2_dropout,
    predictions.
"""

import dataclasses

from keras import layers

from keras_senet.layers import PAPER_SE, SEConfig, attach_se
from keras_senet.layers.conv import batch_norm

VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


@dataclasses.dataclass(frozen=True)
class VGGArch:
    """VGG with BatchNorm, with or without SE.

    Attributes:
        stages: conv widths of each block (a 2x2 max pool ends every block).
        fc_width: width of fc1 and fc2.
        dropout: dropout after fc1 and fc2 (torchvision's 0.5).
        se: the SE after every conv-BN-ReLU (`SEConfig`), None for the plain network.
    """

    stages: tuple = VGG16_STAGES
    fc_width: int = 4096
    dropout: float = 0.5
    se: SEConfig | None = PAPER_SE

    @property
    def num_features(self):
        return self.stages[-1][-1]


def build_vgg(inputs, arch):
    """VGG trunk: (conv3x3 -> BN -> ReLU -> SE) x n, max pool; five blocks.

    Args:
        inputs: (B, H, W, 3).
        arch: a `VGGArch`.

    Returns:
        Feature maps at strides 4, 8, 16, 32 (block2..block5 pools); the last has 512
        channels.
    """
    x = inputs
    features = []
    for b, widths in enumerate(arch.stages, start=1):
        for i, filters in enumerate(widths, start=1):
            name = f"block{b}_conv{i}"
            x = layers.Conv2D(filters, 3, padding="same", name=name)(x)
            x = batch_norm(f"{name}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_relu")(x)
            x = attach_se(x, arch.se, name=f"{name}_se")
        x = layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
        if b > 1:
            features.append(x)
    return features


def vgg_classifier(x, arch, classes, classifier_activation):
    """flatten -> fc1 -> ReLU -> dropout -> fc2 -> ReLU -> dropout -> predictions.

    (B, h, w, 512) -> (B, classes); fc1 has h * w * 512 inputs (7 * 7 * 512 at 224).
    """
    x = layers.Flatten(name="flatten")(x)
    for fc in ("fc1", "fc2"):
        x = layers.Dense(arch.fc_width, activation="relu", name=fc)(x)
        if arch.dropout:
            x = layers.Dropout(arch.dropout, name=f"{fc}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, dtype="float32",
                        name="predictions")(x)
