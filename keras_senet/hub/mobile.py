"""keras-hub classes of the mobile family (keras_senet/models/mobile/): SE-MobileNet,
SE-ShuffleNet and their plain twins ("se_mobile")."""

from keras.saving import register_keras_serializable
from keras_hub.models import ImageClassifier, ImageClassifierPreprocessor

from keras_senet.hub.backbone import SENetBackbone
from keras_senet.hub.image_converter import SENetImageConverter

register = register_keras_serializable(package="keras_senet")


@register
class SEMobileBackbone(SENetBackbone):
    """SE-MobileNet / SE-ShuffleNet backbone: `SEMobileBackbone("se_shufflenet_g3")`."""

    family = "se_mobile"


@register
class SEMobileImageConverter(SENetImageConverter):
    backbone_cls = SEMobileBackbone


@register
class SEMobileImageClassifierPreprocessor(ImageClassifierPreprocessor):
    backbone_cls = SEMobileBackbone
    image_converter_cls = SEMobileImageConverter


@register
class SEMobileImageClassifier(ImageClassifier):
    backbone_cls = SEMobileBackbone
    preprocessor_cls = SEMobileImageClassifierPreprocessor
