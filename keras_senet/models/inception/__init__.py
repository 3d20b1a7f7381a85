"""The Inception family of the SENet paper: SE-BN-Inception, SE-Inception-v3 and
SE-Inception-ResNet-v2, each with its plain twin (same name without "se_") that measures the
SE overhead. No pretrained weights: `weights=None` or a file you trained.

    inception.py          BN-Inception and Inception-v3 (SE after every whole module)
    inception_resnet.py   Inception-ResNet-v2 (SE on every residual branch)
"""

import dataclasses

from keras_senet import registry
from keras_senet.models.inception.inception import (
    BNInceptionArch,
    InceptionV3Arch,
    build_bn_inception,
    build_inception_v3,
)
from keras_senet.models.inception.inception_resnet import (
    InceptionResNetV2Arch,
    build_inception_resnet_v2,
)

# name -> (builder, row, default input size, smallest input size, public constructor)
VARIANTS = {
    "se_bn_inception": (build_bn_inception, BNInceptionArch(), 224, 32, "SEBNInception"),
    "se_inception_v3": (build_inception_v3, InceptionV3Arch(), 299, 75, "SEInceptionV3"),
    "se_inception_resnet_v2": (build_inception_resnet_v2, InceptionResNetV2Arch(), 299, 75,
                               "SEInceptionResNetV2"),
}

# The SENet paper's ImageNet figures (Table 2: single crop, top-1 error %, GFLOPs as
# multiply-adds; BN-Inception at 224, Inception-ResNet-v2 at 299).
PAPER = {
    "bn_inception": dict(top1_err=25.38, gflops=2.03),
    "se_bn_inception": dict(top1_err=24.23, gflops=2.04),
    "inception_resnet_v2": dict(top1_err=20.37, gflops=11.75),
    "se_inception_resnet_v2": dict(top1_err=19.80, gflops=11.76),
}

for _name, (_builder, _arch, _size, _min_size, _constructor) in VARIANTS.items():
    for _row_name, _row, _row_constructor in (
            (_name, _arch, _constructor),
            (_name.removeprefix("se_"), dataclasses.replace(_arch, se=None), None)):
        registry.register(registry.ModelSpec(
            name=_row_name, family="se_inception", builder=_builder, config=_row,
            default_size=_size, min_size=_min_size, constructor=_row_constructor,
            paper=PAPER.get(_row_name, {})))

__all__ = ["BNInceptionArch", "InceptionV3Arch", "InceptionResNetV2Arch", "build_bn_inception",
           "build_inception_v3", "build_inception_resnet_v2"]
