"""keras_senet: Squeeze-and-Excitation and Selective Kernel networks for Keras 3.

    import keras_senet
    keras_senet.list_models()
    model = keras_senet.create_model("seresnext50_32x4d", weights="imagenet")
"""

__version__ = "0.1.0"

import importlib.util  # noqa: E402

import keras  # noqa: E402

# The custom layers (SqueezeExcite, SelectiveKernel, GroupedConv2D, ChannelShuffle) register
# with Keras on import, so `keras.models.load_model` reads saved keras_senet models after
# `import keras_senet` alone; importing the families fills the registry.
import keras_senet.layers  # noqa: E402,F401
import keras_senet.models  # noqa: E402,F401
from keras_senet.applications.contract import build_model  # noqa: E402
from keras_senet.registry import get_spec, list_models  # noqa: E402

# With the `hub` extra on TensorFlow, the keras-hub classes register with Keras here, so
# `keras_hub.models.ImageClassifier.from_preset(DIR)` reads keras_senet presets.
if importlib.util.find_spec("keras_hub") and keras.backend.backend() == "tensorflow":
    import keras_senet.hub  # noqa: E402,F401


def create_model(model_name, weights=None, *, include_top=True, input_tensor=None,
                 input_shape=None, pooling=None, classes=None, classifier_activation="softmax",
                 features_only=False, name=None):
    """Builds any registered architecture by name.

    Args:
        model_name: a registry name (`keras_senet.list_models()`), optionally with a
            pretrained tag: "seresnext50_32x4d.gluon_in1k".
        weights: None (default: random), "imagenet" (the tag in the name, else the
            architecture's default checkpoint), a tag, or a file path (.weights.h5, .keras,
            .safetensors, .pth).
        features_only: return a model whose outputs are the stage feature maps instead of
            a classifier, shallowest first: four for the ImageNet networks (strides 4, 8,
            16, 32; the Inception networks' unpadded convolutions give sizes a little
            under those), three for the CIFAR networks (strides 1, 2, 4: conv2, conv3,
            conv4).
        include_top, input_tensor, input_shape, pooling, classes, classifier_activation:
            as in `keras.applications`; `classes=None` takes the checkpoint's classes
            (or the family's: 1000, 10 for the CIFAR networks).
        name: the Keras model's name (default: the registry name).

    Returns:
        A functional `keras.Model`, with `model.pretrained_cfg` (the `WeightSource`, whose
        `.transform` is the evaluation transform) when pretrained weights were loaded.
    """
    return build_model(model_name, include_top=include_top, weights=weights,
                       input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                       classes=classes, classifier_activation=classifier_activation,
                       name=name, features_only=features_only)


__all__ = ["create_model", "list_models", "get_spec", "__version__"]
