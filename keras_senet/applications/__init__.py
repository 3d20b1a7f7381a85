"""keras.applications-style constructors for every keras_senet family (the CIFAR networks,
whose contract differs, are reached by name: `keras_senet.create_model("se_resnet20_cifar")`).

    from keras_senet.applications import SEResNet50
    from keras_senet.applications.se_resnet import preprocess_input, decode_predictions
"""

from keras_senet.applications.se_resnet import (
    SENet154,
    SEResNet18,
    SEResNet34,
    SEResNet50,
    SEResNet101,
    SEResNet152,
    SEResNeXt26,
    SEResNeXt50,
    SEResNeXt101,
)
from keras_senet.applications.se_inception import (
    SEBNInception,
    SEInceptionResNetV2,
    SEInceptionV3,
)
from keras_senet.applications.se_mobile import SEMobileNet, SEShuffleNet
from keras_senet.applications.se_vgg import SEVGG16
from keras_senet.applications.sknet import SKNet50, SKNet101, SKResNet18, SKResNet34

__all__ = [
    "SEResNet18", "SEResNet34", "SEResNet50", "SEResNet101", "SEResNet152",
    "SEResNeXt26", "SEResNeXt50", "SEResNeXt101", "SENet154",
    "SKNet50", "SKNet101", "SKResNet18", "SKResNet34",
    "SEBNInception", "SEInceptionV3", "SEInceptionResNetV2", "SEMobileNet", "SEShuffleNet",
    "SEVGG16",
]
