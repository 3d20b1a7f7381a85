"""SE-ResNet, SE-ResNeXt and SENet-154: the SENet paper's ImageNet networks, as the official
Caffe models were trained (timm's `legacy_*` rows, with their ImageNet weights).

Paper: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv:1709.01507).
timm's own SE-ResNe(X)ts (stride on the 3x3, `make_divisible` SE widths: "seresnet50",
"seresnext50_32x4d", ...) are reached by name: `keras_senet.create_model("seresnet50.a1_in1k")`.

    from keras_senet.applications.se_resnet import SEResNet50, preprocess_input
"""

from keras_senet.applications.contract import build_model, keras_applications_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input


@keras_applications_constructor("legacy_seresnet18")
def SEResNet18(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="seresnet18"):
    """SE-ResNet-18 (Hu et al., "Squeeze-and-Excitation Networks", 2018): basic blocks
    (2, 2, 2, 2) with SE (r = 16, `C // 16`) on every residual branch; registry name
    "legacy_seresnet18". Weights: timm `legacy_seresnet18.in1k` (timm reports 71.77 % top-1).
    Inputs: RGB images through `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnet18", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_seresnet34")
def SEResNet34(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="seresnet34"):
    """SE-ResNet-34 (Hu et al., "Squeeze-and-Excitation Networks", 2018): basic blocks
    (3, 4, 6, 3) with SE (r = 16, `C // 16`); registry name "legacy_seresnet34". Weights:
    timm `legacy_seresnet34.in1k` (timm reports 74.81 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnet34", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_seresnet50")
def SEResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="seresnet50"):
    """SE-ResNet-50 (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 2): bottleneck
    blocks (3, 4, 6, 3), stride on the first 1x1, SE (r = 16, `C // 16`); registry name
    "legacy_seresnet50". Weights: the official Caffe model, timm `legacy_seresnet50.in1k`
    (timm reports 77.64 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnet50", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_seresnet101")
def SEResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="seresnet101"):
    """SE-ResNet-101 (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 2):
    bottleneck blocks (3, 4, 23, 3), stride on the first 1x1, SE (r = 16, `C // 16`);
    registry name "legacy_seresnet101". Weights: the official Caffe model, timm
    `legacy_seresnet101.in1k` (timm reports 78.39 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnet101", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_seresnet152")
def SEResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="seresnet152"):
    """SE-ResNet-152 (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 2):
    bottleneck blocks (3, 8, 36, 3), stride on the first 1x1, SE (r = 16, `C // 16`);
    registry name "legacy_seresnet152". Weights: the official Caffe model, timm
    `legacy_seresnet152.in1k` (timm reports 78.66 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnet152", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_seresnext26_32x4d")
def SEResNeXt26(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="seresnext26"):
    """SE-ResNeXt-26 (32x4d) (Hu et al., "Squeeze-and-Excitation Networks", 2018): grouped
    bottlenecks (2, 2, 2, 2), 32 groups of width 4, SE (r = 16, `C // 16`); registry name
    "legacy_seresnext26_32x4d". Weights: timm `legacy_seresnext26_32x4d.in1k` (timm reports
    77.11 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnext26_32x4d", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_seresnext50_32x4d")
def SEResNeXt50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="seresnext50"):
    """SE-ResNeXt-50 (32x4d) (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 2):
    grouped bottlenecks (3, 4, 6, 3), 32 groups of width 4, SE (r = 16, `C // 16`); registry
    name "legacy_seresnext50_32x4d". Weights: the official Caffe model, timm
    `legacy_seresnext50_32x4d.in1k` (timm reports 79.08 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnext50_32x4d", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_seresnext101_32x4d")
def SEResNeXt101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                 pooling=None, classes=1000, classifier_activation="softmax",
                 name="seresnext101"):
    """SE-ResNeXt-101 (32x4d) (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 2):
    grouped bottlenecks (3, 4, 23, 3), 32 groups of width 4, SE (r = 16, `C // 16`);
    registry name "legacy_seresnext101_32x4d". Weights: the official Caffe model, timm
    `legacy_seresnext101_32x4d.in1k` (timm reports 80.23 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_seresnext101_32x4d", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("legacy_senet154")
def SENet154(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="senet154"):
    """SENet-154 (Hu et al., "Squeeze-and-Excitation Networks", 2018, the ILSVRC 2017
    winner): SE-ResNeXt-152 (64x4d) with a deep 3x3 stem, halved first 1x1 and 3x3
    projection shortcuts; registry name "legacy_senet154". Weights: the official Caffe model,
    timm `legacy_senet154.in1k` (timm reports 81.31 % top-1). Inputs: RGB images through
    `keras_senet.applications.se_resnet.preprocess_input`.
    """
    return build_model("legacy_senet154", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


__all__ = ["SEResNet18", "SEResNet34", "SEResNet50", "SEResNet101", "SEResNet152",
           "SEResNeXt26", "SEResNeXt50", "SEResNeXt101", "SENet154", "preprocess_input",
           "decode_predictions"]
