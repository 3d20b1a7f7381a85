"""Convolution, normalisation and pooling helpers with PyTorch's padding semantics.

Keras `padding="same"` pads (0, 1) for a stride-2 convolution on an even input, while
PyTorch pads symmetrically; a converted checkpoint only matches when every strided op pads
the PyTorch way. These helpers make that the default for every family.
"""

from keras import layers

from keras_senet.layers.grouped_conv import GroupedConv2D

# One BatchNorm epsilon per reference implementation:
BN_EPSILON = 1e-5  # PyTorch's BatchNorm2d (timm, torchvision: the ResNet, SK, VGG, CIFAR nets).
BN_MOMENTUM = 0.9  # PyTorch momentum 0.1 expressed the Keras way.
KERAS_BN_EPSILON = 1e-3  # keras.applications' Inception and MobileNet (Keras' default).


def make_divisible(value, divisor=8, min_value=None, round_limit=0.9):
    """Rounds `value` to a multiple of `divisor` (timm / TF-slim rule).

    Never returns less than `min_value` (default: `divisor`) and never rounds down by more
    than `1 - round_limit` of `value`.
    """
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def torch_padding(kernel_size, stride=1, dilation=1):
    """Symmetric padding PyTorch uses for `padding=k // 2`-style convolutions."""
    return ((stride - 1) + dilation * (kernel_size - 1)) // 2


def batch_norm(name):
    """BatchNormalization with the reference implementation's epsilon and momentum."""
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def keras_batch_norm(name, scale=True):
    """BatchNormalization as keras.applications' Inception / MobileNet build it."""
    return layers.BatchNormalization(scale=scale, epsilon=KERAS_BN_EPSILON, name=name)


def keras_conv_bn(x, filters, kernel, stride=1, padding="same", name=None):
    """keras.applications' `conv2d_bn`: conv (no bias) -> BN (no scale) -> ReLU, named
    `{name}_conv`, `{name}_bn`, `{name}_relu`."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False,
                      name=f"{name}_conv")(x)
    x = keras_batch_norm(f"{name}_bn", scale=False)(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def conv2d(x, filters, kernel_size, stride=1, groups=1, use_bias=False, name=None):
    """Conv2D that pads like PyTorch: `ZeroPadding2D(k // 2)` + `valid` when strided.

    Args:
        x: tensor of shape (B, H, W, C_in).
        filters: C_out.
        kernel_size: odd square kernel size k.
        stride: 1 or 2.
        groups: number of groups G (C_in and C_out divisible by G).
        name: the conv layer's name; the padding layer (if any) is `name + "_pad"`.

    Returns:
        Tensor of shape (B, ceil(H / stride), ceil(W / stride), C_out).
    """
    pad = torch_padding(kernel_size, stride)
    if stride > 1 and pad > 0:
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    conv_class = GroupedConv2D if groups > 1 else layers.Conv2D
    return conv_class(
        filters,
        kernel_size,
        strides=stride,
        padding=padding,
        groups=groups,
        use_bias=use_bias,
        name=name,
    )(x)


def conv_bn(x, filters, kernel_size, stride=1, groups=1, activation="relu", name=None):
    """conv -> BN -> (activation), named `{name}_conv`, `{name}_bn`, `{name}_{activation}`."""
    x = conv2d(x, filters, kernel_size, stride=stride, groups=groups, name=f"{name}_conv")
    x = batch_norm(f"{name}_bn")(x)
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def max_pool_3x3_s2(x, ceil_mode=False, name="pool1"):
    """3x3 / stride-2 max pool on a non-negative (post-ReLU) input.

    `ceil_mode=False`: PyTorch `MaxPool2d(3, 2, padding=1)`.
    `ceil_mode=True`: the Caffe pool of the official SENet checkpoints,
    `MaxPool2d(3, 2, padding=0, ceil_mode=True)`. Padding the bottom/right edge by one gives
    exactly ceil mode for both even and odd sizes. Zero padding equals PyTorch's -inf padding
    because every window holds at least one real, non-negative value.
    """
    padding = ((0, 1), (0, 1)) if ceil_mode else ((1, 1), (1, 1))
    x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)


def avg_pool_2x2_s2_ceil(x, name):
    """PyTorch `AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)`.

    TF/JAX "same" average pooling with a 2x2 window pads the bottom/right edge of odd sizes
    and excludes the padding from the mean, which is that operation exactly.
    """
    return layers.AveragePooling2D(2, strides=2, padding="same", name=name)(x)


def avg_pool_2x2_s2(x, name):
    """PyTorch `AvgPool2d(2)`: floor mode, no padding (timm's `aa_layer=nn.AvgPool2d`)."""
    return layers.AveragePooling2D(2, strides=2, padding="valid", name=name)(x)

