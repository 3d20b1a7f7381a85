"""The SENet paper's CIFAR networks: ResNet-20/32/56/110/164 and WRN-16-8, with and without SE.

Reached through `keras_senet.create_model("se_resnet20_cifar", weights="cifar10")` (their
contract differs from keras.applications: 32x32 inputs, 10 classes, CIFAR weights). Inputs are
RGB pixel values in [0, 255]; the model normalises them itself ("in_model" preprocessing).

    architecture.py   `CifarArch`, the blocks and the trunk
    variants.py       the table and the paper's figures
    checkpoints.py    the weights this project trained
"""

from keras_senet import registry
from keras_senet.models.cifar.architecture import CIFAR10_MEAN, CIFAR10_STD, CifarArch, build_cifar
from keras_senet.models.cifar.checkpoints import CHECKPOINTS
from keras_senet.models.cifar.variants import ARCHS, PAPER

for _name, _arch in ARCHS.items():
    registry.register(registry.ModelSpec(
        name=_name, family="cifar", builder=build_cifar, config=_arch, default_size=32,
        min_size=32, preprocessing="in_model", paper=PAPER.get(_name, {}), num_classes=10,
        checkpoints=CHECKPOINTS.get(_name, ())))

__all__ = ["ARCHS", "CIFAR10_MEAN", "CIFAR10_STD", "CifarArch", "build_cifar"]
