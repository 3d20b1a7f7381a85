"""keras-hub face: every registered network as a keras-hub backbone, image classifier and
preset (the optional extra `keras-senet[hub]`; the zoo core never imports keras_hub).

    import keras_senet.hub              # registers the classes with Keras
    classifier = keras_hub.models.ImageClassifier.from_preset("./seresnet50.a1_in1k")
    backbone = keras_senet.hub.SKNetBackbone("skresnext50_32x4d")   # FeaturePyramidBackbone

Each family (keras_senet/models/<family>/) has its four classes, keras-hub's `models/resnet/`
pattern, in keras_senet/hub/<family>.py: a backbone (`SENetBackbone`: the registry builder,
the layer names and weights of `keras_senet.create_model`), an image converter
(`SENetImageConverter`: the checkpoint's evaluation transform), an image-classifier
preprocessor and an image classifier. `keras-senet preset` (keras_senet.hub.presets) writes
preset directories.
"""

from keras_senet.hub.backbone import SENetBackbone
from keras_senet.hub.cifar import (
    CifarResNetBackbone, CifarResNetImageClassifier, CifarResNetImageClassifierPreprocessor,
    CifarResNetImageConverter)
from keras_senet.hub.families import CLASSES, FamilyClasses, backbone_class, family_classes
from keras_senet.hub.image_converter import SENetImageConverter, resize_and_crop
from keras_senet.hub.inception import (
    SEInceptionBackbone, SEInceptionImageClassifier, SEInceptionImageClassifierPreprocessor,
    SEInceptionImageConverter)
from keras_senet.hub.mobile import (
    SEMobileBackbone, SEMobileImageClassifier, SEMobileImageClassifierPreprocessor,
    SEMobileImageConverter)
from keras_senet.hub.resnet import (
    SEResNetBackbone, SEResNetImageClassifier, SEResNetImageClassifierPreprocessor,
    SEResNetImageConverter, SKNetBackbone, SKNetImageClassifier,
    SKNetImageClassifierPreprocessor, SKNetImageConverter)
from keras_senet.hub.vgg import (
    SEVGGBackbone, SEVGGImageClassifier, SEVGGImageClassifierPreprocessor, SEVGGImageConverter)

__all__ = [
    "SENetBackbone", "SENetImageConverter", "resize_and_crop", "CLASSES", "FamilyClasses",
    "backbone_class", "family_classes",
    "SEResNetBackbone", "SEResNetImageConverter", "SEResNetImageClassifierPreprocessor",
    "SEResNetImageClassifier",
    "SKNetBackbone", "SKNetImageConverter", "SKNetImageClassifierPreprocessor",
    "SKNetImageClassifier",
    "SEInceptionBackbone", "SEInceptionImageConverter", "SEInceptionImageClassifierPreprocessor",
    "SEInceptionImageClassifier",
    "SEMobileBackbone", "SEMobileImageConverter", "SEMobileImageClassifierPreprocessor",
    "SEMobileImageClassifier",
    "SEVGGBackbone", "SEVGGImageConverter", "SEVGGImageClassifierPreprocessor",
    "SEVGGImageClassifier",
    "CifarResNetBackbone", "CifarResNetImageConverter", "CifarResNetImageClassifierPreprocessor",
    "CifarResNetImageClassifier",
]
