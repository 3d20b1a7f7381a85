"""SKNet and the SK-ResNets: ResNe(X)t with the 3x3 convolution replaced by a Selective Kernel
convolution (two paths, 3x3 and dilated 3x3, fused by channel-wise attention).

Paper: Li et al., "Selective Kernel Networks", CVPR 2019 (arXiv:1903.06586).
Reference and weights: timm `models/sknet.py` (`skresnet18/34`, `skresnext50_32x4d`).

    from keras_senet.applications.sknet import SKNet50, preprocess_input
"""

from keras_senet.applications.contract import build_model, keras_applications_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input


@keras_applications_constructor("skresnext50_32x4d")
def SKNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
            pooling=None, classes=1000, classifier_activation="softmax", name="sknet50"):
    """SKNet-50 (Li et al., "Selective Kernel Networks", 2019, Table 1): ResNeXt-50 (32x4d)
    with an SK convolution (M = 2 paths, G = 32, r = 16, L = 32) in every bottleneck; registry
    name "skresnext50_32x4d". Weights: timm `skresnext50_32x4d.ra_in1k` (timm reports 80.16 %
    top-1). Inputs: RGB images through `keras_senet.applications.sknet.preprocess_input`.
    """
    return build_model("skresnext50_32x4d", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("skresnext101_32x4d")
def SKNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="sknet101"):
    """SKNet-101 (Li et al., "Selective Kernel Networks", 2019, Table 2): ResNeXt-101
    (32x4d) with SK convolutions; registry name "skresnext101_32x4d". No pretrained weights
    exist (timm has none): the default `weights="imagenet"` raises a ValueError; pass
    `weights=None` or a file you trained. Inputs: RGB images through
    `keras_senet.applications.sknet.preprocess_input`.
    """
    return build_model("skresnext101_32x4d", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("skresnet18")
def SKResNet18(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="skresnet18"):
    """SK-ResNet-18 (timm's SK variant of ResNet-18, after Li et al., "Selective Kernel
    Networks", 2019): the first 3x3 of every basic block is an SK convolution; registry name
    "skresnet18". Weights: timm `skresnet18.ra_in1k` (timm reports 73.04 % top-1). Inputs: RGB
    images through `keras_senet.applications.sknet.preprocess_input`.
    """
    return build_model("skresnet18", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("skresnet34")
def SKResNet34(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="skresnet34"):
    """SK-ResNet-34 (timm's SK variant of ResNet-34, after Li et al., "Selective Kernel
    Networks", 2019): basic blocks (3, 4, 6, 3) with an SK first convolution; registry name
    "skresnet34". Weights: timm `skresnet34.ra_in1k` (timm reports 76.91 % top-1). Inputs: RGB
    images through `keras_senet.applications.sknet.preprocess_input`.
    """
    return build_model("skresnet34", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


__all__ = ["SKNet50", "SKNet101", "SKResNet18", "SKResNet34", "preprocess_input",
           "decode_predictions"]
