"""Each registry family's keras-hub classes (one module per family folder of
keras_senet/models/)."""

import collections

from keras_senet import registry
from keras_senet.hub import cifar, inception, mobile, resnet, vgg

FamilyClasses = collections.namedtuple(
    "FamilyClasses", ["backbone", "image_converter", "preprocessor", "classifier"])

CLASSES = {
    "se_resnet": FamilyClasses(resnet.SEResNetBackbone, resnet.SEResNetImageConverter,
                               resnet.SEResNetImageClassifierPreprocessor,
                               resnet.SEResNetImageClassifier),
    "sknet": FamilyClasses(resnet.SKNetBackbone, resnet.SKNetImageConverter,
                           resnet.SKNetImageClassifierPreprocessor, resnet.SKNetImageClassifier),
    "se_inception": FamilyClasses(inception.SEInceptionBackbone,
                                  inception.SEInceptionImageConverter,
                                  inception.SEInceptionImageClassifierPreprocessor,
                                  inception.SEInceptionImageClassifier),
    "se_mobile": FamilyClasses(mobile.SEMobileBackbone, mobile.SEMobileImageConverter,
                               mobile.SEMobileImageClassifierPreprocessor,
                               mobile.SEMobileImageClassifier),
    "se_vgg": FamilyClasses(vgg.SEVGGBackbone, vgg.SEVGGImageConverter,
                            vgg.SEVGGImageClassifierPreprocessor, vgg.SEVGGImageClassifier),
    "cifar": FamilyClasses(cifar.CifarResNetBackbone, cifar.CifarResNetImageConverter,
                           cifar.CifarResNetImageClassifierPreprocessor,
                           cifar.CifarResNetImageClassifier),
}


def family_classes(model_name):
    """The `FamilyClasses` (backbone, image_converter, preprocessor, classifier) of a registry
    name; an unknown name raises the registry's ValueError with close matches."""
    family = registry.get_spec(model_name).family
    if family not in CLASSES:
        raise ValueError(f"The {family!r} family has no keras-hub classes: add them to "
                         "keras_senet/hub/families.py.")
    return CLASSES[family]


def backbone_class(model_name):
    """The keras-hub backbone class that builds `model_name` (`SEResNetBackbone`, ...)."""
    return family_classes(model_name).backbone
