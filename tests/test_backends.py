"""The models are backend-agnostic: the same weights give the same logits on TensorFlow, JAX
and PyTorch, for every family (the tiny rows of tests/harness.py).

The TensorFlow models are built and saved here; one subprocess per backend, both running at
once, rebuilds every tiny model from the same table (it imports tests.harness), loads the
weights and writes its logits. A model that fails on a backend is reported with its error.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_senet
from tests.batch_norm_utils import randomise_batch_norm
from tests.harness import TINY_VARIANTS, random_images, tiny_input_size, tiny_registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "torch")
CLASSES = 10

# Run with KERAS_BACKEND set: rebuild each tiny model, load its weights, save its logits
# (`predict`: compiled by XLA on JAX, eager on PyTorch).
REBUILD_SCRIPT = textwrap.dedent("""
    import json, sys
    import keras, keras_senet, numpy as np
    from tests.harness import random_images, tiny_input_size, tiny_registry

    backend, directory = sys.argv[1], sys.argv[2]
    assert keras.backend.backend() == backend, keras.backend.backend()
    if backend == "jax":
        # JAX compiles each random initialiser per weight shape: two thirds of this run's
        # CPU time (35 of 54 s), for values the loaded weights replace. Zeros instead: a
        # weight the file failed to load then differs from TensorFlow's random one.
        from keras.src.backend.jax import random as jax_random

        def zeros(shape, *args, dtype=None, **kwargs):
            return np.zeros(shape, dtype or "float32")

        jax_random.normal = jax_random.uniform = jax_random.truncated_normal = zeros
    failures = {}
    with tiny_registry():
        for name in json.loads(open(directory + "/names.json").read()):
            size = tiny_input_size(name)
            try:
                model = keras_senet.create_model(
                    name, weights=f"{directory}/{name}.weights.h5", input_shape=(size, size, 3),
                    classes=%d, classifier_activation=None)
                logits = model.predict(random_images(size, low=-1.0), verbose=0)
                np.save(f"{directory}/{name}.{backend}.npy", keras.ops.convert_to_numpy(logits))
            except Exception as error:  # reported per model by the test
                failures[name] = f"{type(error).__name__}: {error}"[:1500]
    open(f"{directory}/{backend}_failures.json", "w").write(json.dumps(failures))
""" % CLASSES)


def save_tensorflow_models(directory):
    """{name: logits} of every tiny variant on TensorFlow, its weights saved in `directory`
    with BN statistics off their initial values (so that BN is not an identity)."""
    logits = {}
    with tiny_registry():
        for name in TINY_VARIANTS:
            size = tiny_input_size(name)
            model = keras_senet.create_model(name, input_shape=(size, size, 3), classes=CLASSES,
                                             classifier_activation=None)
            randomise_batch_norm(model, seed=1)
            model.save_weights(directory / f"{name}.weights.h5")
            logits[name] = keras.ops.convert_to_numpy(model(random_images(size, low=-1.0)))
    (directory / "names.json").write_text(json.dumps(list(logits)))
    return logits


def start_rebuild(backend, directory):
    """The subprocess rebuilding every model saved in `directory` on `backend`; its output
    goes to `directory/<backend>.log`."""
    env = {**os.environ, "KERAS_BACKEND": backend,
           # float32 on the CPU everywhere (a GPU would compute PyTorch's convolutions in TF32)
           "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": "",
           # XLA compiles each model's predict function; unoptimised, the 17 tiny models
           # took 18 s of CPU there instead of 31.5 s.
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(directory / f"{backend}.log", "w") as log:
        return subprocess.Popen([sys.executable, "-c", REBUILD_SCRIPT, backend, str(directory)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def differences(backend, directory, expected):
    """Problems of `backend`'s run: failed models, logits outside float32 tolerance."""
    failures = json.loads((directory / f"{backend}_failures.json").read_text())
    problems = [f"{backend} {name}: {error}" for name, error in failures.items()]
    for name, reference in expected.items():
        if name in failures:
            continue
        logits = np.load(directory / f"{name}.{backend}.npy")
        scale = np.abs(reference).max()
        if not np.allclose(logits, reference, rtol=1e-4, atol=1e-4 * scale):
            error = np.abs(logits - reference).max()
            problems.append(f"{backend} {name}: logits differ by {error:.2e} (scale {scale:.2e})")
    return problems


def test_every_family_gives_the_same_logits_on_jax_and_torch(tmp_path):
    backends = [b for b in BACKENDS if importlib.util.find_spec(b) is not None]
    if not backends:
        pytest.skip("neither jax nor torch is installed")
    expected = save_tensorflow_models(tmp_path)
    runs = {backend: start_rebuild(backend, tmp_path) for backend in backends}
    problems = []
    try:
        for backend, run in runs.items():
            if run.wait(timeout=900):
                log = (tmp_path / f"{backend}.log").read_text()
                problems.append(f"{backend} exited with {run.returncode}: {log[-3000:]}")
            else:
                problems += differences(backend, tmp_path, expected)
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
    assert not problems, "\n".join(problems)
