"""The CIFAR table: ResNet-20/32/56/110/164 and WRN-16-8, each with an SE twin, and the
SENet paper's CIFAR-10 figures (Table 4: top-1 error %)."""

from keras_senet.layers import PAPER_SE
from keras_senet.models.cifar.architecture import CifarArch


def _pair(name, block, depth, widths=(16, 32, 64)):
    """The plain network `name` and its SE twin `se_<name>`."""
    return {name: CifarArch(block, depth, widths),
            f"se_{name}": CifarArch(block, depth, widths, se=PAPER_SE)}


ARCHS = {
    **_pair("resnet20_cifar", "basic", 3),
    **_pair("resnet32_cifar", "basic", 5),
    **_pair("resnet56_cifar", "basic", 9),
    **_pair("resnet110_cifar", "basic", 18),
    **_pair("resnet164_cifar", "preact_bottleneck", 18),
    **_pair("wrn16_8_cifar", "preact_basic", 2, widths=(128, 256, 512)),
}

PAPER = {
    "resnet110_cifar": dict(cifar10_err=6.37),
    "se_resnet110_cifar": dict(cifar10_err=5.21),
    "resnet164_cifar": dict(cifar10_err=5.46),
    "se_resnet164_cifar": dict(cifar10_err=4.39),
    "wrn16_8_cifar": dict(cifar10_err=4.27),
    "se_wrn16_8_cifar": dict(cifar10_err=3.88),
}
