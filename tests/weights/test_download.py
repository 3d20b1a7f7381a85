"""The pretrained download path, for real, against an HTTP server on 127.0.0.1.

A generated timm checkpoint is served locally and the registry's source for `seresnet18` is
pointed at it: first load downloads, verifies, converts and caches; the second load needs no
network; a corrupted file or a server dying mid-transfer leaves nothing in the cache; and no
network gives an error that says where to put the file by hand.
"""

import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

import keras_senet
from keras_senet.weights import sources
from keras_senet.weights.checkpoint_io import write_safetensors
from keras_senet.weights.resolve import WeightsDownloadError, cache_dir
from keras_senet.weights.sources import EvalTransform, WeightSource

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")


class CheckpointServer:
    """Serves `files` {name: bytes}; `truncate` cuts a response short and drops the link."""

    def __init__(self, files):
        self.files, self.requests, self.truncate = files, [], False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 3] if server.truncate else body)
                if server.truncate:
                    self.wfile.flush()
                    self.connection.close()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    reference = timm.create_model("seresnet18").eval()
    path = tmp_path_factory.mktemp("ckpt") / "model.safetensors"
    write_safetensors(path, {k: v.numpy() for k, v in reference.state_dict().items()})
    data = path.read_bytes()
    return reference, data, hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(checkpoint):
    _, data, _ = checkpoint
    server = CheckpointServer({"model.safetensors": data, "corrupted.safetensors":
                               data[:-4] + b"oops"})
    yield server
    server.stop()


def point_registry_at(monkeypatch, url, sha256):
    source = WeightSource("seresnet18", "local_in1k", url=url,
                          file_name="seresnet18.local_in1k.safetensors", sha256=sha256,
                          transform=EvalTransform(crop_pct=0.9, interpolation="bicubic"))
    monkeypatch.setitem(sources.SOURCES, "seresnet18", [source])
    return source


def cache_contents():
    root = cache_dir()
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


def test_first_load_downloads_converts_and_caches_second_needs_no_network(
        server, checkpoint, monkeypatch):
    reference, _, sha256 = checkpoint
    point_registry_at(monkeypatch, server.url("model.safetensors"), sha256)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")

    model = keras_senet.create_model("seresnet18", weights="imagenet",
                                     classifier_activation=None)
    assert server.requests == ["/model.safetensors"]
    assert cache_contents() == ["converted/seresnet18.local_in1k.safetensors",
                                "seresnet18.local_in1k.safetensors"]
    with torch.no_grad():
        expected = reference(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
    assert model.pretrained_cfg.transform.crop_pct == 0.9  # the evaluation transform travels

    server.stop()
    os.remove(os.path.join(cache_dir(), "seresnet18.local_in1k.safetensors"))
    again = keras_senet.create_model("seresnet18.local_in1k", weights="imagenet",
                                     include_top=False, input_shape=(None, None, 3))
    assert len(server.requests) == 1  # served from the converted cache
    trunk = keras_senet.create_model("seresnet18", weights="local_in1k", features_only=True)
    np.testing.assert_allclose(again.predict(x, verbose=0), trunk.predict(x, verbose=0)[-1],
                               atol=1e-6)


def test_corrupted_download_fails_the_hash_check_and_caches_nothing(server, checkpoint,
                                                                   monkeypatch):
    _, _, sha256 = checkpoint
    point_registry_at(monkeypatch, server.url("corrupted.safetensors"), sha256)
    with pytest.raises(ValueError, match="corrupted"):
        keras_senet.create_model("seresnet18", weights="imagenet")
    assert cache_contents() == []


def test_a_server_dying_mid_transfer_leaves_no_partial_file(server, checkpoint, monkeypatch):
    _, _, sha256 = checkpoint
    point_registry_at(monkeypatch, server.url("model.safetensors"), sha256)
    server.truncate = True
    with pytest.raises(WeightsDownloadError):
        keras_senet.create_model("seresnet18", weights="imagenet")
    assert cache_contents() == []


def test_without_network_the_error_says_where_to_put_the_file(monkeypatch):
    point_registry_at(monkeypatch, "http://127.0.0.1:9/model.safetensors", None)
    with pytest.raises(WeightsDownloadError) as error:
        keras_senet.create_model("seresnet18", weights="imagenet")
    expected = os.path.join(cache_dir(), "seresnet18.local_in1k.safetensors")
    assert f"put it at {expected}" in str(error.value)
    assert cache_contents() == []


def test_a_file_put_in_the_cache_by_hand_is_used(checkpoint, monkeypatch):
    _, data, sha256 = checkpoint
    point_registry_at(monkeypatch, "http://127.0.0.1:9/model.safetensors", sha256)
    os.makedirs(cache_dir(), exist_ok=True)
    with open(os.path.join(cache_dir(), "seresnet18.local_in1k.safetensors"), "wb") as f:
        f.write(data)
    model = keras_senet.create_model("seresnet18", weights="imagenet")
    assert model.pretrained_cfg.full_name == "seresnet18.local_in1k"


def test_legacy_release_files_are_checked_against_their_sha256_prefix(server, checkpoint,
                                                                       monkeypatch, tmp_path):
    from keras_senet.weights.sources import pth_source

    _, data, sha256 = checkpoint
    source = pth_source("seresnet18", "local_in1k", server.url(f"seresnet18-{sha256[:8]}.pth"))
    assert source.sha256 == sha256[:8] and source.file_format == "pth"
    bad = pth_source("seresnet18", "local_in1k", server.url("seresnet18-00000000.pth"))
    server.files[bad.file_name] = data
    monkeypatch.setitem(sources.SOURCES, "seresnet18", [bad])
    with pytest.raises(ValueError, match="corrupted"):
        keras_senet.create_model("seresnet18", weights="imagenet")
