"""Read and write checkpoint files: safetensors with the `safetensors` package (NumPy API),
and `.pth` through torch when it is installed.

Every file that cannot be read raises `CheckpointError`, whose message names the file and
the problem: missing, a directory, empty, text instead of a checkpoint, a malformed
safetensors header, or a `.pth` that is not a state dict of tensors.
"""

import os

import numpy as np
import safetensors
from safetensors import numpy as safetensors_numpy

from keras_senet import atomic

# Arrays of other dtypes are written as float32; safetensors also knows these by name.
_WRITABLE = {np.dtype(t) for t in (
    "float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")}
# timm's `load_state_dict(use_ema=True)` looks for the state dict under these keys, in order.
WRAPPER_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")
_PTH_FIX = ("Save the weights alone: `torch.save(model.state_dict(), path)`, or "
            "`safetensors.torch.save_file(model.state_dict(), 'model.safetensors')`.")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read; the message names the file and the fix."""


def check_file(path):
    """Raises `CheckpointError` unless `path` is an existing, non-empty regular file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"Checkpoint file not found: {path!r} does not exist (checked "
                              f"from the working directory {os.getcwd()!r}).")
    if os.path.isdir(path):
        raise CheckpointError(f"{path!r} is a directory, not a checkpoint file: pass the path "
                              "of the .safetensors / .pth / .weights.h5 / .keras file in it.")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path!r} is empty (0 bytes): the download or copy that made it "
                              "did not finish. Delete it and fetch the file again.")


def _text_hint(path):
    """' It is a text file ...' when `path` starts with printable text, else ''."""
    with open(path, "rb") as f:
        head = f.read(64)
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return ""
    if not all(c.isprintable() or c in "\t\r\n" for c in text):
        return ""
    if text.startswith("version https://git-lfs"):
        return (" It is a Git LFS pointer, not the file itself: run `git lfs pull` in the "
                "repository it came from.")
    if text.lstrip().startswith("<"):
        return (" It is an HTML / XML page (an error or login page saved in place of the "
                "file?): download the file itself.")
    return f" It is a text file starting with {text.splitlines()[0][:40]!r}."


def read_safetensors(path):
    """Returns ({name: np.ndarray}, metadata dict). bfloat16 tensors become float32.

    Raises:
        CheckpointError: the file is missing, empty, or not a valid safetensors file (its
            header is not a JSON object of tensors with dtype, shape and data_offsets that
            match the bytes after it).
    """
    path = os.fspath(path)
    check_file(path)
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = dict(f.metadata() or {})
            names = list(f.keys())
            bf16 = [name for name in names if f.get_slice(name).get_dtype() == "BF16"]
            tensors = {name: f.get_tensor(name) for name in names if name not in bf16}
        if bf16:
            tensors.update(_read_bfloat16(path, bf16))
    except safetensors.SafetensorError as e:
        raise CheckpointError(
            f"{path!r} is not a valid safetensors file: {e}.{_text_hint(path)} Re-download "
            "it, or save it again with `safetensors.torch.save_file(model.state_dict(), "
            "path)`.") from None
    except TypeError as e:  # a dtype NumPy has no type for (float8 ...)
        raise CheckpointError(f"{path!r} holds a tensor NumPy cannot represent ({e}): save it "
                              "as float32, float16 or bfloat16.") from None
    return tensors, metadata


def _read_bfloat16(path, names):
    """{name: float32 array} of the BF16 tensors `names` (NumPy has no bfloat16)."""
    with open(path, "rb") as f:
        entries = dict(safetensors.deserialize(f.read()))
    tensors = {}
    for name in names:
        bits = np.frombuffer(entries[name]["data"], dtype="<u2").astype(np.uint32) << 16
        tensors[name] = bits.view(np.float32).reshape(entries[name]["shape"])
    return tensors


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} as safetensors, with `metadata` ({str: str}) in its header.

    Atomically: the file is written beside `path` as `.NAME.tmp.safetensors` and renamed
    over it once complete (`atomic.replacing`), so a killed writer leaves the previous file
    or none, never half of one, and the next writer overwrites its leftover. One process
    writes a given `path` at a time (callers that share one hold a lock).
    """
    arrays = {}
    for name, value in tensors.items():
        array = np.asarray(value)
        if array.dtype not in _WRITABLE:
            array = array.astype(np.float32)
        arrays[name] = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<")))
    metadata = {str(k): str(v) for k, v in (metadata or {}).items()} or None
    with atomic.replacing(path, suffix=".safetensors", unique=False) as tmp:
        safetensors_numpy.save_file(arrays, tmp, metadata=metadata)


def read_pth(path):
    """Reads a PyTorch state dict with `torch.load(weights_only=True)`.

    A training checkpoint that wraps it is unwrapped as timm's `load_state_dict` does: the
    first of WRAPPER_KEYS present ("state_dict_ema" first, as timm prefers EMA weights),
    and a `module.` prefix (DataParallel) is dropped. torch is optional: without it the error
    says how to convert the file elsewhere.

    Raises:
        CheckpointError: torch is missing, the file is not a torch checkpoint, or it holds
            something other than {name: tensor} (the message names the first such key).
    """
    path = os.fspath(path)
    check_file(path)
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
    except Exception as e:  # noqa: BLE001 (torch raises many types for a bad file)
        raise CheckpointError(
            f"{path!r} is not a readable PyTorch checkpoint: {first_line(e)}."
            f"{_text_hint(path)} If it holds more than tensors (optimizer, argparse "
            f"arguments), {_PTH_FIX[0].lower()}{_PTH_FIX[1:]}") from None
    return _tensors_of(path, _unwrap(path, state), torch)


def _unwrap(path, state):
    if not isinstance(state, dict):
        raise CheckpointError(f"{path!r} holds a {type(state).__name__}, not a state dict "
                              f"({{name: tensor}}). {_PTH_FIX}")
    for key in WRAPPER_KEYS:
        if isinstance(state.get(key), dict):
            return state[key]
    return state


def _tensors_of(path, state, torch):
    arrays = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{path!r} is not a state dict of tensors: entry {key!r} is a "
                f"{type(value).__name__} ({_short(value)}), not a tensor. Known wrappers "
                f"{list(WRAPPER_KEYS)} were not found. {_PTH_FIX}")
        value = value.detach().cpu()
        arrays[str(key).removeprefix("module.")] = (
            value.float().numpy() if value.is_floating_point() else value.numpy())
    return arrays


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def first_line(error):
    """The first line of an exception's message, or its type's name when it has none."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else "") or type(error).__name__


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
