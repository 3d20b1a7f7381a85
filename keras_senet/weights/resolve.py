"""Resolve `weights=`: check it, download, verify, convert, cache and load.

    None                      random initialisation
    "imagenet"                the architecture's default checkpoint
    a tag ("gluon_in1k")      that checkpoint
    a path                    .weights.h5 / .keras (Keras), .safetensors / .pth (timm or ours)

Pretrained checkpoints are downloaded once and hash-checked on every load: Hugging Face
rows with `huggingface_hub` into its shared cache, against the sha256 the Hub reports;
`.pth` release rows into `$KERAS_HOME/models/keras_senet/` (default `~/.keras`), against
the sha256 prefix in their name. Each is converted once to Keras layout and cached as
`converted/<arch>.<tag>.safetensors`, which records the sha256 of the file it came from and
is used only while that file is there with that hash. A failed download or a bad hash
leaves nothing in the cache; downloads and conversions run under a file lock, and every
transfer has a connect / read timeout ($KERAS_SENET_DOWNLOAD_TIMEOUT, default 60 s).
"""

import contextlib
import dataclasses
import hashlib
import http.client
import os
import re
import shutil
import tempfile
import time
import urllib.request

import keras

from keras_senet import atomic
from keras_senet.weights import checkpoint_io
from keras_senet.weights.sources import PACKAGE_SCHEME, WeightSource, find_source, sources_for

KERAS_EXTENSIONS = (".weights.h5", ".keras")
REFERENCE_EXTENSIONS = (".safetensors", ".pth", ".pt", ".bin")
CONVERTED_FORMAT = "keras_senet.v1"
TIMEOUT_ENV = "KERAS_SENET_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
STAGING_PREFIXES = (".download-", ".tmp-")
STALE_AFTER_S = 3600  # staging untouched this long belongs to a killed run
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


class WeightsDownloadError(OSError):
    """The checkpoint could not be downloaded; the message says what to do instead."""


class CorruptedWeightsError(ValueError):
    """A checkpoint's sha256 is not the published one; the file was deleted."""


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


def cache_dir():
    """`$KERAS_HOME/models/keras_senet` (KERAS_HOME defaults to ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", "keras_senet")


def download_timeout():
    """Seconds a download may wait to connect or for the next bytes: $KERAS_SENET_DOWNLOAD_TIMEOUT,
    default 60."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds: set it to a "
                         f"positive number such as 60, or unset it for the default "
                         f"{DEFAULT_TIMEOUT_S:g}.")
    return seconds


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_matches(actual, expected):
    """`expected` is a full sha256 or a prefix of one (the `.pth` release names)."""
    return actual.startswith(expected.lower())


def packaged_file(source):
    """The path of weights shipped inside the package (`package:keras_senet/...` URLs),
    hash-checked; works the same from a source checkout and an installed wheel."""
    return _packaged_file(source)[0]


def _packaged_file(source):
    import keras_senet

    relative = source.url[len(PACKAGE_SCHEME):].removeprefix("keras_senet/")
    path = os.path.join(os.path.dirname(os.path.abspath(keras_senet.__file__)), relative)
    if not os.path.isfile(path):
        raise WeightsDownloadError(
            f"The {source.full_name} weights should ship with keras_senet at {path}, but the "
            "file is missing: reinstall keras-senet (or restore the file from the repository).")
    actual = sha256_of(path)
    if not _hash_matches(actual, source.sha256):
        raise CorruptedWeightsError(
            f"{path} has sha256 {actual}, not the published {source.sha256}: the "
            "installation is corrupted; reinstall keras-senet.")
    return path, actual


def fetch(source):
    """The local path of a checkpoint, downloading and verifying it on first use.

    Hugging Face rows go through `huggingface_hub` into its shared cache; plain-URL rows
    into `cache_dir()`; weights shipped with the package are read in place. The file's
    sha256 is checked on every call, so a file that changed on disk is never used.
    """
    return fetch_verified(source)[0]


def fetch_verified(source):
    """(path, sha256) of a checkpoint whose hash was just checked against the published one.

    Raises:
        WeightsDownloadError: it could not be downloaded (the message says what to do).
        CorruptedWeightsError: its sha256 is not the published one; the file was deleted.
    """
    if source.url.startswith(PACKAGE_SCHEME):
        return _packaged_file(source)
    if source.hub_repo is not None:
        return _fetch_from_hub(source)
    return _fetch_url(source)


# --- Hugging Face rows ---------------------------------------------------------------------

def _fetch_from_hub(source):
    """Downloads with `hf_hub_download` (shared HF cache, HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE
    honoured), then checks the file against the sha256 the Hub reports (LFS ETag).

    Online, the Hub's answer for the branch gives the expected hash; offline
    (HF_HUB_OFFLINE, or the Hub unreachable), the cached file is checked against the ETag
    the Hub reported when it was downloaded, which names its blob.
    """
    import huggingface_hub
    from huggingface_hub import constants

    timeout = download_timeout()
    metadata, unreachable = None, None
    if not constants.HF_HUB_OFFLINE:
        try:
            metadata = _hub_metadata(source, timeout)
        except WeightsDownloadError:
            raise
        except Exception as e:  # noqa: BLE001 (connection, timeout, 5xx: try the cache)
            unreachable = e
    if metadata is None:
        path = huggingface_hub.try_to_load_from_cache(source.hub_repo, source.hub_file,
                                                      revision=source.hub_revision)
        if not isinstance(path, str):
            raise WeightsDownloadError(_hub_hint(source, unreachable or "HF_HUB_OFFLINE is set"))
        expected = _blob_etag(source, path)
    else:
        expected = _sha256_etag(source, metadata.etag)
        path = _hub_download(source, timeout)
    return path, _check_hub_file(source, path, expected)


def _hub_metadata(source, timeout):
    """The Hub's HEAD answer for the file: commit and ETag; one try, `timeout` seconds."""
    import huggingface_hub
    from huggingface_hub import errors

    url = huggingface_hub.hf_hub_url(source.hub_repo, source.hub_file,
                                     revision=source.hub_revision)
    try:
        metadata = huggingface_hub.get_hf_file_metadata(url, timeout=timeout)
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError,
            errors.EntryNotFoundError) as e:
        raise WeightsDownloadError(
            f"The Hugging Face hub has no {source.hub_file} in {source.hub_repo} at "
            f"{source.hub_revision!r} ({checkpoint_io.first_line(e)}). If HF_ENDPOINT points "
            "at a mirror, "
            "check that it carries the repository; for a private one set HF_TOKEN.") from None
    if metadata.commit_hash is None or metadata.etag is None:
        raise WeightsDownloadError(
            f"{url} answered without the X-Repo-Commit / ETag headers of a Hugging Face hub: "
            "if HF_ENDPOINT is set, point it at a Hub-compatible mirror.")
    return metadata


def _hub_download(source, timeout):
    """`hf_hub_download` of the row's branch (so the cache records the branch's commit, and
    HF_HUB_OFFLINE finds the file later); a branch that moved since `_hub_metadata` gives a
    file whose hash is not the expected one, which the check after it rejects."""
    import huggingface_hub

    try:
        with _hub_transfer_timeout(timeout):
            return huggingface_hub.hf_hub_download(source.hub_repo, source.hub_file,
                                                   revision=source.hub_revision,
                                                   etag_timeout=timeout)
    except Exception as e:  # noqa: BLE001 (transport errors of the installed http client)
        raise WeightsDownloadError(_hub_hint(source, e)) from None


@contextlib.contextmanager
def _hub_transfer_timeout(timeout):
    """huggingface_hub reads its transfer timeout from a module constant set at import from
    HF_HUB_DOWNLOAD_TIMEOUT (default 10 s); ours applies unless the user set that variable."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT"):
        yield
        return
    saved, constants.HF_HUB_DOWNLOAD_TIMEOUT = constants.HF_HUB_DOWNLOAD_TIMEOUT, timeout
    try:
        yield
    finally:
        constants.HF_HUB_DOWNLOAD_TIMEOUT = saved


def _sha256_etag(source, etag):
    etag = (etag or "").lower()
    if not SHA256_PATTERN.fullmatch(etag):
        raise WeightsDownloadError(
            f"The Hub reports no sha256 for {source.hub_repo}/{source.hub_file} (ETag "
            f"{etag!r}, not a Git LFS file), so it cannot be verified and is not loaded.")
    return etag


def _blob_etag(source, path):
    """The ETag the Hub reported at download time: the name of the blob `path` links to."""
    if os.path.islink(path):
        return _sha256_etag(source, os.path.basename(os.readlink(path)))
    raise WeightsDownloadError(
        f"{path} cannot be verified offline: this Hugging Face cache does not use symlinks, so "
        "it does not record the hash the Hub reported. Load it once with network access.")


def _check_hub_file(source, path, expected):
    actual = sha256_of(path)
    if actual != expected:
        _remove_hub_file(path)
        raise CorruptedWeightsError(
            f"{source.hub_repo}/{source.hub_file} in the Hugging Face cache ({path}) is "
            f"corrupted: its sha256 is {actual}, but the Hub reports {expected}. The file was "
            "deleted from the cache; load it again to download it afresh.")
    return actual


def _remove_hub_file(path):
    """Deletes a snapshot entry and every blob it links to (blob, shared-store copy)."""
    chain = [path]
    while os.path.islink(chain[-1]):
        chain.append(os.path.join(os.path.dirname(chain[-1]), os.readlink(chain[-1])))
    for link in chain:
        with contextlib.suppress(FileNotFoundError):
            os.remove(link)


def _hub_hint(source, reason):
    from huggingface_hub import constants

    return (
        f"Could not download the {source.full_name} weights ({source.hub_file} of "
        f"{source.hub_repo} on {constants.ENDPOINT}): {checkpoint_io.first_line(reason)}. "
        f"To use them without network here, run `hf download {source.hub_repo} {source.hub_file}` where "
        f"there is network and copy that Hugging Face cache to {constants.HF_HUB_CACHE} "
        "(HF_HOME / HF_HUB_CACHE choose it), set HF_ENDPOINT to a reachable mirror, or pass "
        "the file's path as `weights=`.")


# --- plain-URL rows (the `.pth` releases) ------------------------------------------------

def _fetch_url(source):
    """Downloads into a staging folder under a file lock, checks the sha256 (prefix), then
    moves the file to `cache_dir()/<file_name>`; a wrong file already there is deleted."""
    root = cache_dir()
    os.makedirs(root, exist_ok=True)
    target = os.path.join(root, source.file_name)
    with _lock(root, source.file_name):
        _sweep_staging(root, owned=f".download-{source.file_name}-")
        rejected = None
        if os.path.exists(target):
            actual = sha256_of(target)
            if _hash_matches(actual, source.sha256):
                return target, actual
            os.remove(target)
            rejected = actual
        staging = tempfile.mkdtemp(prefix=f".download-{source.file_name}-", dir=root)
        try:
            path = os.path.join(staging, source.file_name)
            try:
                _http_download(source.url, path, download_timeout())
            except WeightsDownloadError as e:
                raise WeightsDownloadError(_url_hint(source, target, e, rejected)) from None
            actual = sha256_of(path)
            if not _hash_matches(actual, source.sha256):
                raise CorruptedWeightsError(
                    f"The download of {source.full_name} from {source.url} is corrupted: its "
                    f"sha256 is {actual}, but the published one starts with {source.sha256}. "
                    "Nothing was cached; try again, or check the mirror.")
            os.replace(path, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target, actual


def _url_hint(source, target, error, rejected):
    if rejected is None:
        where = (f"To use them offline, download that file by other means and put it at "
                 f"{target}, or pass its path as `weights=`.")
    else:
        where = (f"The file that was at {target} has sha256 {rejected}, but the published one "
                 f"starts with {source.sha256}: it is not that file, and was deleted. Put the "
                 f"file from {source.url} there, or pass its path as `weights=`.")
    return f"Could not download the {source.full_name} weights from {source.url} ({error}). {where}"


def _http_download(url, path, timeout):
    """GETs `url` into `path`; every connect and read waits at most `timeout` seconds, and a
    body shorter than its Content-Length is an error.

    urllib (not keras.utils.get_file, which has no timeout): its `timeout` is the socket's,
    so it bounds the connection and each read, and it needs no third-party client.
    """
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as f:
            length = response.headers.get("Content-Length")
            while chunk := response.read1(1 << 20):  # what has arrived, up to 1 MiB
                f.write(chunk)
                received += len(chunk)
    except TimeoutError:
        raise WeightsDownloadError(
            f"the server sent nothing for {timeout:g} s after {received} bytes "
            f"({TIMEOUT_ENV} sets this limit)") from None
    except (OSError, http.client.HTTPException) as e:
        raise WeightsDownloadError(f"{type(e).__name__}: {e} after {received} bytes") from None
    if length is not None and received != int(length):
        raise WeightsDownloadError(f"the transfer stopped at {received} of {length} bytes")


# --- staging, locks ----------------------------------------------------------------------

def _lock(directory, name):
    """An inter-process lock for `name`, in `directory/.locks/` (released if its holder dies)."""
    import filelock

    locks = os.path.join(directory, ".locks")
    os.makedirs(locks, exist_ok=True)
    return filelock.FileLock(os.path.join(locks, f"{name}.lock"))


def _sweep_staging(directory, owned):
    """Deletes what killed runs left: `.download-*` / `.tmp-*` entries named `owned` (their
    lock is ours, so their writer is gone), and any untouched for STALE_AFTER_S seconds."""
    now = time.time()
    for entry in os.scandir(directory):
        if not entry.name.startswith(STAGING_PREFIXES):
            continue
        if entry.name.startswith(owned) or now - _last_write(entry.path) > STALE_AFTER_S:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(entry.path)


def _last_write(path):
    """The newest modification time of `path` and, for a folder, of everything inside it."""
    try:
        newest = os.lstat(path).st_mtime
        for folder, _, files in os.walk(path):
            for name in files:
                newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime)
    except FileNotFoundError:
        return time.time()
    return newest


# --- the converted cache -----------------------------------------------------------------

def _atomic_write_safetensors(path, tensors, metadata):
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{name}-", suffix=".safetensors", dir=directory)
    os.close(fd)
    try:
        checkpoint_io.write_safetensors(tmp, tensors, metadata)
        os.chmod(tmp, atomic.file_mode())  # mkstemp's 0600 -> what the umask allows
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _converted_path(source):
    return os.path.join(cache_dir(), "converted", f"{source.full_name}.safetensors")


def _read_converted(path, source_sha256):
    """The converted tensors if `path` was made from the file whose sha256 is
    `source_sha256`; None when it is absent, unreadable, or from another file."""
    if not os.path.exists(path):
        return None
    try:
        tensors, metadata = checkpoint_io.read_safetensors(path)
    except (OSError, ValueError):
        return None
    if (metadata.get("format") != CONVERTED_FORMAT
            or metadata.get("source_sha256") != source_sha256):
        return None
    return tensors


def pretrained_weights(model, spec, source):
    """{Keras variable path: array} of a pretrained checkpoint, classifier included.

    The source file is fetched and verified first; the converted cache is read only when
    it records that file's sha256, else it is converted again (under a lock) and rewritten.
    """
    from keras_senet.convert import convert_reference

    if source.file_format == "keras_safetensors":  # already in Keras layout
        return checkpoint_io.read_safetensors(fetch(source))[0]
    path, source_sha256 = fetch_verified(source)
    converted = _converted_path(source)
    directory, name = os.path.split(converted)
    os.makedirs(directory, exist_ok=True)
    with _lock(directory, name):
        _sweep_staging(directory, owned=f".tmp-{name}-")
        tensors = _read_converted(converted, source_sha256)
        if tensors is None:
            tensors = convert_reference(model, spec, checkpoint_io.read_state_dict(path))
            _atomic_write_safetensors(converted, tensors, {
                "format": CONVERTED_FORMAT, "source": source.url,
                "source_sha256": source_sha256})
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
