"""keras.applications' classifier head, shared by every family that has no head of its own."""

from keras import layers


def classifier_head(x, include_top, pooling, classes, classifier_activation, drop_rate=0.0):
    """(B, h, w, C) -> `avg_pool` -> [`top_dropout`] -> `predictions` (B, classes), in float32.

    Without the top: `pooling` "avg" (`avg_pool`) or "max" (`max_pool`) gives (B, C); None
    returns the feature map itself.
    """
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if drop_rate:
            x = layers.Dropout(drop_rate, name="top_dropout")(x)
        return layers.Dense(classes, activation=classifier_activation, dtype="float32",
                            name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x
