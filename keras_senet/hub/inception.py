"""keras-hub classes of the Inception family (keras_senet/models/inception/): SE-BN-Inception,
SE-Inception-v3, SE-Inception-ResNet-v2 and their plain twins ("se_inception").

Their unpadded convolutions make the pyramid maps a little smaller than size / 2^level."""

from keras.saving import register_keras_serializable
from keras_hub.models import ImageClassifier, ImageClassifierPreprocessor

from keras_senet.hub.backbone import SENetBackbone
from keras_senet.hub.image_converter import SENetImageConverter

register = register_keras_serializable(package="keras_senet")


@register
class SEInceptionBackbone(SENetBackbone):
    """SE-Inception backbone: `SEInceptionBackbone("se_inception_v3")` (inputs >= 75 px)."""

    family = "se_inception"


@register
class SEInceptionImageConverter(SENetImageConverter):
    backbone_cls = SEInceptionBackbone


@register
class SEInceptionImageClassifierPreprocessor(ImageClassifierPreprocessor):
    backbone_cls = SEInceptionBackbone
    image_converter_cls = SEInceptionImageConverter


@register
class SEInceptionImageClassifier(ImageClassifier):
    backbone_cls = SEInceptionBackbone
    preprocessor_cls = SEInceptionImageClassifierPreprocessor
