"""keras-hub classes of the VGG family (keras_senet/models/vgg/): SE-VGG-16-BN and its plain
twin ("se_vgg").

VGG's classifier is its own: flatten -> fc1 -> fc2 -> predictions, the layers (and names)
of `keras_senet.create_model("se_vgg16_bn")`, so its weights carry over; it needs a backbone
built for a fixed image size."""

import keras
from keras.saving import register_keras_serializable
from keras_hub.models import ImageClassifier, ImageClassifierPreprocessor, Task

from keras_senet.hub.backbone import SENetBackbone
from keras_senet.hub.image_converter import SENetImageConverter

register = register_keras_serializable(package="keras_senet")


@register
class SEVGGBackbone(SENetBackbone):
    """SE-VGG-16-BN backbone: `SEVGGBackbone("se_vgg16_bn", image_shape=(224, 224, 3))`."""

    family = "se_vgg"


@register
class SEVGGImageConverter(SENetImageConverter):
    backbone_cls = SEVGGBackbone


@register
class SEVGGImageClassifierPreprocessor(ImageClassifierPreprocessor):
    backbone_cls = SEVGGBackbone
    image_converter_cls = SEVGGImageConverter


@register
class SEVGGImageClassifier(ImageClassifier):
    """VGG's fully connected classifier on an `SEVGGBackbone`.

    Args:
        backbone: an `SEVGGBackbone` with a fixed `image_shape`.
        num_classes: width of `predictions`.
        preprocessor: an `SEVGGImageClassifierPreprocessor`, or None.
        activation: of `predictions` (None: logits).
        dropout: after fc1 and fc2; None takes the architecture's (0.5).
        head_dtype: dtype policy of the head (default: the backbone's).

    (B, H, W, 3) -> (B, num_classes).
    """

    backbone_cls = SEVGGBackbone
    preprocessor_cls = SEVGGImageClassifierPreprocessor
    fixed_image_size = True  # its backbone is built for one size (fc1 takes h * w * 512)

    def __init__(self, backbone, num_classes, preprocessor=None, activation=None,
                 dropout=None, head_dtype=None, **kwargs):
        if None in tuple(backbone.output.shape)[1:]:
            raise ValueError(
                "SEVGGImageClassifier flattens the feature map into fc1: build its backbone "
                "for a fixed size, e.g. SEVGGBackbone('se_vgg16_bn', image_shape=(224, 224, "
                f"3)); received a backbone with output shape {tuple(backbone.output.shape)}.")
        arch = backbone.spec.config
        dropout = arch.dropout if dropout is None else dropout
        head_dtype = head_dtype or backbone.dtype_policy
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        # === Functional Model ===
        inputs = backbone.input
        x = keras.layers.Flatten(dtype=head_dtype, name="flatten")(backbone(inputs))
        for fc in ("fc1", "fc2"):
            x = keras.layers.Dense(arch.fc_width, activation="relu", dtype=head_dtype,
                                   name=fc)(x)
            x = keras.layers.Dropout(dropout, dtype=head_dtype, name=f"{fc}_dropout")(x)
        outputs = keras.layers.Dense(num_classes, activation=activation, dtype=head_dtype,
                                     name="predictions")(x)
        Task.__init__(self, inputs=inputs, outputs=outputs, **kwargs)  # not the pooled head
        # === Config ===
        self.num_classes = num_classes
        self.activation = activation
        self.dropout = dropout

    def get_config(self):
        config = Task.get_config(self)
        config.update({"num_classes": self.num_classes, "activation": self.activation,
                       "dropout": self.dropout})
        return config
