"""safetensors read / write with NumPy alone, and the errors for unreadable files."""

import numpy as np
import pytest

from keras_senet.weights.checkpoint_io import (
    CheckpointError,
    read_safetensors,
    read_state_dict,
    write_safetensors,
)


def test_round_trip_keeps_names_shapes_dtypes_and_metadata(tmp_path):
    tensors = {"a.weight": np.arange(24, dtype="float32").reshape(2, 3, 4),
               "a.num_batches_tracked": np.array(7, dtype="int64"),
               "b": np.ones((5,), "float16")}
    path = tmp_path / "x.safetensors"
    write_safetensors(path, tensors, {"format": "test"})
    read, metadata = read_safetensors(path)
    assert metadata == {"format": "test"}
    assert set(read) == set(tensors)
    for name, value in tensors.items():
        assert read[name].dtype == value.dtype
        np.testing.assert_array_equal(read[name], value)


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


def test_truncated_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"w": np.zeros((1000,), "float32")})
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        read_state_dict(path)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_state_dict(path)


def test_pth_without_torch_says_how_to_convert(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    path = tmp_path / "se_resnet50-ce0d4300.pth"
    path.write_bytes(b"PK")
    with pytest.raises(CheckpointError, match="keras-senet convert"):
        read_state_dict(path)


def test_unknown_extension(tmp_path):
    with pytest.raises(CheckpointError, match="Unsupported checkpoint extension"):
        read_state_dict(tmp_path / "model.npz")
