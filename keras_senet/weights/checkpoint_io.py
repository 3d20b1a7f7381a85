"""Read and write checkpoint files with NumPy alone: safetensors, and `.pth` through torch.

safetensors layout: 8-byte little-endian header length N, N bytes of JSON
({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}), then the
raw little-endian tensor bytes.
"""

import json
import os
import struct

import numpy as np

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
    "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read; the message names the file and the fix."""


def read_safetensors(path):
    """Returns ({name: np.ndarray}, metadata dict). bfloat16 tensors become float32."""
    try:
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > os.path.getsize(path):
                raise ValueError("header length exceeds the file size")
            header = json.loads(f.read(header_len))
            data = f.read()
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({e}). Re-download it, or save it "
            "again with `safetensors.torch.save_file(model.state_dict(), path)`.") from e
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if end > len(data):
            raise CheckpointError(f"{path} is truncated: tensor {name!r} ends past the file.")
        raw = data[begin:end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif info["dtype"] in _DTYPES:
            array = np.frombuffer(raw, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        else:
            raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}.")
        tensors[name] = array.reshape(info["shape"]).copy()
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} as safetensors (readable by `safetensors` and by this module)."""
    header, offset, chunks = {}, 0, []
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        if array.dtype not in _CODES:
            array = array.astype(np.float32)
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _CODES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for raw in chunks:
            f.write(raw)


def read_pth(path):
    """Reads a PyTorch state dict with `torch.load(weights_only=True)`.

    torch is optional: without it the error says how to convert the file elsewhere.
    """
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"{path} is a PyTorch .pth checkpoint, which needs torch to read. Either "
            "`pip install torch` (CPU build is enough), or convert it once on a machine with "
            "torch: `keras-senet convert model.pth model.safetensors --model NAME`, or in "
            "Python `safetensors.torch.save_file(torch.load(path), 'model.safetensors')`, "
            "and pass the .safetensors file instead.") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({e}).") from e
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    return {k.removeprefix("module."): v.float().numpy() if v.is_floating_point()
            else v.numpy() for k, v in state.items()}


def read_state_dict(path):
    """Reads a reference (timm / torch) checkpoint by extension: .safetensors or .pth/.pt/.bin."""
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        return read_safetensors(path)[0]
    if path.endswith((".pth", ".pt", ".bin")):
        return read_pth(path)
    raise CheckpointError(
        f"Unsupported checkpoint extension: {path}. Expected .safetensors, .pth, "
        ".weights.h5 or .keras.")
