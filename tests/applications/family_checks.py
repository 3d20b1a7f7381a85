"""Counts the family tests compare with the papers."""

from keras_senet.flops import count_macs, count_params


def macs_and_params(name, size):
    from keras_senet import create_model

    model = create_model(name, input_shape=(size, size, 3))
    return count_macs(model), count_params(model)
