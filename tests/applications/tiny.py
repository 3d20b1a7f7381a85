"""Small configurations of the registered families, built the way `build_model` builds them.

Full-size Inception-ResNet-v2 / VGG-16 take tens of seconds and hundreds of MB on this CPU;
the behaviour under test (dtype policies, serialization, shapes) does not depend on width.
"""

import keras

from keras_senet import get_spec
from keras_senet.applications._common import head


def build_tiny(arch_name, config, size, include_top=True, classes=4, pooling=None):
    """`arch_name`'s builder and head with `config` in place of the registered one."""
    spec = get_spec(arch_name)
    inputs = keras.Input((size, size, 3))
    x = spec.builder(inputs, config)[-1]
    if spec.head is not None:
        outputs = spec.head(x, config, include_top, pooling, classes, "softmax")
    else:
        outputs = head(x, include_top, pooling, classes, "softmax")
    return keras.Model(inputs, outputs, name=f"tiny_{arch_name}")
