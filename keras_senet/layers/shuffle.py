"""Channel shuffle (Zhang et al., "ShuffleNet", CVPR 2018), the glue between group convolutions."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_senet")
class ChannelShuffle(keras.layers.Layer):
    """Permutes channels so the next group convolution sees every group of the previous one.

    Channels viewed as (groups, C / groups) are transposed to (C / groups, groups):
    with groups = 3 and C = 6, channel order [0 1 2 3 4 5] becomes [0 2 4 1 3 5].

    Args:
        groups: G, which must divide C.

    Input shape: (B, H, W, C), H and W may be unknown. Output shape: the same.
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        if groups < 1:
            raise ValueError(f"ChannelShuffle: groups must be >= 1, received {groups}.")
        self.groups = groups

    def build(self, input_shape):
        if input_shape[-1] % self.groups:
            raise ValueError(
                f"ChannelShuffle: {input_shape[-1]} channels are not divisible by "
                f"groups={self.groups}.")

    def call(self, inputs):
        batch, height, width, channels = ops.shape(inputs)
        x = ops.reshape(inputs, (batch, height, width, self.groups, channels // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (batch, height, width, channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}
