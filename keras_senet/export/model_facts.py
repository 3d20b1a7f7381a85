"""What the exporters read off a model: its size, classifier, input size, transform, labels."""

import numpy as np

from keras_senet.checkpoints import IN_MODEL_TRANSFORM, EvalTransform

INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "area", "lanczos3")


def weights_bytes(model):
    """Bytes of the model's variables: what any export must store at least once."""
    return int(sum(np.dtype(v.dtype).itemsize * int(np.prod(v.shape)) for v in model.weights))


def classifier(model):
    """(num_classes, outputs_are_probabilities) of a classification model, else ValueError."""
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise ValueError(
            f"Serving signatures need a classifier with one (batch, classes) output; "
            f"{model.name!r} outputs {[tuple(o.shape) for o in model.outputs]}. Build it with "
            "include_top=True.")
    activation = getattr(model.layers[-1], "activation", None)
    activation = getattr(activation, "__name__", None)
    if activation not in ("softmax", "linear"):
        raise ValueError(
            f"The classifier of {model.name!r} ends in activation {activation!r}; serving "
            "signatures report probabilities, so export a model built with "
            "classifier_activation='softmax' or None (logits).")
    return int(model.outputs[0].shape[-1]), activation == "softmax"


def input_transform(model):
    """The evaluation transform that makes the model's input from 0..255 pixels:
    `pretrained_cfg.transform`, else the identity for an architecture that normalises its
    pixels itself (registry preprocessing "in_model", the CIFAR networks), else ImageNet's."""
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is not None:
        return cfg.transform
    from keras_senet import registry

    try:
        spec = registry.get_spec(model.name)
    except ValueError:
        spec = None
    if spec is not None and spec.preprocessing == "in_model":
        return IN_MODEL_TRANSFORM
    return EvalTransform()


def serving_transform(model, transform):
    """`transform` (checked) if given, else `input_transform(model)`; the interpolation must
    be one `tf.image.resize` knows."""
    if transform is not None:
        if not isinstance(transform, EvalTransform):
            raise ValueError(f"`transform` must be a keras_senet EvalTransform; got {transform!r}.")
        result = transform
    else:
        result = input_transform(model)
    if result.interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"Unsupported interpolation {result.interpolation!r}; expected one of "
            f"{INTERPOLATIONS}.")
    return result


def input_hw(model, image_size, transform):
    """The fixed (H, W) the signatures take: the model's, else `image_size`, else the
    transform's input size."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4 or model.inputs[0].shape[-1] != 3:
        raise ValueError(
            f"Expected a model with one (batch, H, W, 3) input; {model.name!r} has "
            f"{[tuple(i.shape) for i in model.inputs]}.")
    h, w = model.inputs[0].shape[1:3]
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(f"`image_size` must be an int or (height, width); got {image_size!r}.")
        if (h is not None and h != size[0]) or (w is not None and w != size[1]):
            raise ValueError(
                f"image_size={image_size!r} does not match the model's fixed input size "
                f"{(h, w)}; rebuild the model with input_shape=({size[0]}, {size[1]}, 3).")
        return size
    if h is not None and w is not None:
        return int(h), int(w)
    size = transform.input_size
    return (h or size, w or size)


def class_labels(num_classes, labels):
    """One label per class, checked: `labels`, else the ImageNet class names for 1000
    classes, else "0", "1", ..."""
    if labels is None:
        if num_classes == 1000:
            from keras_senet.applications.imagenet_utils import class_names

            return class_names()
        return [str(i) for i in range(num_classes)]
    labels = [str(label) for label in labels]
    if len(labels) != num_classes:
        raise ValueError(f"Got {len(labels)} labels for a model with {num_classes} classes.")
    bad = [label for label in labels if "\n" in label or "\r" in label or not label]
    if bad:
        raise ValueError(f"Labels must be non-empty single lines; got {bad[:3]!r}.")
    return labels
