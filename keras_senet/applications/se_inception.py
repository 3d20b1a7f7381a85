"""SE-BN-Inception, SE-Inception-v3 and SE-Inception-ResNet-v2: SE in Inception networks.

Paper: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv:1709.01507), Fig. 2-3.
Reference: the Caffe BN-Inception; keras.applications `InceptionV3` / `InceptionResNetV2`.
No pretrained weights: `weights=None` or a file you trained.

Registry names: "se_bn_inception", "se_inception_v3", "se_inception_resnet_v2" and their
plain twins without SE, "bn_inception", "inception_v3", "inception_resnet_v2", which measure
the SE overhead (`keras_senet.create_model("bn_inception")`).
"""

import dataclasses

from keras_senet import registry
from keras_senet.applications._common import NO_WEIGHTS_DOC, make_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input
from keras_senet.models.inception import (
    BNInceptionArch,
    InceptionV3Arch,
    build_bn_inception,
    build_inception_v3,
)
from keras_senet.models.inception_resnet import InceptionResNetV2Arch, build_inception_resnet_v2

# The SENet paper's ImageNet figures (Table 2: single crop, top-1 error %, GFLOPs as
# multiply-adds; BN-Inception at 224, Inception-ResNet-v2 at 299).
_PAPER = {
    "bn_inception": dict(top1_err=25.38, gflops=2.03),
    "se_bn_inception": dict(top1_err=24.23, gflops=2.04),
    "inception_resnet_v2": dict(top1_err=20.37, gflops=11.75),
    "se_inception_resnet_v2": dict(top1_err=19.80, gflops=11.76),
}

# registry name -> (builder, config, default size, min size)
_ARCHS = {
    "se_bn_inception": (build_bn_inception, BNInceptionArch(), 224, 32),
    "se_inception_v3": (build_inception_v3, InceptionV3Arch(), 299, 75),
    "se_inception_resnet_v2": (build_inception_resnet_v2, InceptionResNetV2Arch(), 299, 75),
}

# Public constructor -> (architecture, default Keras model name, description, reference).
CONSTRUCTORS = {
    "SEBNInception": (
        "se_bn_inception", "se_bn_inception",
        "BN-Inception with SE after every Inception module (the SENet paper's SE-Inception)",
        "Ioffe & Szegedy, \"Batch Normalization\" (2015); Hu et al., \"Squeeze-and-Excitation "
        "Networks\" (2018)"),
    "SEInceptionV3": (
        "se_inception_v3", "se_inception_v3",
        "keras.applications' Inception-v3 with SE after every `mixed` module",
        "Szegedy et al., \"Rethinking the Inception Architecture\" (2016); Hu et al. (2018)"),
    "SEInceptionResNetV2": (
        "se_inception_resnet_v2", "se_inception_resnet_v2",
        "Inception-ResNet-v2 with SE on the residual branch of every module, before the "
        "scaled addition",
        "Szegedy et al., \"Inception-v4, Inception-ResNet\" (2017); Hu et al. (2018)"),
}
_CONSTRUCTOR_OF = {arch: ctor for ctor, (arch, *_) in CONSTRUCTORS.items()}

for _se_name, (_builder, _config, _size, _min_size) in _ARCHS.items():
    _plain_name = _se_name.removeprefix("se_")
    for _name, _cfg in ((_se_name, _config), (_plain_name, dataclasses.replace(_config, se=False))):
        registry.register(registry.ModelSpec(
            name=_name, family="se_inception", builder=_builder, config=_cfg,
            default_size=_size, min_size=_min_size, constructor=_CONSTRUCTOR_OF.get(_name),
            paper=_PAPER.get(_name, {})))

for _ctor, (_arch, _default_name, _what, _reference) in CONSTRUCTORS.items():
    _, _cfg, _size, _min_size = _ARCHS[_arch]
    globals()[_ctor] = make_constructor(
        _ctor, _arch, _default_name, module=__name__,
        doc=NO_WEIGHTS_DOC.format(title=_ctor, what=_what, reference=_reference,
                                  module="se_inception", top="`avg_pool` -> `predictions`",
                                  min_size=_min_size, size=_size,
                                  features=_cfg.num_features))

__all__ = [*CONSTRUCTORS, "preprocess_input", "decode_predictions"]
