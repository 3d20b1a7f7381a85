"""Resolve `weights=`: check it, then load it into a freshly built model.

    None                      random initialisation
    "imagenet"                the architecture's default checkpoint
    a tag ("gluon_in1k")      that checkpoint
    a path                    .weights.h5 / .keras (Keras), .safetensors / .pth (timm or ours)

A pretrained row is fetched and hash-checked (`fetch`), converted to Keras layout by the
family's naming rule once and cached (`cache`, `convert`); every load checks that the
tensors cover the model's variables exactly before assigning any. Knows no family.
"""

import dataclasses
import os
import tempfile

import keras

from keras_senet.checkpoints import WeightSource
from keras_senet.registry import find_source, sources_for
from keras_senet.weights import cache, checkpoint_io
from keras_senet.weights.convert import check_complete, convert_reference
from keras_senet.weights.fetch import (
    CorruptedWeightsError, WeightsDownloadError, fetch, fetch_verified)

# The errors are those a pretrained `weights=` raises, so they are part of this API too.
__all__ = ["WeightsRequest", "parse_weights", "load", "assign", "pretrained_weights",
           "WeightsDownloadError", "CorruptedWeightsError"]
KERAS_EXTENSIONS = (".weights.h5", ".keras")
REFERENCE_EXTENSIONS = (".safetensors", ".pth", ".pt", ".bin")


@dataclasses.dataclass(frozen=True)
class WeightsRequest:
    """A checked `weights=` argument: nothing, a pretrained checkpoint, or a local file."""

    source: WeightSource | None = None
    path: str | None = None

    @property
    def pretrained(self):
        return self.source is not None

    @property
    def num_classes(self):
        return self.source.num_classes if self.source else 1000

    @property
    def input_size(self):
        return self.source.transform.input_size if self.source else None


def _invalid_weights(spec, weights):
    tags = [s.tag for s in sources_for(spec.name)]
    available = f" Pretrained tags of {spec.name}: {tags}." if tags else (
        f" {spec.name} has no pretrained checkpoint: pass weights=None, or the path of "
        "weights you trained.")
    return ValueError(
        "The `weights` argument should be either `None` (random initialization), 'imagenet' "
        "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
        f"Received: weights={weights}.{available}")


def parse_weights(spec, weights, name_tag=None):
    """Checks `weights=` against the architecture before anything is built or downloaded.

    Args:
        spec: the architecture's `ModelSpec`.
        weights: None, "imagenet", a pretrained tag or a path.
        name_tag: the tag given in the model name ("seresnext50_32x4d.gluon_in1k").

    Returns:
        A `WeightsRequest`.

    Raises:
        ValueError: unknown value, unsupported extension, or "imagenet" for an
            architecture without pretrained weights.
        checkpoint_io.CheckpointError: (a ValueError) a path that does not exist, is a
            directory or is empty.
    """
    if weights is None:
        return WeightsRequest()
    if not isinstance(weights, (str, os.PathLike)):
        raise _invalid_weights(spec, weights)
    text = os.fspath(weights)
    known_tags = {s.tag for s in sources_for(spec.name)}
    if text == "imagenet" or text in known_tags:
        tag = text if text != "imagenet" else name_tag
        source = find_source(spec.name, tag)
        if source is None:
            checkpoint = f"{spec.name}.{tag}" if tag else spec.name
            raise _invalid_weights(spec, f"{weights!r} (no checkpoint {checkpoint})")
        return WeightsRequest(source=source)
    if _names_a_file(text):
        checkpoint_io.check_file(text)  # not found, a directory, empty: CheckpointError
        if not text.endswith(KERAS_EXTENSIONS + REFERENCE_EXTENSIONS):
            raise ValueError(
                f"Unsupported weights file {text!r}: expected one of "
                f"{KERAS_EXTENSIONS + REFERENCE_EXTENSIONS}.")
        return WeightsRequest(path=text)
    raise _invalid_weights(spec, weights)


def _names_a_file(text):
    """Whether `weights=text` is meant as a path: it exists, has a folder part or a
    checkpoint extension (else it is taken for a mistyped tag)."""
    return (os.path.exists(text) or os.sep in text or (os.altsep or os.sep) in text
            or text.endswith(KERAS_EXTENSIONS + REFERENCE_EXTENSIONS))


def pretrained_weights(model, spec, source):
    """{Keras variable path: array} of a pretrained checkpoint, classifier included.

    The source file is fetched and verified first; the converted cache is read only when
    it records that file's sha256, else it is converted again (under a lock) and rewritten.
    """
    if source.file_format == "keras_safetensors":  # already in Keras layout
        return checkpoint_io.read_safetensors(fetch(source))[0]
    path, source_sha256 = fetch_verified(source)
    return cache.converted_weights(
        source, source_sha256,
        lambda: convert_reference(model, spec, checkpoint_io.read_state_dict(path)))


def assign(model, tensors, include_top=True):
    """Assigns {variable path: array} to `model`, after checking that it covers every
    variable with the right shape (the classifier's tensors are skipped without a top)."""
    missing, mis_shaped, values = [], [], []
    for variable in model.weights:
        if variable.path not in tensors:
            missing.append(variable.path)
        elif tuple(tensors[variable.path].shape) != tuple(variable.shape):
            mis_shaped.append(f"{variable.path} {tuple(variable.shape)} <- "
                              f"{tuple(tensors[variable.path].shape)}")
        else:
            values.append((variable, tensors[variable.path]))
    paths = {v.path for v in model.weights}
    unexpected = sorted(k for k in tensors if k not in paths
                        and (include_top or not k.startswith("predictions/")))
    check_complete(model.name, missing, unexpected, mis_shaped)
    for variable, value in values:
        variable.assign(value)
    return model


def _h5_datasets(path):
    import h5py

    shapes = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: shapes.__setitem__(name, obj.shape)
                     if isinstance(obj, h5py.Dataset) else None)
    return shapes


def check_weights_h5(model, path):
    """Keras matches .weights.h5 entries by layer class and position and skips extras without
    a word; compare the file's layout with the model's own before loading."""
    with tempfile.TemporaryDirectory() as tmp:
        own = os.path.join(tmp, "own.weights.h5")
        model.save_weights(own)
        expected = _h5_datasets(own)
    try:
        found = _h5_datasets(path)
    except OSError as e:
        raise ValueError(f"{path} is not a readable .weights.h5 file ({e}).") from None
    missing = sorted(k for k in expected if k not in found)
    unexpected = sorted(k for k in found if k not in expected)
    mis_shaped = sorted(f"{k} {expected[k]} <- {found[k]}" for k in expected
                        if k in found and found[k] != expected[k])
    if missing or unexpected or mis_shaped:
        try:
            check_complete(model.name, missing, unexpected, mis_shaped)
        except ValueError as e:
            raise ValueError(
                f"{e}\nA .weights.h5 file only loads into the same architecture built with the "
                "same include_top / classes; use a .keras or .safetensors file to load across "
                "heads.") from None


def _keras_file_tensors(path):
    loaded = keras.saving.load_model(path, compile=False)
    return {v.path: keras.ops.convert_to_numpy(v) for v in loaded.weights}


def load(model, spec, request, include_top=True):
    """Loads `request` into the freshly built `model`; returns it, or raises and drops it."""
    if request.source is None and request.path is None:
        model.pretrained_cfg = None
        return model
    if request.source is not None:
        assign(model, pretrained_weights(model, spec, request.source), include_top)
        model.pretrained_cfg = request.source
        return model
    path = request.path
    if path.endswith(".weights.h5"):
        check_weights_h5(model, path)
        model.load_weights(path)
    elif path.endswith(".keras"):
        assign(model, _keras_file_tensors(path), include_top)
    else:
        tensors = checkpoint_io.read_state_dict(path)
        if all("/" in key for key in tensors):  # already in Keras layout (our cache format)
            assign(model, tensors, include_top)
        else:
            assign(model, convert_reference(model, spec, tensors), include_top)
    model.pretrained_cfg = None
    return model
