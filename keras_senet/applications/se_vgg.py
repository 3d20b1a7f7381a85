"""SE-VGG-16: VGG-16 with BatchNorm and SE after every conv-BN-ReLU.

Paper: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv:1709.01507), Table 2.
Reference: torchvision `vgg16_bn` (layout and parameter count), keras.applications `VGG16`
(layer names). No pretrained weights: `weights=None` or a file you trained.

Registry names: "se_vgg16_bn" and the plain twin "vgg16_bn".
"""

import dataclasses

from keras_senet import registry
from keras_senet.applications._common import NO_WEIGHTS_DOC, head, make_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input
from keras_senet.models.vgg import VGGArch, build_vgg, vgg_classifier

# The SENet paper's figures (Table 2: top-1 error %, GFLOPs as multiply-adds, 224).
_PAPER = {
    "vgg16_bn": dict(top1_err=27.02, gflops=15.47),
    "se_vgg16_bn": dict(top1_err=25.22, gflops=15.48),
}


def vgg_head(x, arch, include_top, pooling, classes, classifier_activation):
    """VGG's fully connected classifier with the top; keras.applications' pooling without."""
    if include_top:
        return vgg_classifier(x, arch, classes, classifier_activation)
    return head(x, False, pooling, classes, classifier_activation)


_CONFIG = VGGArch()
for _name, _cfg in (("se_vgg16_bn", _CONFIG), ("vgg16_bn", dataclasses.replace(_CONFIG, se=False))):
    registry.register(registry.ModelSpec(
        name=_name, family="se_vgg", builder=build_vgg, config=_cfg,
        constructor="SEVGG16" if _cfg.se else None, paper=_PAPER[_name],
        head=vgg_head))

CONSTRUCTORS = {"SEVGG16": ("se_vgg16_bn", "se_vgg16")}

SEVGG16 = make_constructor(
    "SEVGG16", "se_vgg16_bn", "se_vgg16", module=__name__,
    doc=NO_WEIGHTS_DOC.format(
        title="SEVGG16", what="VGG-16 with BatchNorm and SE after every conv-BN-ReLU",
        reference="Simonyan & Zisserman (2015); Hu et al., \"Squeeze-and-Excitation "
                  "Networks\" (2018)",
        module="se_vgg", top="`flatten` -> `fc1` -> `fc2` -> `predictions`", min_size=32,
        size=224, features=512))

__all__ = ["SEVGG16", "preprocess_input", "decode_predictions"]
