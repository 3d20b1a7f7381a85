"""The shared blocks every keras_senet family is built from."""

from keras_senet.layers.conv import make_divisible
from keras_senet.layers.grouped_conv import GroupedConv2D, grouped_conv_implementation
from keras_senet.layers.selective_kernel import SelectiveKernel
from keras_senet.layers.shuffle import ChannelShuffle
from keras_senet.layers.squeeze_excite import PAPER_SE, TIMM_SE, SEConfig, SqueezeExcite, attach_se

__all__ = [
    "SqueezeExcite", "SelectiveKernel", "ChannelShuffle", "GroupedConv2D",
    "grouped_conv_implementation", "make_divisible", "SEConfig", "PAPER_SE", "TIMM_SE",
    "attach_se",
]
