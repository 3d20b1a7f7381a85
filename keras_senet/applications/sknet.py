"""SKNet and the SK-ResNets: ResNe(X)t with the 3x3 convolution replaced by Selective Kernel.

Paper: Li et al., "Selective Kernel Networks", CVPR 2019 (arXiv:1903.06586).
Reference and weights: timm `models/sknet.py` (`skresnet18/34`, `skresnext50_32x4d`).
"""

from keras_senet import registry
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input
from keras_senet.applications.se_resnet import _make_constructor
from keras_senet.models.resnet import ARCHS, build_resnet

_PAPER = {
    "skresnext50_32x4d": dict(top1_err=20.79, params_m=27.5, gflops=4.47),
    "skresnext101_32x4d": dict(top1_err=20.19, params_m=48.9, gflops=8.46),
}

CONSTRUCTORS = {
    "SKNet50": ("skresnext50_32x4d", "sknet50"),
    "SKNet101": ("skresnext101_32x4d", "sknet101"),
    "SKResNet18": ("skresnet18", "skresnet18"),
    "SKResNet34": ("skresnet34", "skresnet34"),
}
_CONSTRUCTOR_OF = {arch: ctor for ctor, (arch, _) in CONSTRUCTORS.items()}

for _arch, _config in ARCHS.items():
    if _config.block.startswith("sk_"):
        registry.register(registry.ModelSpec(
            name=_arch, family="sknet", builder=build_resnet, config=_config,
            constructor=_CONSTRUCTOR_OF.get(_arch), paper=_PAPER.get(_arch, {})))

for _ctor, (_arch, _default_name) in CONSTRUCTORS.items():
    globals()[_ctor] = _make_constructor(_ctor, _arch, _default_name, __name__)

__all__ = [*CONSTRUCTORS, "preprocess_input", "decode_predictions"]
