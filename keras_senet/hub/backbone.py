"""`SENetBackbone`: a registered keras_senet architecture as a keras-hub
`FeaturePyramidBackbone`.

The backbone is the network `keras_senet.create_model(name, include_top=False)` builds, the
same registry builder with the same layer names and variables, so weights move between the
two by name. Its config is the registry name and the input shape:

    backbone = SEResNetBackbone("seresnext50_32x4d")          # random weights
    backbone.pyramid_outputs                                   # {"P2": .., "P5": ..}

Each family has its registered subclass (keras_senet/hub/<family>.py); the family decides
the pyramid levels (the CIFAR networks' stages are P0, P1, P2: strides 1, 2, 4).
"""

import os

import keras
from keras_hub.models import FeaturePyramidBackbone

from keras_senet import registry
from keras_senet.weights.resolve import check_weights_h5

CONFIG_KEYS = {"model_name", "image_shape", "name", "trainable", "dtype"}


class SENetBackbone(FeaturePyramidBackbone):
    """Base class of the families' keras-hub backbones.

    Args:
        model_name: a registry name of the subclass's family (`keras_senet.list_models()`);
            a ".tag" suffix is ignored: the backbone holds no weights of its own choosing.
        image_shape: (H, W, 3); None for a free height / width (the VGG classifier needs
            them fixed).
        dtype: keras-hub's dtype policy argument.
        **kwargs: `keras.Model`'s (name, trainable).

    Output: the last stage's feature map (B, h, w, C); `pyramid_outputs` maps the levels of
    `pyramid_levels` to the stage maps, shallowest first.
    """

    family = None  # the registry family ("se_resnet", ...) a subclass builds
    pyramid_levels = ("P2", "P3", "P4", "P5")  # stage maps at strides 4, 8, 16, 32

    def __init__(self, model_name, image_shape=(None, None, 3), dtype=None, **kwargs):
        spec = registry.get_spec(model_name)  # unknown names: ValueError with suggestions
        if self.family is None:
            raise ValueError("SENetBackbone is the base class; build the backbone of the "
                             f"model's family: keras_senet.hub.backbone_class({model_name!r}).")
        if spec.family != self.family:
            raise ValueError(
                f"{model_name!r} is a {spec.family!r} network; {type(self).__name__} builds "
                f"the {self.family!r} family. Use keras_senet.hub.backbone_class("
                f"{model_name!r}).")
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or image_shape[-1] != 3:
            raise ValueError("`image_shape` must be (height, width, 3), height and width "
                             f"None for any size; received image_shape={image_shape!r}.")
        inputs = keras.Input(shape=image_shape)
        features = spec.builder(inputs, spec.config)
        if len(features) != len(self.pyramid_levels):
            raise ValueError(f"{spec.name} has {len(features)} stages; "
                             f"{type(self).__name__} names {len(self.pyramid_levels)}.")
        super().__init__(inputs=inputs, outputs=features[-1], dtype=dtype, **kwargs)
        self.model_name = spec.name
        self.image_shape = image_shape
        self.data_format = "channels_last"
        self.pyramid_outputs = dict(zip(self.pyramid_levels, features))

    @property
    def spec(self):
        """The registry row (`keras_senet.registry.ModelSpec`) this backbone builds."""
        return registry.get_spec(self.model_name)

    def get_config(self):
        config = super().get_config()
        config.update({"model_name": self.model_name, "image_shape": self.image_shape})
        return config

    @classmethod
    def from_config(cls, config):
        unknown = sorted(set(config) - CONFIG_KEYS)
        if "model_name" not in config or unknown:
            raise ValueError(
                f"Not a {cls.__name__} config: it needs 'model_name' (a keras_senet registry "
                f"name) and takes only {sorted(CONFIG_KEYS)}; received keys "
                f"{sorted(config)}. Write presets with `keras-senet preset`.")
        return super().from_config(config)

    def load_weights(self, filepath, *args, **kwargs):
        """Keras' `load_weights`, after checking that a `.weights.h5` file holds exactly this
        architecture's variables: Keras would load a partial match with only a warning."""
        path = os.fspath(filepath)
        if path.endswith(".weights.h5"):
            check_weights_h5(self, path)
        return super().load_weights(filepath, *args, **kwargs)
