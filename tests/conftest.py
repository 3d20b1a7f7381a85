"""Shared fixtures: real photographs, a clean Keras session per test, a private KERAS_HOME."""

import os
import pathlib
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Under pytest-xdist (`make test`: -n 2 on 2 cores) each worker, and the programs it starts,
# computes on its share of the cores: TensorFlow's and torch's default of one thread per
# core made the workers compete (this 2-core machine, whole suite: pytest 692 s -> 647 s, CPU
# time 1298 s -> 1204 s). Read before TensorFlow and torch are imported.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // _workers))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _threads)
    os.environ.setdefault("OMP_NUM_THREADS", _threads)

# torch's compiler stack (torch._dynamo, which timm imports) segfaults when it is first imported
# after TensorFlow in the same process (TF 2.21 / torch 2.14); importing it first is safe.
try:
    import timm  # noqa: F401
    import torch  # noqa: F401
except ImportError:
    pass

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

DATA = pathlib.Path(__file__).parent / "data"
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


def load_photos(size=224, crop_pct=0.875):
    """The shipped photographs as a (4, size, size, 3) float32 batch of 0..255 RGB values,
    resized (shorter side to size / crop_pct, bicubic) and centre-cropped like timm's eval."""
    from PIL import Image

    batch = []
    for name in PHOTOS:
        image = Image.open(DATA / f"{name}.jpg").convert("RGB")
        scale = int(round(size / crop_pct)) / min(image.size)
        image = image.resize((max(size, round(image.width * scale)),
                              max(size, round(image.height * scale))), Image.BICUBIC)
        left, top = (image.width - size) // 2, (image.height - size) // 2
        batch.append(np.asarray(image.crop((left, top, left + size, top + size)), "float32"))
    return np.stack(batch)


@pytest.fixture(scope="session")
def photos():
    return load_photos()


@pytest.fixture(autouse=True)
def _clean_session(tmp_path_factory, monkeypatch):
    """A private KERAS_HOME, deleted after the test (converted checkpoints are large: kept
    for the whole session they filled CI's disk), and Keras' global state reset."""
    keras_home = tempfile.mkdtemp(prefix="keras_home", dir=tmp_path_factory.getbasetemp())
    monkeypatch.setenv("KERAS_HOME", keras_home)
    yield
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    shutil.rmtree(keras_home, ignore_errors=True)


@pytest.fixture
def tiny_models():
    """Every registered architecture built from its tiny config (tests/harness.py: one block
    per stage): the public constructors and `create_model` work as usual, on small networks."""
    from tests.harness import tiny_registry

    with tiny_registry():
        yield
