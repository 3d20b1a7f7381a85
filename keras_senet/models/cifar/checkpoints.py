"""The CIFAR-10 weights this project trained (weights/manifest.json), shipped inside the
package. `top1`: validation top-1 (%) on the last 500 images of each CIFAR-10 class."""

from keras_senet.checkpoints import packaged_source

CHECKPOINTS = {
    "resnet20_cifar": (
        packaged_source("resnet20_cifar", "cifar10", top1=84.86, sha256=(
            "7ed045225d6539f06ea3db993c8fad46014e29fc3111245dfdb428401bf6b8a4")),
    ),
    "se_resnet20_cifar": (
        packaged_source("se_resnet20_cifar", "cifar10", top1=85.20, sha256=(
            "5a6ead059344ffe2ca7f963063de0696651eef09a0faa52b7be99083e71758a5")),
    ),
}
