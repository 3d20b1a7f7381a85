"""SE-MobileNet and SE-ShuffleNet: SE in the SENet paper's mobile networks (Table 16).

No pretrained weights: `weights=None` or a file you trained. The plain twins ("mobilenet",
"shufflenet_g3") measure the SE overhead: `keras_senet.create_model("mobilenet")`.
"""

from keras_senet.applications.contract import build_model, keras_applications_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input


@keras_applications_constructor("se_mobilenet")
def SEMobileNet(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="se_mobilenet"):
    """SE-MobileNet (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 16): MobileNet
    v1, width 1.0 (Howard et al., 2017), with SE after every depthwise-separable block;
    registry name "se_mobilenet". No pretrained weights: the default `weights="imagenet"`
    raises a ValueError; pass `weights=None` or a file you trained. Inputs: RGB images through
    `keras_senet.applications.se_mobile.preprocess_input`.
    """
    return build_model("se_mobilenet", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("se_shufflenet_g3")
def SEShuffleNet(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                 pooling=None, classes=1000, classifier_activation="softmax",
                 name="se_shufflenet"):
    """SE-ShuffleNet (Hu et al., "Squeeze-and-Excitation Networks", 2018, Table 16):
    ShuffleNet v1, 1x, g = 3 (Zhang et al., 2018), with SE on the residual branch of every
    unit; registry name "se_shufflenet_g3". No pretrained weights: the default
    `weights="imagenet"` raises a ValueError; pass `weights=None` or a file you trained.
    Inputs: RGB images through `keras_senet.applications.se_mobile.preprocess_input`.
    """
    return build_model("se_shufflenet_g3", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


__all__ = ["SEMobileNet", "SEShuffleNet", "preprocess_input", "decode_predictions"]
