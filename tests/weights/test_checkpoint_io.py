"""Reading and writing checkpoints (safetensors, .pth), and the errors for unreadable files:
each names the file and the problem."""

import json
import struct

import numpy as np
import pytest

import keras_senet
from keras_senet.weights.checkpoint_io import (
    CheckpointError,
    read_pth,
    read_safetensors,
    read_state_dict,
    write_safetensors,
)


def safetensors_bytes(header, data=b""):
    """A safetensors file made by hand: 8-byte little-endian header length, JSON, data."""
    header_json = json.dumps(header).encode()
    return struct.pack("<Q", len(header_json)) + header_json + data


def error_of(read, path):
    """The message of the CheckpointError that `read(path)` raises; it must name `path`."""
    with pytest.raises(CheckpointError) as info:
        read(path)
    message = str(info.value)
    assert str(path) in message
    return message


# Round trips.

def test_round_trip_keeps_names_shapes_dtypes_and_metadata(tmp_path):
    tensors = {"a.weight": np.arange(24, dtype="float32").reshape(2, 3, 4),
               "a.num_batches_tracked": np.array(7, dtype="int64"),
               "b": np.ones((5,), "float16"),
               "mask": np.array([True, False, True])}
    path = tmp_path / "x.safetensors"
    write_safetensors(path, tensors, {"format": "test"})
    read, metadata = read_safetensors(path)
    assert metadata == {"format": "test"}
    assert set(read) == set(tensors)
    for name, value in tensors.items():
        assert read[name].dtype == value.dtype
        np.testing.assert_array_equal(read[name], value)


def test_a_write_that_fails_midway_leaves_the_previous_file(tmp_path, monkeypatch):
    """The file appears complete or not at all: a writer that dies (here, a full disk)
    leaves the previous version and no temporary file."""
    from safetensors import numpy as safetensors_numpy

    path = tmp_path / "x.safetensors"
    write_safetensors(path, {"w": np.zeros((3,), "float32")})

    def disk_full(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors_numpy, "save_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_safetensors(path, {"w": np.ones((3,), "float32")})
    np.testing.assert_array_equal(read_safetensors(path)[0]["w"], np.zeros((3,), "float32"))
    assert [p.name for p in tmp_path.iterdir()] == ["x.safetensors"]


def test_reads_files_written_by_the_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    tensors = {"conv.weight": np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype("float32")}
    safetensors_numpy.save_file(tensors, tmp_path / "ref.safetensors")
    np.testing.assert_array_equal(read_state_dict(tmp_path / "ref.safetensors")["conv.weight"],
                                  tensors["conv.weight"])


def test_bfloat16_tensors_become_float32(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    value = torch.tensor([1.5, -2.25, 3.0], dtype=torch.bfloat16)
    safetensors_torch.save_file({"w": value}, tmp_path / "bf16.safetensors")
    read = read_state_dict(tmp_path / "bf16.safetensors")["w"]
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, [1.5, -2.25, 3.0])


# Malformed safetensors files. The problem after "not a valid safetensors file:" is the
# safetensors package's own wording.

WEIGHT = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("content, problem", [
    pytest.param(safetensors_bytes([WEIGHT], b"\0" * 8), "invalid JSON in header",
                 id="header-is-a-list-not-a-dict"),
    pytest.param(safetensors_bytes({"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8),
                 "missing field `data_offsets`", id="tensor-without-data-offsets"),
    pytest.param(safetensors_bytes({"w": {**WEIGHT, "shape": [3]}}, b"\0" * 8),
                 "invalid shape, data type, or offset for tensor",
                 id="shape-does-not-match-byte-count"),
    pytest.param(safetensors_bytes({"w": WEIGHT}, b"\0" * 4),
                 "incomplete metadata, file not fully covered", id="truncated-data"),
    pytest.param(b"\x00garbage", "header too large", id="binary-garbage"),
])
def test_malformed_safetensors_file_names_the_file_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    message = error_of(read_safetensors, path)
    assert "is not a valid safetensors file" in message
    assert problem in message


def test_truncated_download_names_the_file_and_says_to_download_again(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"w": np.zeros((1000,), "float32")})
    path.write_bytes(path.read_bytes()[:-100])
    message = error_of(read_state_dict, path)
    assert "file not fully covered" in message
    assert "Re-download it" in message


@pytest.mark.parametrize("text, hint", [
    pytest.param("hello world\n", "It is a text file starting with 'hello world'", id="text"),
    pytest.param("<html><head><title>404 Not Found</title></head></html>\n",
                 "It is an HTML / XML page", id="html-page"),
    pytest.param("version https://git-lfs.github.com/spec/v1\n"
                 "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
                 "size 112400000\n", "run `git lfs pull`", id="git-lfs-pointer"),
])
def test_text_saved_as_safetensors_says_what_the_text_is(tmp_path, text, hint):
    path = tmp_path / "model.safetensors"
    path.write_text(text)
    message = error_of(read_state_dict, path)
    assert "is not a valid safetensors file" in message
    assert hint in message


# Paths that are not a file, for both readers (checked before torch is imported).

@pytest.mark.parametrize("read, name", [(read_safetensors, "model.safetensors"),
                                        (read_pth, "model.pth")])
def test_missing_file_says_not_found(tmp_path, read, name):
    assert "Checkpoint file not found" in error_of(read, tmp_path / name)


@pytest.mark.parametrize("read", [read_safetensors, read_pth])
def test_directory_says_it_is_a_directory(tmp_path, read):
    assert "is a directory, not a checkpoint file" in error_of(read, tmp_path)


@pytest.mark.parametrize("read, name", [(read_safetensors, "model.safetensors"),
                                        (read_pth, "model.pth")])
def test_empty_file_says_it_is_empty(tmp_path, read, name):
    path = tmp_path / name
    path.write_bytes(b"")
    assert "is empty (0 bytes)" in error_of(read, path)


@pytest.mark.parametrize("make_path", [
    pytest.param(lambda tmp_path: tmp_path / "missing.safetensors", id="missing-file"),
    pytest.param(lambda tmp_path: tmp_path, id="directory"),
])
def test_create_model_with_a_bad_weights_path_raises_the_same_errors(tmp_path, make_path):
    path = make_path(tmp_path)
    with pytest.raises(ValueError) as info:
        keras_senet.create_model("se_resnet20_cifar", weights=str(path))
    message = str(info.value)
    assert isinstance(info.value, CheckpointError)
    assert str(path) in message
    assert ("not found" if path.suffix else "is a directory") in message
    assert "Received: weights=" not in message  # not the generic `weights` message


# .pth checkpoints.

UNWRAP = [
    pytest.param(lambda sd, other: {"state_dict": sd, "epoch": 90, "arch": "seresnet50"},
                 id="state_dict"),
    pytest.param(lambda sd, other: {"model": sd, "optimizer": {"param_groups": []}},
                 id="model"),
    pytest.param(lambda sd, other: {"state_dict": other, "state_dict_ema": sd},
                 id="state_dict_ema-preferred-as-timm"),
    pytest.param(lambda sd, other: {f"module.{k}": v for k, v in sd.items()},
                 id="module-prefix-of-DataParallel"),
]


@pytest.mark.parametrize("wrap", UNWRAP)
def test_pth_training_checkpoint_is_unwrapped_like_timm(tmp_path, wrap):
    torch = pytest.importorskip("torch")
    weights = {"conv.weight": torch.ones(2, 3), "bn.num_batches_tracked": torch.tensor(5)}
    other = {k: torch.zeros_like(v) for k, v in weights.items()}
    path = tmp_path / "checkpoint.pth"
    torch.save(wrap(weights, other), path)
    read = read_pth(path)
    assert set(read) == {"conv.weight", "bn.num_batches_tracked"}
    np.testing.assert_array_equal(read["conv.weight"], np.ones((2, 3), "float32"))
    assert read["bn.num_batches_tracked"] == 5


def test_pth_with_a_non_tensor_entry_names_the_key(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "checkpoint.pth"
    torch.save({"conv.weight": torch.ones(2), "version": 3}, path)
    message = error_of(read_pth, path)
    assert "is not a state dict of tensors: entry 'version' is a int (3)" in message


@pytest.mark.parametrize("make, kind", [
    pytest.param(lambda torch: [torch.ones(2)], "list", id="list"),
    pytest.param(lambda torch: torch.ones(2), "Tensor", id="tensor-alone"),
])
def test_pth_holding_something_else_than_a_dict_says_not_a_state_dict(tmp_path, make, kind):
    torch = pytest.importorskip("torch")
    path = tmp_path / "checkpoint.pth"
    torch.save(make(torch), path)
    assert f"holds a {kind}, not a state dict" in error_of(read_pth, path)


def test_text_file_named_pth_names_the_file(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "model.pth"
    path.write_text("hello world\n")
    message = error_of(read_state_dict, path)
    assert "is not a readable PyTorch checkpoint" in message
    assert "It is a text file starting with 'hello world'" in message


def test_pth_without_torch_says_how_to_convert(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    path = tmp_path / "se_resnet50-ce0d4300.pth"
    path.write_bytes(b"PK")
    assert "keras-senet convert" in error_of(read_state_dict, path)


def test_unknown_extension(tmp_path):
    assert "Unsupported checkpoint extension" in error_of(read_state_dict, tmp_path / "model.npz")
