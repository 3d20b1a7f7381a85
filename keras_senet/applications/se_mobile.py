"""SE-MobileNet and SE-ShuffleNet: SE in the SENet paper's mobile networks.

Paper: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv:1709.01507), Table 16.
Reference: keras.applications `MobileNet` (alpha 1.0); ShuffleNet v1 1x, g = 3 (Zhang et al.).
No pretrained weights: `weights=None` or a file you trained.

Registry names: "se_mobilenet", "se_shufflenet_g3" and the plain twins "mobilenet",
"shufflenet_g3" (`keras_senet.create_model("mobilenet")`), which measure the SE overhead.
"""

import dataclasses

from keras_senet import registry
from keras_senet.applications._common import NO_WEIGHTS_DOC, make_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input
from keras_senet.models.mobilenet import MobileNetArch, build_mobilenet
from keras_senet.models.shufflenet import ShuffleNetArch, build_shufflenet

# The SENet paper's figures (Table 16: params in millions, MFLOPs as multiply-adds, 224).
_PAPER = {
    "mobilenet": dict(params_m=4.2, gflops=0.569),
    "se_mobilenet": dict(params_m=4.7, gflops=0.572),
    "shufflenet_g3": dict(params_m=1.8, gflops=0.140),
    "se_shufflenet_g3": dict(params_m=2.4, gflops=0.142),
}

_ARCHS = {
    "se_mobilenet": (build_mobilenet, MobileNetArch()),
    "se_shufflenet_g3": (build_shufflenet, ShuffleNetArch(groups=3)),
}

CONSTRUCTORS = {
    "SEMobileNet": (
        "se_mobilenet", "se_mobilenet",
        "MobileNet v1 (width 1.0) with SE after every depthwise-separable block",
        "Howard et al., \"MobileNets\" (2017); Hu et al., \"Squeeze-and-Excitation "
        "Networks\" (2018)"),
    "SEShuffleNet": (
        "se_shufflenet_g3", "se_shufflenet",
        "ShuffleNet v1 (1x, g = 3) with SE on the residual branch of every unit",
        "Zhang et al., \"ShuffleNet\" (2018); Hu et al., \"Squeeze-and-Excitation "
        "Networks\" (2018)"),
}
_CONSTRUCTOR_OF = {arch: ctor for ctor, (arch, *_) in CONSTRUCTORS.items()}

for _se_name, (_builder, _config) in _ARCHS.items():
    _plain_name = _se_name.removeprefix("se_")
    for _name, _cfg in ((_se_name, _config), (_plain_name, dataclasses.replace(_config, se=False))):
        registry.register(registry.ModelSpec(
            name=_name, family="se_mobile", builder=_builder, config=_cfg,
            constructor=_CONSTRUCTOR_OF.get(_name), paper=_PAPER.get(_name, {})))

for _ctor, (_arch, _default_name, _what, _reference) in CONSTRUCTORS.items():
    globals()[_ctor] = make_constructor(
        _ctor, _arch, _default_name, module=__name__,
        doc=NO_WEIGHTS_DOC.format(title=_ctor, what=_what, reference=_reference,
                                  module="se_mobile", top="`avg_pool` -> `predictions`",
                                  min_size=32, size=224,
                                  features=_ARCHS[_arch][1].num_features))

__all__ = [*CONSTRUCTORS, "preprocess_input", "decode_predictions"]
