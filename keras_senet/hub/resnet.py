"""keras-hub classes of the ResNet family (keras_senet/models/resnet/): the SE-ResNets,
SE-ResNeXts and SENet-154 ("se_resnet") and the SK-ResNets ("sknet"), keras-hub's
`models/resnet/` pattern: backbone, image converter, preprocessor, classifier."""

from keras.saving import register_keras_serializable
from keras_hub.models import ImageClassifier, ImageClassifierPreprocessor

from keras_senet.hub.backbone import SENetBackbone
from keras_senet.hub.image_converter import SENetImageConverter

register = register_keras_serializable(package="keras_senet")


@register
class SEResNetBackbone(SENetBackbone):
    """SE-ResNet / SE-ResNeXt / SENet-154 backbone: `SEResNetBackbone("seresnet50")`."""

    family = "se_resnet"


@register
class SEResNetImageConverter(SENetImageConverter):
    backbone_cls = SEResNetBackbone


@register
class SEResNetImageClassifierPreprocessor(ImageClassifierPreprocessor):
    backbone_cls = SEResNetBackbone
    image_converter_cls = SEResNetImageConverter


@register
class SEResNetImageClassifier(ImageClassifier):
    backbone_cls = SEResNetBackbone
    preprocessor_cls = SEResNetImageClassifierPreprocessor


@register
class SKNetBackbone(SENetBackbone):
    """Selective Kernel ResNet / ResNeXt backbone: `SKNetBackbone("skresnext50_32x4d")`."""

    family = "sknet"


@register
class SKNetImageConverter(SENetImageConverter):
    backbone_cls = SKNetBackbone


@register
class SKNetImageClassifierPreprocessor(ImageClassifierPreprocessor):
    backbone_cls = SKNetBackbone
    image_converter_cls = SKNetImageConverter


@register
class SKNetImageClassifier(ImageClassifier):
    backbone_cls = SKNetBackbone
    preprocessor_cls = SKNetImageClassifierPreprocessor
