"""SE-BN-Inception, SE-Inception-v3 and SE-Inception-ResNet-v2: SE in Inception networks.

Paper: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv:1709.01507), Fig. 2-3.
No pretrained weights: `weights=None` or a file you trained. The plain twins ("bn_inception",
"inception_v3", "inception_resnet_v2") measure the SE overhead:
`keras_senet.create_model("bn_inception")`.
"""

from keras_senet.applications.contract import build_model, keras_applications_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input


@keras_applications_constructor("se_bn_inception")
def SEBNInception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                  pooling=None, classes=1000, classifier_activation="softmax",
                  name="se_bn_inception"):
    """SE-BN-Inception (Hu et al., "Squeeze-and-Excitation Networks", 2018, Fig. 2 and
    Table 2): BN-Inception (Ioffe & Szegedy, 2015) with SE after every whole Inception module;
    registry name "se_bn_inception". No pretrained weights: the default
    `weights="imagenet"` raises a ValueError; pass `weights=None` or a file you trained.
    Inputs: RGB images through `keras_senet.applications.se_inception.preprocess_input`.
    """
    return build_model("se_bn_inception", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("se_inception_v3")
def SEInceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                  pooling=None, classes=1000, classifier_activation="softmax",
                  name="se_inception_v3"):
    """SE-Inception-v3: keras.applications' Inception-v3 (Szegedy et al., 2016) with SE after
    every `mixed` module (Hu et al., "Squeeze-and-Excitation Networks", 2018, Fig. 2);
    registry name "se_inception_v3". No pretrained weights: the default `weights="imagenet"`
    raises a ValueError; pass `weights=None` or a file you trained. Inputs: RGB images
    through `keras_senet.applications.se_inception.preprocess_input`.
    """
    return build_model("se_inception_v3", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


@keras_applications_constructor("se_inception_resnet_v2")
def SEInceptionResNetV2(include_top=True, weights="imagenet", input_tensor=None,
                        input_shape=None, pooling=None, classes=1000,
                        classifier_activation="softmax", name="se_inception_resnet_v2"):
    """SE-Inception-ResNet-v2 (Hu et al., "Squeeze-and-Excitation Networks", 2018, Fig. 3 and
    Table 2): Inception-ResNet-v2 (Szegedy et al., 2017) with SE on the residual branch of
    every module, before the scaled addition; registry name "se_inception_resnet_v2". No
    pretrained weights: the default `weights="imagenet"` raises a ValueError; pass
    `weights=None` or a file you trained. Inputs: RGB images through
    `keras_senet.applications.se_inception.preprocess_input`.
    """
    return build_model("se_inception_resnet_v2", include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation, name=name)


__all__ = ["SEBNInception", "SEInceptionV3", "SEInceptionResNetV2", "preprocess_input",
           "decode_predictions"]
