"""SE-VGG-16: VGG-16 with BatchNorm and SE after every conv-BN-ReLU (the SENet paper, Table 2).

No pretrained weights: `weights=None` or a file you trained. The plain twin "vgg16_bn"
measures the SE overhead.
"""

from keras_senet.applications.contract import build_model, keras_applications_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input


@keras_applications_constructor("se_vgg16_bn")
def SEVGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
            pooling=None, classes=1000, classifier_activation="softmax", name="se_vgg16"):
    """SE-VGG-16 (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 2): VGG-16 with
    BatchNorm (Simonyan & Zisserman, 2015; torchvision's `vgg16_bn` layout,
    keras.applications' `VGG16` layer names) and SE after every conv-BN-ReLU; registry name
    "se_vgg16_bn". No pretrained weights: the default `weights="imagenet"` raises a
    ValueError; pass `weights=None` or a file you trained. Inputs: RGB images through
    `keras_senet.applications.se_vgg.preprocess_input`.
    """
    return build_model("se_vgg16_bn", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


__all__ = ["SEVGG16", "preprocess_input", "decode_predictions"]
