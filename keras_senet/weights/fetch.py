"""Download a checkpoint row's file once and check its sha256 on every use.

    Hugging Face rows (`hub_repo`)  `huggingface_hub` into its shared cache, against the
                                    sha256 the Hub reports (the file's LFS ETag)
    `.pth` release rows             urllib into `cache_dir()`, against the sha256 prefix in
                                    the file's name
    packaged rows                   read in place, against the sha256 of the row

A failed download or a bad hash leaves nothing under the file's name; release downloads run
under a file lock (two processes download once), and every transfer has a connect / read
timeout ($KERAS_SENET_DOWNLOAD_TIMEOUT, default 60 s). Knows no family: only the row.
"""

import contextlib
import hashlib
import http.client
import os
import re
import urllib.request

import filelock

from keras_senet import atomic
from keras_senet.checkpoints import PACKAGE_SCHEME
from keras_senet.weights.checkpoint_io import first_line

TIMEOUT_ENV = "KERAS_SENET_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


class WeightsDownloadError(OSError):
    """The checkpoint could not be downloaded; the message says what to do instead."""


class CorruptedWeightsError(ValueError):
    """A checkpoint's sha256 is not the published one; the file was deleted."""


def cache_dir():
    """`$KERAS_HOME/models/keras_senet` (KERAS_HOME defaults to ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", "keras_senet")


def file_lock(path):
    """An inter-process lock for the writers of `path`: `.locks/NAME.lock` beside it,
    released if its holder dies."""
    directory, name = os.path.split(os.path.abspath(path))
    locks = os.path.join(directory, ".locks")
    os.makedirs(locks, exist_ok=True)
    return filelock.FileLock(os.path.join(locks, f"{name}.lock"))


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


# --- packaged rows -------------------------------------------------------------------------

def _packaged_file(source):
    """(path, sha256) of weights shipped inside the package (`package:keras_senet/...` URLs);
    works the same from a source checkout and an installed wheel."""
    relative = source.url[len(PACKAGE_SCHEME):].removeprefix("keras_senet/")
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), relative)
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
            f"{source.hub_revision!r} ({first_line(e)}). If HF_ENDPOINT points at a mirror, "
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
        f"{source.hub_repo} on {constants.ENDPOINT}): {first_line(reason)}. "
        f"To use them without network here, run `hf download {source.hub_repo} {source.hub_file}` where "
        f"there is network and copy that Hugging Face cache to {constants.HF_HUB_CACHE} "
        "(HF_HOME / HF_HUB_CACHE choose it), set HF_ENDPOINT to a reachable mirror, or pass "
        "the file's path as `weights=`.")


# --- plain-URL rows (the `.pth` releases) ------------------------------------------------

def _fetch_url(source):
    """Downloads into a staging folder beside `cache_dir()/<file_name>` under a file lock,
    checks the sha256 (prefix), then publishes the file there; a wrong file already there is
    deleted. Staging folders of killed runs are swept by the next download (`atomic`)."""
    target = os.path.join(cache_dir(), source.file_name)
    with file_lock(target):
        rejected = None
        if os.path.exists(target):
            actual = sha256_of(target)
            if _hash_matches(actual, source.sha256):
                return target, actual
            os.remove(target)
            rejected = actual
        with atomic.staging_dir(target) as stage:
            path = os.path.join(stage.path, source.file_name)
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
            stage.publish(path, overwrite=True)
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
