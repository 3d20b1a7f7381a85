"""keras-hub classes of the CIFAR family (keras_senet/models/cifar/): the SENet paper's
CIFAR ResNets and WRN-16-8, with and without SE ("cifar").

Their stages have strides 1, 2, 4: pyramid levels P0, P1, P2. They normalise 0..255 pixels
themselves, so their image converter hands them the pixels (`IN_MODEL_TRANSFORM`)."""

from keras.saving import register_keras_serializable
from keras_hub.models import ImageClassifier, ImageClassifierPreprocessor

from keras_senet.hub.backbone import SENetBackbone
from keras_senet.hub.image_converter import SENetImageConverter

register = register_keras_serializable(package="keras_senet")


@register
class CifarResNetBackbone(SENetBackbone):
    """CIFAR ResNet / WRN backbone: `CifarResNetBackbone("se_resnet20_cifar")`."""

    family = "cifar"
    pyramid_levels = ("P0", "P1", "P2")


@register
class CifarResNetImageConverter(SENetImageConverter):
    backbone_cls = CifarResNetBackbone


@register
class CifarResNetImageClassifierPreprocessor(ImageClassifierPreprocessor):
    backbone_cls = CifarResNetBackbone
    image_converter_cls = CifarResNetImageConverter


@register
class CifarResNetImageClassifier(ImageClassifier):
    backbone_cls = CifarResNetBackbone
    preprocessor_cls = CifarResNetImageClassifierPreprocessor
