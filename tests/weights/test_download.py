"""The pretrained download path, for real, against a fake Hugging Face hub on 127.0.0.1.

Hugging Face rows go through `huggingface_hub` into its cache (HF_HOME is a temporary folder
here) and are checked against the sha256 the Hub reports; `.pth` release rows are fetched with
urllib into KERAS_HOME and checked against the sha256 prefix in their name. The server
(tests/weights/fake_hub.py) serves generated files good, bit-flipped, truncated or stalled.
"""

import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_senet import atomic, registry
from keras_senet.checkpoints import HF_HUB, WeightSource, hf_source, pth_source
from keras_senet.weights import cache, resolve
from keras_senet.weights.checkpoint_io import write_safetensors
from keras_senet.weights.fetch import (
    CorruptedWeightsError, WeightsDownloadError, cache_dir, download_timeout, fetch,
    fetch_verified)
from tests.weights.fake_hub import FakeHub

REPO = "timm/seresnet18.local_in1k"
HUB_PATH = f"{REPO}/resolve/main/model.safetensors"


def small_checkpoint(tmp_path, seed=0):
    """A few kB of safetensors bytes, different for each seed."""
    values = np.random.default_rng(seed).standard_normal(2000).astype("float32")
    path = tmp_path / f"small{seed}.safetensors"
    write_safetensors(path, {"fc.weight": values.reshape(40, 50)})
    return path.read_bytes()


def use_hub(monkeypatch, endpoint, hf_home):
    """HF_ENDPOINT and HF_HOME for this process. huggingface_hub reads them once, at import,
    so its constants are set too (the subprocess test below sets only the variables)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(hf_home / "token"))


@pytest.fixture
def hub(tmp_path, monkeypatch):
    server = FakeHub()
    use_hub(monkeypatch, server.endpoint, tmp_path / "hf_home")
    yield server
    server.stop()


@pytest.fixture
def hub_source():
    return hf_source("seresnet18", "local_in1k", repo=REPO)


def hub_cache_files(tmp_path):
    """Blobs and snapshot entries in the Hugging Face cache (locks and refs left out)."""
    root = tmp_path / "hf_home" / "hub"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.parent.name != "refs"
                  and ".locks" not in p.parts and p.name != "CACHEDIR.TAG")


def keras_cache_files():
    root = cache_dir()
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root)
                  for f in files if ".locks" not in d)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- Hugging Face rows --------------------------------------------------------------------

def test_a_hub_file_lands_in_the_hf_cache_checked_against_the_hubs_sha256(
        hub, hub_source, tmp_path):
    data = small_checkpoint(tmp_path)
    hub.add(HUB_PATH, data)
    path, digest = fetch_verified(hub_source)
    assert digest == sha256(data)
    assert path.startswith(str(tmp_path / "hf_home" / "hub" / "models--timm--seresnet18.local_in1k"))
    assert os.path.basename(os.path.realpath(path)) == digest  # the blob named by its ETag
    assert hub.gets() == [f"/{HUB_PATH}"]
    assert keras_cache_files() == []  # nothing duplicated outside the shared cache


def test_a_file_already_in_the_hf_cache_is_not_downloaded_again(hub, hub_source, tmp_path):
    """A user who already ran timm (the same `hf_hub_download`) downloads nothing."""
    import huggingface_hub

    data = small_checkpoint(tmp_path)
    hub.add(HUB_PATH, data)
    huggingface_hub.hf_hub_download(REPO, "model.safetensors")  # what timm does
    hub.requests.clear()
    assert fetch_verified(hub_source)[1] == sha256(data)
    assert hub.gets() == []


def test_a_bit_flipped_hub_file_is_deleted_and_the_error_names_both_hashes(
        hub, hub_source, tmp_path):
    data = small_checkpoint(tmp_path)
    hub.add(HUB_PATH, data, mode="flipped")
    with pytest.raises(CorruptedWeightsError) as error:
        fetch(hub_source)
    message = str(error.value)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    assert f"{REPO}/model.safetensors" in message
    assert f"the Hub reports {sha256(data)}" in message
    assert f"its sha256 is {sha256(bytes(flipped))}" in message
    assert hub_cache_files(tmp_path) == []
    hub.add(HUB_PATH, data)  # the next load downloads it afresh
    assert fetch_verified(hub_source)[1] == sha256(data)


def test_a_truncated_hub_body_without_length_fails_the_hash_check(hub, hub_source, tmp_path):
    data = small_checkpoint(tmp_path)
    hub.add(HUB_PATH, data, mode="truncated_no_length")
    with pytest.raises(CorruptedWeightsError, match=f"the Hub reports {sha256(data)}"):
        fetch(hub_source)
    assert hub_cache_files(tmp_path) == []


@pytest.mark.slow  # huggingface_hub retries a dropped transfer 5 times, a second apart
def test_a_hub_transfer_cut_short_of_its_length_caches_nothing(hub, hub_source, tmp_path):
    hub.add(HUB_PATH, small_checkpoint(tmp_path), mode="truncated")
    with pytest.raises(WeightsDownloadError, match="Could not download"):
        fetch(hub_source)
    assert hub_cache_files(tmp_path) == []


def test_a_hub_that_does_not_answer_fails_within_the_timeout(hub, hub_source, tmp_path,
                                                             monkeypatch):
    monkeypatch.setenv("KERAS_SENET_DOWNLOAD_TIMEOUT", "2")
    hub.add(HUB_PATH, small_checkpoint(tmp_path), mode="stall_head")
    start = time.monotonic()
    with pytest.raises(WeightsDownloadError, match="hf download"):
        fetch(hub_source)
    assert time.monotonic() - start < 5


@pytest.mark.slow
def test_a_hub_transfer_that_stalls_fails_with_a_clear_error(hub, hub_source, tmp_path,
                                                             monkeypatch):
    """huggingface_hub resumes a stalled transfer up to 5 times, each waiting the timeout:
    the error comes within 6 x (timeout + 1 s)."""
    monkeypatch.setenv("KERAS_SENET_DOWNLOAD_TIMEOUT", "1")
    hub.add(HUB_PATH, small_checkpoint(tmp_path), mode="stall_body")
    start = time.monotonic()
    with pytest.raises(WeightsDownloadError, match="Could not download"):
        fetch(hub_source)
    assert time.monotonic() - start < 6 * (1 + 1) + 3
    assert hub_cache_files(tmp_path) == []


def test_the_hf_token_is_sent(hub, hub_source, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_local_test_token")
    hub.add(HUB_PATH, small_checkpoint(tmp_path))
    fetch(hub_source)
    assert {headers.get("authorization") for _, _, headers in hub.requests} == {
        "Bearer hf_local_test_token"}


def test_offline_the_cached_hub_file_is_used_and_still_checked(hub, hub_source, tmp_path,
                                                               monkeypatch):
    from huggingface_hub import constants

    data = small_checkpoint(tmp_path)
    hub.add(HUB_PATH, data)
    path = fetch(hub_source)
    hub.requests.clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert fetch_verified(hub_source) == (path, sha256(data))
    assert hub.requests == []

    blob = os.path.realpath(path)
    with open(blob, "r+b") as f:  # the file a user copied in is damaged
        f.seek(100)
        f.write(b"\0\0\0\0")
    with pytest.raises(CorruptedWeightsError) as error:
        fetch(hub_source)
    assert f"the Hub reports {sha256(data)}" in str(error.value)
    assert f"its sha256 is {hashlib.sha256(open(tmp_path / 'small0.safetensors', 'rb').read()).hexdigest()}" not in str(error.value)
    assert not os.path.exists(blob) and not os.path.lexists(path)


def test_offline_without_the_file_the_error_says_how_to_get_it(hub, hub_source, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsDownloadError) as error:
        fetch(hub_source)
    assert f"hf download {REPO} model.safetensors" in str(error.value)
    assert hub.requests == []


def test_every_hugging_face_row_is_verified_against_the_hub():
    """No row loads unverified: Hub rows carry their repository, the others a sha256."""
    rows = [s for name in registry.list_models() for s in registry.sources_for(name)]
    hub_rows = [s for s in rows if s.url.startswith(HF_HUB)]
    assert len(hub_rows) >= 20  # timm's SE / SK checkpoints on the Hub
    assert all(s.hub_repo == f"timm/{s.full_name}" for s in hub_rows)
    assert all(s.sha256 for s in rows if s.hub_repo is None)
    with pytest.raises(ValueError, match="no sha256"):
        WeightSource("x", "y", url="https://example.invalid/x.pth", file_name="x.pth")


# --- `.pth` release rows (plain URLs) ---------------------------------------------------

def pth_row(server, data, name="seresnet18"):
    file_name = f"{name}-{sha256(data)[:8]}.pth"
    return pth_source("seresnet18", "local_in1k", f"{server.endpoint}/files/{file_name}")


def test_a_release_file_is_checked_against_its_sha256_prefix(hub, tmp_path):
    data = small_checkpoint(tmp_path)
    good = pth_row(hub, data)
    hub.add(f"files/{good.file_name}", data)
    assert fetch_verified(good) == (os.path.join(cache_dir(), good.file_name),
                                            sha256(data))
    bad = pth_source("seresnet18", "local_in1k", f"{hub.endpoint}/files/seresnet18-00000000.pth")
    hub.add(f"files/{bad.file_name}", data)
    with pytest.raises(CorruptedWeightsError, match=f"its sha256 is {sha256(data)}"):
        fetch(bad)
    assert keras_cache_files() == [good.file_name]


@pytest.mark.parametrize("mode", ["truncated", "truncated_no_length", "flipped"])
def test_a_damaged_release_download_caches_nothing(hub, tmp_path, mode):
    data = small_checkpoint(tmp_path)
    source = pth_row(hub, data)
    hub.add(f"files/{source.file_name}", data, mode=mode)
    expected = WeightsDownloadError if mode == "truncated" else CorruptedWeightsError
    with pytest.raises(expected):
        fetch(source)
    assert keras_cache_files() == []


def test_a_stalled_release_server_fails_within_the_timeout(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SENET_DOWNLOAD_TIMEOUT", "2")
    data = small_checkpoint(tmp_path)
    source = pth_row(hub, data)
    hub.add(f"files/{source.file_name}", data, mode="stall_body")
    start = time.monotonic()
    with pytest.raises(WeightsDownloadError, match="sent nothing for 2 s after 10 bytes"):
        fetch(source)
    assert time.monotonic() - start < 4
    assert keras_cache_files() == []


def test_a_bad_timeout_setting_is_named(monkeypatch):
    monkeypatch.setenv("KERAS_SENET_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="KERAS_SENET_DOWNLOAD_TIMEOUT='soon'"):
        download_timeout()


def test_without_network_the_error_says_where_to_put_the_file(tmp_path):
    source = pth_source("seresnet18", "local_in1k", "http://127.0.0.1:9/seresnet18-0badc0de.pth")
    with pytest.raises(WeightsDownloadError) as error:
        fetch(source)
    assert f"put it at {os.path.join(cache_dir(), source.file_name)}" in str(error.value)
    assert keras_cache_files() == []


def test_a_file_put_in_the_cache_by_hand_is_used(tmp_path):
    data = small_checkpoint(tmp_path)
    source = pth_source("seresnet18", "local_in1k",
                        f"http://127.0.0.1:9/seresnet18-{sha256(data)[:8]}.pth")
    os.makedirs(cache_dir())
    with open(os.path.join(cache_dir(), source.file_name), "wb") as f:
        f.write(data)
    assert fetch_verified(source)[1] == sha256(data)


def test_a_wrong_file_put_in_the_cache_is_named_not_asked_for_again(tmp_path):
    data, other = small_checkpoint(tmp_path), small_checkpoint(tmp_path, seed=1)
    source = pth_source("seresnet18", "local_in1k",
                        f"http://127.0.0.1:9/seresnet18-{sha256(data)[:8]}.pth")
    target = os.path.join(cache_dir(), source.file_name)
    os.makedirs(cache_dir())
    with open(target, "wb") as f:
        f.write(other)
    with pytest.raises(WeightsDownloadError) as error:
        fetch(source)
    message = str(error.value)
    assert f"has sha256 {sha256(other)}" in message
    assert f"the published one starts with {sha256(data)[:8]}" in message
    assert f"put it at {target}" not in message
    assert not os.path.exists(target)


def killed_runs_staging(target):
    """The staging folder a download of `target` killed mid-transfer leaves (`atomic`'s:
    `.NAME.tmp-*` beside it, with a lock file nobody holds any more)."""
    folder = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.tmp-dead")
    os.makedirs(folder)
    open(os.path.join(folder, atomic.LOCK_NAME), "wb").close()
    with open(os.path.join(folder, "partial"), "wb") as f:
        f.write(b"partial")
    return folder


def test_staging_left_by_killed_runs_is_swept(hub, tmp_path):
    """A download stages beside its file; the next one removes every staging folder whose
    run is gone (of this file or another), and leaves those of runs still downloading."""
    data = small_checkpoint(tmp_path)
    source = pth_row(hub, data)
    hub.add(f"files/{source.file_name}", data)
    root = cache_dir()
    killed_runs_staging(os.path.join(root, source.file_name))
    killed_runs_staging(os.path.join(root, "other.pth"))
    with atomic.staging_dir(os.path.join(root, "another.pth")) as busy:  # a live download
        fetch(source)
        assert sorted(os.listdir(root)) == sorted(
            [os.path.basename(busy.path), ".locks", source.file_name])


CONCURRENT_FETCH = """
import json, os, pathlib, sys
os.environ["KERAS_BACKEND"] = "numpy"
from keras_senet.checkpoints import hf_source, pth_source
from keras_senet.weights.fetch import fetch_verified
kind, url_or_repo, started = sys.argv[1:4]
if kind == "hub":
    source = hf_source("seresnet18", "local_in1k", repo=url_or_repo)
else:
    source = pth_source("seresnet18", "local_in1k", url_or_repo)
pathlib.Path(started, str(os.getpid())).touch()
print(json.dumps(fetch_verified(source)))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["hub", "release"])
def test_two_processes_fetching_at_once_download_once(hub, tmp_path, kind):
    data = small_checkpoint(tmp_path)
    started = tmp_path / "started"
    started.mkdir()
    if kind == "hub":
        hub.add(HUB_PATH, data, mode="slow")
        where = REPO
    else:
        source = pth_row(hub, data)
        hub.add(f"files/{source.file_name}", data, mode="slow")
        where = source.url
    hub.release_after = (started, 2)  # the body starts once both processes are fetching
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf_home")}
    env.pop("HF_TOKEN", None)
    runs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_FETCH, kind, where, str(started)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=240)
        assert run.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0] == results[1]
    path, digest = results[0]
    assert digest == sha256(data) and open(path, "rb").read() == data
    assert len(hub.gets()) == 1


# --- the converted cache -----------------------------------------------------------------

@pytest.fixture
def conversions(monkeypatch):
    """Stands in for the timm -> Keras converter (no torch needed): records each state dict
    it converts and returns its tensors under "keras/<name>"."""
    calls = []

    def convert_reference(model, spec, state_dict):
        calls.append(state_dict)
        return {f"keras/{name}": value for name, value in state_dict.items()}

    monkeypatch.setattr(resolve, "convert_reference", convert_reference)
    return calls


def converted_file(source):
    path = os.path.join(cache_dir(), "converted", f"{source.full_name}.safetensors")
    assert cache.converted_path(source) == path
    return path


def test_the_converted_cache_records_its_source_and_is_reused_for_it(
        hub, hub_source, tmp_path, conversions):
    from keras_senet.weights.checkpoint_io import read_safetensors

    data = small_checkpoint(tmp_path)
    hub.add(HUB_PATH, data)
    first = resolve.pretrained_weights(None, None, hub_source)
    _, metadata = read_safetensors(converted_file(hub_source))
    assert metadata["source_sha256"] == sha256(data)
    again = resolve.pretrained_weights(None, None, hub_source)
    assert len(conversions) == 1  # the second load read the converted file
    np.testing.assert_array_equal(again["keras/fc.weight"], first["keras/fc.weight"])


def test_a_changed_source_is_converted_again(hub, hub_source, tmp_path, conversions):
    hub.add(HUB_PATH, small_checkpoint(tmp_path))
    resolve.pretrained_weights(None, None, hub_source)
    updated = small_checkpoint(tmp_path, seed=1)  # the Hub's file changed (a new commit)
    hub.add(HUB_PATH, updated, commit="fedcba9876543210fedcba9876543210fedcba98")
    tensors = resolve.pretrained_weights(None, None, hub_source)
    assert len(conversions) == 2
    expected = np.frombuffer(updated[-8000:], "float32").reshape(40, 50)
    np.testing.assert_array_equal(tensors["keras/fc.weight"], expected)


def test_a_converted_file_whose_source_is_gone_is_not_used(hub, hub_source, tmp_path,
                                                          conversions, monkeypatch):
    from huggingface_hub import constants

    hub.add(HUB_PATH, small_checkpoint(tmp_path))
    path = fetch(hub_source)
    resolve.pretrained_weights(None, None, hub_source)
    os.remove(os.path.realpath(path))  # the raw file is deleted; the converted one stays
    os.remove(path)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsDownloadError, match="Could not download"):
        resolve.pretrained_weights(None, None, hub_source)
    assert os.path.exists(converted_file(hub_source))  # there, but not trusted alone


def test_a_damaged_converted_file_is_converted_again(hub, hub_source, tmp_path, conversions):
    hub.add(HUB_PATH, small_checkpoint(tmp_path))
    resolve.pretrained_weights(None, None, hub_source)
    converted = converted_file(hub_source)
    with open(converted, "r+b") as f:  # a crash of the disk or of a copy
        f.truncate(os.path.getsize(converted) // 2)
    resolve.pretrained_weights(None, None, hub_source)
    assert len(conversions) == 2
    resolve.pretrained_weights(None, None, hub_source)
    assert len(conversions) == 2


def test_a_conversion_killed_midway_leaves_nothing_trusted(hub, hub_source, tmp_path,
                                                           conversions):
    """A killed run leaves its temporary file (`.NAME.tmp.safetensors`) and no converted
    file; the next run converts, writing that temporary file over and renaming it."""
    hub.add(HUB_PATH, small_checkpoint(tmp_path))
    folder = os.path.dirname(converted_file(hub_source))
    os.makedirs(folder)
    name = os.path.basename(converted_file(hub_source))
    staging = os.path.join(folder, f".{name}.tmp.safetensors")
    with open(staging, "wb") as f:
        f.write(b"half a safetensors file")
    resolve.pretrained_weights(None, None, hub_source)
    assert len(conversions) == 1
    assert sorted(os.listdir(folder)) == [".locks", os.path.basename(converted_file(hub_source))]


def test_cached_weights_are_readable_by_other_users(hub, hub_source, tmp_path, conversions):
    """TF Serving and shared machines read the cache as another user: under umask 022 the
    converted file and the downloaded release are 0644, like any file `open()` makes."""
    old_mask = os.umask(0o022)
    try:
        hub.add(HUB_PATH, small_checkpoint(tmp_path))
        resolve.pretrained_weights(None, None, hub_source)
        data = small_checkpoint(tmp_path, seed=1)
        release = pth_row(hub, data)
        hub.add(f"files/{release.file_name}", data)
        downloaded = fetch(release)
    finally:
        os.umask(old_mask)
    for path in (converted_file(hub_source), downloaded):
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o644), path
