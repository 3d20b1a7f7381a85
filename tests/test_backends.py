"""The models are backend-agnostic: the same weights give the same outputs on JAX."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras_senet

JAX_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, keras, keras_senet
    assert keras.backend.backend() == "jax"
    for name, path in zip(sys.argv[1::2], sys.argv[2::2]):
        model = keras_senet.create_model(name, weights=path, input_shape=(64, 64, 3),
                                         classes=10, classifier_activation=None)
        x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
        np.save(path + ".npy", np.asarray(model.predict(x, verbose=0)))
""")


def test_models_run_on_jax_with_the_same_outputs(tmp_path):
    pytest.importorskip("jax")
    names = ["seresnext26d_32x4d", "skresnet18", "legacy_seresnet18"]  # grouped, SK, Caffe pool
    args, expected = [], {}
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    for name in names:
        model = keras_senet.create_model(name, input_shape=(64, 64, 3), classes=10,
                                         classifier_activation=None)
        path = str(tmp_path / f"{name}.weights.h5")
        model.save_weights(path)
        expected[name] = model.predict(x, verbose=0)
        args += [name, path]
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT, *args], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, path in zip(args[::2], args[1::2]):
        np.testing.assert_allclose(np.load(path + ".npy"), expected[name], atol=1e-4,
                                   err_msg=name)
