"""Counts the family tests compare with the papers."""

from keras_senet.flops import count_macs, count_params


def macs_and_params(name, size):
    """(multiply-adds, trainable parameters) of the full-size `name` at `size` px: built,
    never run."""
    from keras_senet import create_model

    model = create_model(name, input_shape=(size, size, 3))
    return count_macs(model), count_params(model)


def se_parameters(widths):
    """Parameters of SE blocks (r = 16, `C // 16`: fc C -> C // 16 -> C, with biases) on
    feature maps of `widths` channels, one block each."""
    return sum(2 * c * (c // 16) + c + c // 16 for c in widths)
