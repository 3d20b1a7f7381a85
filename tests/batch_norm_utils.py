"""BatchNorm state that is not the initial one, so tests see what BN actually does."""

import keras
import numpy as np


def randomise_batch_norm(model, seed=0):
    """Moves every BatchNorm's gamma, beta and moving statistics (nested layers included) off
    their initial values (1, 0, 0, 1), at which BN is nearly an identity at inference."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            for variable, low, high in ((layer.gamma, 0.5, 1.5), (layer.beta, -0.5, 0.5),
                                        (layer.moving_mean, -0.5, 0.5),
                                        (layer.moving_variance, 0.5, 2.0)):
                if variable is not None:
                    variable.assign(rng.uniform(low, high, variable.shape))
