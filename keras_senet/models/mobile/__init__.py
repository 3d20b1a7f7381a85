"""The SENet paper's mobile networks: SE-MobileNet and SE-ShuffleNet, each with its plain twin
("mobilenet", "shufflenet_g3") that measures the SE overhead. No pretrained weights.

    mobilenet.py    MobileNet v1 (width 1.0), SE after every depthwise-separable block
    shufflenet.py   ShuffleNet v1 (1x, g = 3), SE on the residual branch of every unit
"""

import dataclasses

from keras_senet import registry
from keras_senet.models.mobile.mobilenet import MobileNetArch, build_mobilenet
from keras_senet.models.mobile.shufflenet import ShuffleNetArch, build_shufflenet

# name -> (builder, row, public constructor)
VARIANTS = {
    "se_mobilenet": (build_mobilenet, MobileNetArch(), "SEMobileNet"),
    "se_shufflenet_g3": (build_shufflenet, ShuffleNetArch(groups=3), "SEShuffleNet"),
}

# The SENet paper's figures (Table 16: params in millions, GFLOPs as multiply-adds, 224).
PAPER = {
    "mobilenet": dict(params_m=4.2, gflops=0.569),
    "se_mobilenet": dict(params_m=4.7, gflops=0.572),
    "shufflenet_g3": dict(params_m=1.8, gflops=0.140),
    "se_shufflenet_g3": dict(params_m=2.4, gflops=0.142),
}

for _name, (_builder, _arch, _constructor) in VARIANTS.items():
    for _row_name, _row, _row_constructor in (
            (_name, _arch, _constructor),
            (_name.removeprefix("se_"), dataclasses.replace(_arch, se=None), None)):
        registry.register(registry.ModelSpec(
            name=_row_name, family="se_mobile", builder=_builder, config=_row,
            constructor=_row_constructor, paper=PAPER.get(_row_name, {})))

__all__ = ["MobileNetArch", "ShuffleNetArch", "build_mobilenet", "build_shufflenet"]
