"""The keras.applications contract, in one place for every family.

Argument checks raise the same `ValueError`s, with the same messages, as
`keras.applications` (plus the checks it forgets: `pooling`, the data format), and all of
them run before any layer is built or any file is downloaded.
"""

import difflib
import numbers

from keras import Model, activations, backend, layers
from keras.utils import get_source_inputs

from keras_senet import registry
from keras_senet.models.head import classifier_head
from keras_senet.registry import find_source, sources_for
from keras_senet.weights import resolve

POOLINGS = (None, "avg", "max")


def check_input_shape(input_shape):
    """`input_shape` is None or (H, W, C): three integers >= 1, H and W may be None.

    keras.applications lets a string, an int or a zero-channel shape through to a raw
    `TypeError` or to a model that cannot run; these are ValueErrors naming the value.
    """
    if input_shape is None:
        return
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError("`input_shape` must be a tuple of three integers (height, width, "
                         f"channels), such as (224, 224, 3). Received: input_shape={input_shape!r}")
    height, width, channels = input_shape
    for axis, size, may_be_none in (("height", height, True), ("width", width, True),
                                    ("channels", channels, False)):
        if size is None and may_be_none:
            continue
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            free = " (or None for any size)" if may_be_none else ""
            raise ValueError(f"The {axis} in `input_shape` must be a positive integer{free}. "
                             f"Received: input_shape={input_shape!r}")


def check_name_tag(spec, tag):
    """A pretrained tag in the model name ("seresnet50.a1_in1k") must be one of the
    architecture's checkpoints, whatever `weights` says."""
    if tag is None or find_source(spec.name, tag) is not None:
        return
    tags = [source.tag for source in sources_for(spec.name)]
    if not tags:
        raise ValueError(f"Unknown pretrained tag {tag!r}: {spec.name} has no pretrained "
                         f"checkpoint. Use the name {spec.name!r} without a tag.")
    close = difflib.get_close_matches(tag, tags, n=3)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown pretrained tag {tag!r} in {spec.name}.{tag}.{hint} "
                     f"The tags of {spec.name} are {tags}.")


def obtain_input_shape(input_shape, default_size, min_size, require_flatten, pretrained):
    """Validates `input_shape` (channels_last) the way keras.applications does.

    Returns:
        The input shape to build with, (H, W, C) with `None` for free spatial sizes.
    """
    check_input_shape(input_shape)
    if not pretrained and input_shape and len(input_shape) == 3:
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if pretrained and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(
                "When setting `include_top=True` and loading `imagenet` weights, "
                f"`input_shape` should be {default_shape}.  Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if input_shape[-1] != 3 and pretrained:
            raise ValueError(
                f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(size is not None and size < min_size for size in input_shape[:2]):
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; Received: "
                f"input_shape={input_shape}")
    else:
        input_shape = default_shape if require_flatten else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static `input_shape`. "
            f"Received: input_shape={input_shape}")
    return tuple(input_shape)


def validate_activation(classifier_activation, weights):
    """Pretrained heads only take `None` or `"softmax"`, as in keras.applications."""
    if weights is None:
        return
    activation = activations.get(classifier_activation)
    if activation not in {activations.get("softmax"), activations.get(None)}:
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the "
            "`classifier_activation` argument when using pretrained weights, with "
            f"`include_top=True`; Received: classifier_activation={classifier_activation}")


def _input_layer(input_tensor, input_shape):
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not backend.is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def build_model(arch_name, include_top=True, weights="imagenet", input_tensor=None,
                input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, features_only=False):
    """Builds (and, if asked, loads) a registered architecture behind the contract.

    Args:
        arch_name: registry name, optionally with a weight tag ("seresnet50.a1_in1k").
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as in `keras.applications.ResNet50`. `weights` also
            takes a pretrained tag of the architecture (see `keras-senet list`).
        features_only: return the stage feature maps instead of a classifier: strides
            4, 8, 16, 32 for the ImageNet networks, 1, 2, 4 for the CIFAR networks.

    Returns:
        A functional `keras.Model`. Pretrained models carry `model.pretrained_cfg`, the
        checkpoint's evaluation transform (`EvalTransform`).
    """
    spec = registry.get_spec(arch_name)
    _, name_tag = registry.split_name(arch_name)
    check_name_tag(spec, name_tag)
    if backend.image_data_format() != "channels_last":
        raise ValueError(
            "keras_senet models are channels_last only; received image_data_format="
            f"{backend.image_data_format()!r}. Call "
            "`keras.config.set_image_data_format('channels_last')`.")
    if pooling not in POOLINGS:
        raise ValueError(
            f"`pooling` must be one of None, 'avg' or 'max'. Received: pooling={pooling!r}")
    if features_only:
        include_top = False
    request = resolve.parse_weights(spec, weights, name_tag)
    if classes is None:
        classes = request.num_classes if request.pretrained else spec.num_classes
    if request.pretrained and include_top and classes != request.num_classes:
        raise ValueError(
            f"If using `weights={weights!r}` with `include_top=True`, `classes` should be "
            f"{request.num_classes}.  Received classes={classes}")
    default_size = request.input_size or spec.default_size
    input_shape = obtain_input_shape(input_shape, default_size, spec.min_size,
                                     require_flatten=include_top,
                                     pretrained=request.pretrained)
    if include_top:
        validate_activation(classifier_activation, weights)

    inputs = _input_layer(input_tensor, input_shape)
    features = spec.builder(inputs, spec.config)
    if features_only:
        outputs = features
    else:
        if spec.head is not None:
            outputs = spec.head(features[-1], spec.config, include_top, pooling, classes,
                                classifier_activation)
        else:
            outputs = classifier_head(features[-1], include_top, pooling, classes,
                                      classifier_activation, spec.drop_rate)
    model_inputs = inputs
    if input_tensor is not None:
        model_inputs = get_source_inputs(input_tensor)
        if len(model_inputs) == 1:  # a one-element list makes `model(x)` warn (it expects [x])
            model_inputs = model_inputs[0]
    model = Model(model_inputs, outputs, name=name or spec.name)
    return resolve.load(model, spec, request, include_top=include_top)


ARGUMENTS_DOC = """
    Args:
        include_top: whether to include the classifier ({top}).
        weights: `None` (random initialisation); the path of a weights file
            ({files});
            {pretrained}.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (H, W, 3) shape; with `include_top=False` any size >= {min_size}
            (`None` for variable sizes). Defaults to ({size}, {size}, 3).
        pooling: `None` (4D feature map), `"avg"` or `"max"` when `include_top=False`.
        classes: number of classes; with pretrained weights and the top, the checkpoint's.
        classifier_activation: activation of the `predictions` layer (`None` for logits).
        name: the model's name (it never changes which weights load).

    Returns:
        A functional `keras.Model`: (B, H, W, 3) -> (B, classes); without the top the last
        feature map (B, h, w, {features}), or (B, {features}) with pooling.
"""


def keras_applications_constructor(arch_name):
    """Decorator of a public constructor building the registry row `arch_name`: appends the
    arguments every constructor shares (keras.applications' signature) to its docstring,
    with the row's sizes, its head and which `weights` it accepts."""
    spec = registry.get_spec(arch_name)

    def decorate(constructor):
        tags = [source.tag for source in spec.checkpoints]
        pretrained = (f'`"imagenet"` (the default checkpoint, "{tags[0]}") or a tag of {tags}'
                      if tags else 'or `"imagenet"` (the default), which raises a ValueError: '
                      "no\n            pretrained weights exist")
        top = ("`flatten` -> `fc1` -> `fc2` -> `predictions`" if spec.head is not None
               else "`avg_pool` -> `predictions`")
        files = ("`.weights.h5`, `.keras`, `.safetensors`, timm `.pth`" if spec.reference_names
                 else "`.weights.h5`, `.keras`, `.safetensors`")
        constructor.__doc__ = constructor.__doc__.rstrip() + "\n" + ARGUMENTS_DOC.format(
            top=top, files=files, pretrained=pretrained, min_size=spec.min_size,
            size=spec.default_size, features=spec.config.num_features)
        return constructor

    return decorate
