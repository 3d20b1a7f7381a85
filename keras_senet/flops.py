"""Multiply-add counts of a built model, the way the SENet / SKNet papers report "GFLOPs".

Counts convolutions and fully connected layers, and inside the shared blocks also the
squeeze (one add per element) and the scale / select products (one multiply per element),
as the SENet paper does when it puts SE-ResNet-50 at 3.87 GFLOPs against ResNet-50's 3.86.
BN, activations, pooling and residual additions are left out, as in the papers.
"""

import math

from keras import layers

from keras_senet.layers import SelectiveKernel, SqueezeExcite


def _conv_macs(conv, out_shape, in_channels):
    kh, kw = conv.kernel_size
    return kh * kw * (in_channels // conv.groups) * conv.filters * math.prod(out_shape[1:3])


def layer_macs(layer):
    """Multiply-adds of one layer for one image (its output shape must be static)."""
    out_shape = layer.output.shape
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return kh * kw * out_shape[-1] * math.prod(out_shape[1:3])
    if isinstance(layer, layers.Conv2D):
        return _conv_macs(layer, out_shape, layer.input.shape[-1])
    if isinstance(layer, layers.Dense):
        return layer.kernel.shape[0] * layer.kernel.shape[1] * math.prod(out_shape[1:-1] or (1,))
    if isinstance(layer, SqueezeExcite):
        squeeze_and_scale = 2 * math.prod(out_shape[1:])
        return 2 * math.prod(layer.reduce_kernel.shape) + squeeze_and_scale
    if isinstance(layer, SelectiveKernel):
        in_channels = layer.input.shape[-1]
        path_in = in_channels // layer.num_paths if layer.split_input else in_channels
        convs = sum(_conv_macs(c, out_shape, path_in) for c in layer.path_convs)
        squeeze_and_select = (layer.num_paths + 1) * math.prod(out_shape[1:])
        fc = math.prod(layer.reduce_kernel.shape) + math.prod(layer.select_kernel.shape)
        return convs + fc + squeeze_and_select
    return 0


def count_macs(model):
    """Total multiply-adds of `model` for one image at its (static) input size."""
    if any(d is None for d in model.input_shape[1:]):
        raise ValueError(
            f"count_macs needs a static input size; {model.name} has input shape "
            f"{model.input_shape}. Build it with e.g. input_shape=(224, 224, 3).")
    return sum(layer_macs(layer) for layer in model.layers)


def count_params(model):
    """Trainable parameters (what timm's `sum(p.numel() for p in model.parameters())` counts)."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)
