"""Functional-graph queries shared by the placement tests."""

from keras import tree

from keras_senet.layers import SqueezeExcite


def producer(model, tensor):
    """The layer of `model` whose output is `tensor`."""
    for layer in model.layers:
        if any(t is tensor for t in tree.flatten(layer.output)):
            return layer
    raise LookupError(tensor)


def consumers(model, tensor):
    """Names of the layers of `model` that take `tensor` as (one of their) inputs."""
    return sorted(layer.name for layer in model.layers
                  if not layer.name.startswith("input")
                  and any(t is tensor for t in tree.flatten(layer.input)))


def se_layers(model):
    return [layer for layer in model.layers if isinstance(layer, SqueezeExcite)]
