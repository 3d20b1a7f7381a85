"""A saved keras_senet model loads in a new process after `import keras_senet` alone."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np

from keras_senet.layers import ChannelShuffle, GroupedConv2D, SelectiveKernel, SqueezeExcite

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What a user writes: no `import keras_senet.layers`, no custom_objects.
LOAD_SCRIPT = """
import sys

import numpy as np

import keras_senet
import keras

model = keras.models.load_model(sys.argv[1])
outputs = keras.ops.convert_to_numpy(model(np.load(sys.argv[2])))
np.testing.assert_allclose(outputs, np.load(sys.argv[3]), rtol=1e-5, atol=1e-6)
print(sorted({type(layer).__name__ for layer in model.layers}))
"""


def tiny_model_with_every_custom_layer():
    """(B, 16, 16, 3) -> (B, 4) through SelectiveKernel, GroupedConv2D, ChannelShuffle and
    SqueezeExcite."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(16, 3, padding="same")(inputs)
    x = SelectiveKernel(16, rd_divisor=8)(x)
    x = GroupedConv2D(16, 3, groups=4, padding="same")(x)
    x = ChannelShuffle(4)(x)
    x = SqueezeExcite(rd_ratio=0.25)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4)(x))


def test_import_keras_senet_is_enough_to_load_a_saved_model(tmp_path):
    model = tiny_model_with_every_custom_layer()
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    model.save(tmp_path / "tiny.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", keras.ops.convert_to_numpy(model(x)))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(tmp_path / "tiny.keras"),
         str(tmp_path / "x.npy"), str(tmp_path / "expected.npy")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("ChannelShuffle", "GroupedConv2D", "SelectiveKernel", "SqueezeExcite"):
        assert name in result.stdout
