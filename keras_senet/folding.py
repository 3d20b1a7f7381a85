"""BatchNorm folded into the convolution before it, for inference graphs.

At inference a BatchNorm after a convolution is an affine map per output channel,
`y = gamma (z - mu) / sqrt(sigma^2 + eps) + beta`, so it can be merged into the convolution:

    s = gamma / sqrt(sigma^2 + eps)           (C_out,)
    W' = W * s   (over the output channel)     b' = (b - mu) * s + beta

    folded = fold_batch_norm(model)            # same outputs (float rounding), fewer ops

The folded model is for inference and export only: it has no BatchNorm to train.
"""

import keras
import numpy as np
from keras import layers

FOLDABLE_CONVS = (layers.Conv2D, layers.DepthwiseConv2D)


def _single_use(layer):
    return len(layer._inbound_nodes) == 1 and len(layer._outbound_nodes) == 1


def _producer(tensor):
    return tensor._keras_history.operation


def foldable_pairs(model):
    """{BatchNormalization name: convolution} for every conv -> BN pair that can be merged.

    A pair qualifies when the convolution (channels-last, no activation) is called once and
    feeds only that BatchNorm, which normalises the channel axis and is called once.
    """
    pairs = {}
    for bn in model.layers:
        if not isinstance(bn, layers.BatchNormalization) or not _single_use(bn):
            continue
        inputs = bn._inbound_nodes[0].input_tensors
        if len(inputs) != 1:
            continue
        conv = _producer(inputs[0])
        if (isinstance(conv, FOLDABLE_CONVS) and _single_use(conv)
                and conv.data_format == "channels_last"
                and bn.axis in (-1, len(inputs[0].shape) - 1)
                and conv.activation in (None, keras.activations.linear)):
            pairs[bn.name] = conv
    return pairs


def _folded_weights(conv, bn):
    """(kernel, bias) of `conv` followed by `bn` in inference mode, in float64 then cast."""
    mean = np.asarray(bn.moving_mean, np.float64)
    scale = 1.0 / np.sqrt(np.asarray(bn.moving_variance, np.float64) + bn.epsilon)
    if bn.scale:
        scale = scale * np.asarray(bn.gamma, np.float64)
    shift = np.asarray(bn.beta, np.float64) if bn.center else 0.0
    kernel = np.asarray(conv.kernel, np.float64)
    if isinstance(conv, layers.DepthwiseConv2D):  # (k, k, C_in, M): output channel c * M + m
        kernel = kernel * scale.reshape(kernel.shape[2:])
    else:  # (k, k, C_in / G, C_out)
        kernel = kernel * scale
    bias = np.asarray(conv.bias, np.float64) if conv.use_bias else 0.0
    bias = (bias - mean) * scale + shift
    dtype = conv.kernel.dtype
    return kernel.astype(dtype), bias.astype(dtype)


def _conv_with_bias(conv):
    config = conv.get_config()
    config["use_bias"] = True
    return conv.__class__.from_config(config)


def fold_batch_norm(model):
    """A copy of a functional `model` with every foldable BatchNorm merged into its conv.

    Args:
        model: a built functional Keras model (every keras_senet model is one).

    Returns:
        `(folded_model, count)`: the new model, which shares all other layers (and their
        variables) with `model`, and the number of BatchNorm layers folded away. The merged
        convolutions keep their names and gain a bias; `pretrained_cfg` is carried over.

    Raises:
        ValueError: `model` is not a functional model.
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise ValueError(
            f"fold_batch_norm needs a functional Keras model; got {type(model).__name__}. "
            "Build the model with keras_senet.create_model or the functional API.")
    pairs = foldable_pairs(model)
    convs = {conv.name: bn for bn, conv in ((model.get_layer(b), c) for b, c in pairs.items())}
    new_convs = {}

    def call(layer, *args, **kwargs):
        if layer.name in pairs:
            return args[0]
        if layer.name in convs:
            new_convs[layer.name] = new = _conv_with_bias(layer)
            return new(*args, **kwargs)
        return layer(*args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=lambda layer: layer,
                                      call_function=call)
    for name, new in new_convs.items():
        new.set_weights(list(_folded_weights(model.get_layer(name), convs[name])))
    if hasattr(model, "pretrained_cfg"):
        folded.pretrained_cfg = model.pretrained_cfg
    return folded, len(pairs)


def set_batch_norm_statistics(model, images):
    """Sets every BatchNorm's moving mean and variance to those of `images` flowing through
    the model, as training on such images leaves them: one pass in training mode with
    momentum 0 (each layer then sees its inputs normalised with the statistics it keeps).
    For benchmarks and tests of random-weight models whose BatchNorms should not be the
    identity.

    Returns:
        The number of BatchNorm layers set.
    """
    batch_norms = [layer for layer in model._flatten_layers()
                   if isinstance(layer, layers.BatchNormalization)]
    momenta = [layer.momentum for layer in batch_norms]
    for layer in batch_norms:
        layer.momentum = 0.0
    try:
        model(images, training=True)
    finally:
        for layer, momentum in zip(batch_norms, momenta):
            layer.momentum = momentum
    return len(batch_norms)
