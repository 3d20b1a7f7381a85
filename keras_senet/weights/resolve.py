"""Resolve `weights=`: check it, download, verify, convert, cache and load.

    None                      random initialisation
    "imagenet"                the architecture's default checkpoint
    a tag ("gluon_in1k")      that checkpoint
    a path                    .weights.h5 / .keras (Keras), .safetensors / .pth (timm or ours)

Pretrained checkpoints are downloaded once into `$KERAS_HOME/models/keras_senet/`
(default `~/.keras`), hash-checked, converted once to Keras layout and cached beside as
`converted/<arch>.<tag>.safetensors`; later loads read only that file. A failed download or
a bad hash leaves nothing in the cache.
"""

import dataclasses
import hashlib
import os
import shutil
import tempfile

import keras

from keras_senet.weights import checkpoint_io
from keras_senet.weights.sources import PACKAGE_SCHEME, WeightSource, find_source, sources_for

KERAS_EXTENSIONS = (".weights.h5", ".keras")
REFERENCE_EXTENSIONS = (".safetensors", ".pth", ".pt", ".bin")
CONVERTED_FORMAT = "keras_senet.v1"


class WeightsDownloadError(OSError):
    """The checkpoint could not be downloaded; the message says where to put it by hand."""


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
        ValueError: unknown value, missing file, unsupported extension, or "imagenet" for an
            architecture without pretrained weights.
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
    if os.path.isfile(text):
        if not text.endswith(KERAS_EXTENSIONS + REFERENCE_EXTENSIONS):
            raise ValueError(
                f"Unsupported weights file {text!r}: expected one of "
                f"{KERAS_EXTENSIONS + REFERENCE_EXTENSIONS}.")
        return WeightsRequest(path=text)
    raise _invalid_weights(spec, weights)


def cache_dir():
    """`$KERAS_HOME/models/keras_senet` (KERAS_HOME defaults to ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", "keras_senet")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_matches(path, expected):
    return expected is None or sha256_of(path).startswith(expected.lower())


def packaged_file(source):
    """The path of weights shipped inside the package (`package:keras_senet/...` URLs),
    hash-checked; works the same from a source checkout and an installed wheel."""
    import keras_senet

    relative = source.url[len(PACKAGE_SCHEME):].removeprefix("keras_senet/")
    path = os.path.join(os.path.dirname(os.path.abspath(keras_senet.__file__)), relative)
    if not os.path.isfile(path):
        raise WeightsDownloadError(
            f"The {source.full_name} weights should ship with keras_senet at {path}, but the "
            "file is missing: reinstall keras-senet (or restore the file from the repository).")
    if not _hash_matches(path, source.sha256):
        raise ValueError(f"{path} does not match its sha256 {source.sha256}: the installation "
                         "is corrupted; reinstall keras-senet.")
    return path


def fetch(source):
    """The local path of a checkpoint, downloading and verifying it on first use.

    The download goes to a private staging folder and moves into the cache only after the
    hash check, so an interrupted transfer or a corrupted file leaves nothing behind.
    Weights shipped with the package are read in place.
    """
    if source.url.startswith(PACKAGE_SCHEME):
        return packaged_file(source)
    root = cache_dir()
    os.makedirs(root, exist_ok=True)
    target = os.path.join(root, source.file_name)
    if os.path.exists(target) and _hash_matches(target, source.sha256):
        return target
    staging = tempfile.mkdtemp(prefix=".download-", dir=root)
    try:
        try:
            path = keras.utils.get_file(source.file_name, source.url, cache_dir=staging,
                                        cache_subdir="")
        except Exception as e:  # get_file re-raises every transport error as Exception
            raise WeightsDownloadError(
                f"Could not download the {source.full_name} weights from {source.url} ({e}). "
                f"To use them offline, download that file by other means and put it at "
                f"{target}, or pass its path as `weights=`.") from None
        if not _hash_matches(path, source.sha256):
            raise ValueError(
                f"The download of {source.full_name} from {source.url} is corrupted: its "
                f"sha256 {sha256_of(path)} does not match the published {source.sha256}. "
                "Nothing was cached; try again, or check the mirror.")
        os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _atomic_write_safetensors(path, tensors, metadata):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=os.path.dirname(path))
    os.close(fd)
    try:
        checkpoint_io.write_safetensors(tmp, tensors, metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _converted_path(source):
    return os.path.join(cache_dir(), "converted", f"{source.full_name}.safetensors")


def pretrained_weights(model, spec, source):
    """{Keras variable path: array} of a pretrained checkpoint, classifier included.

    Reads the converted cache when present; otherwise downloads, converts and caches.
    """
    from keras_senet.convert import convert_reference

    if source.file_format == "keras_safetensors":  # already in Keras layout
        return checkpoint_io.read_safetensors(fetch(source))[0]
    converted = _converted_path(source)
    if os.path.exists(converted):
        tensors, metadata = checkpoint_io.read_safetensors(converted)
        if metadata.get("format") == CONVERTED_FORMAT:
            return tensors
    state_dict = checkpoint_io.read_state_dict(fetch(source))
    tensors = convert_reference(model, spec, state_dict)
    _atomic_write_safetensors(converted, tensors, {"format": CONVERTED_FORMAT,
                                                   "source": source.url})
    return tensors


def assign(model, tensors, include_top=True):
    """Assigns {variable path: array} to `model`, after checking that it covers every
    variable with the right shape (the classifier's tensors are skipped without a top)."""
    from keras_senet.convert import check_complete

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


def _check_weights_h5(model, path):
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
        from keras_senet.convert import check_complete

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
        _check_weights_h5(model, path)
        model.load_weights(path)
    elif path.endswith(".keras"):
        assign(model, _keras_file_tensors(path), include_top)
    else:
        from keras_senet.convert import convert_reference

        tensors = checkpoint_io.read_state_dict(path)
        if all("/" in key for key in tensors):  # already in Keras layout (our cache format)
            assign(model, tensors, include_top)
        else:
            assign(model, convert_reference(model, spec, tensors), include_top)
    model.pretrained_cfg = None
    return model
