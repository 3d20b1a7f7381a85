"""The SENet paper's CIFAR networks: ResNet-20/32/56/110/164 and WRN-16-8, with and without SE.

Reached through `keras_senet.create_model("se_resnet20_cifar", weights="cifar10")` (their
contract differs from keras.applications: 32x32 inputs, 10 classes, CIFAR weights).
Inputs are RGB pixel values in [0, 255]; the model normalises them itself, so there is no
`preprocess_input` to call.

Paper figures (Hu et al. 2018, Table 4: CIFAR-10 top-1 error %, original / SE).
"""

from keras_senet import registry
from keras_senet.models.cifar import ARCHS, build_cifar

_PAPER_ERR = {  # name: (error without SE, with SE)
    "resnet110_cifar": (6.37, 5.21),
    "resnet164_cifar": (5.46, 4.39),
    "wrn16_8_cifar": (4.27, 3.88),
}

for _name, _config in ARCHS.items():
    _base = _name.removeprefix("se_")
    _paper = {}
    if _base in _PAPER_ERR:
        _paper = {"cifar10_err": _PAPER_ERR[_base][1 if _config.se else 0]}
    registry.register(registry.ModelSpec(
        name=_name, family="cifar", builder=build_cifar, config=_config, default_size=32,
        min_size=32, preprocessing="in_model", paper=_paper, num_classes=10))

__all__ = []
