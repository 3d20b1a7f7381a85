"""SE-VGG-16 (VGG-16 with BatchNorm, SE after every conv-BN-ReLU) and its plain twin
"vgg16_bn". No pretrained weights.

    architecture.py   `VGGArch`, the trunk and VGG's fully connected classifier
"""

from keras_senet import registry
from keras_senet.models.head import classifier_head
from keras_senet.models.vgg.architecture import VGGArch, build_vgg, vgg_classifier

# The SENet paper's figures (Table 2: top-1 error %, GFLOPs as multiply-adds, 224).
PAPER = {
    "vgg16_bn": dict(top1_err=27.02, gflops=15.47),
    "se_vgg16_bn": dict(top1_err=25.22, gflops=15.48),
}

def vgg_head(x, arch, include_top, pooling, classes, classifier_activation):
    """VGG's fully connected classifier with the top; keras.applications' pooling without."""
    if include_top:
        return vgg_classifier(x, arch, classes, classifier_activation)
    return classifier_head(x, False, pooling, classes, classifier_activation)

for _name, _row, _constructor in (("se_vgg16_bn", VGGArch(), "SEVGG16"),
                                  ("vgg16_bn", VGGArch(se=None), None)):
    registry.register(registry.ModelSpec(
        name=_name, family="se_vgg", builder=build_vgg, config=_row, constructor=_constructor,
        paper=PAPER[_name], head=vgg_head))

__all__ = ["VGGArch", "build_vgg", "vgg_classifier", "vgg_head"]
