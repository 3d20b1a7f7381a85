"""A training run directory as one .tar file, to move a run between machines: everything
resuming or reporting it needs, nothing it can rebuild.

    pack("runs/resnet110_cifar", "back/resnet110_cifar.tar")    # on the GPU host
    unpack("back/resnet110_cifar.tar", "runs/resnet110_cifar")  # on the next; then --resume

A bundle holds state.json, every `.safetensors` of the run (the phases' and the final
weights), results.json, val_predictions.npz, curves.png and classes.txt where they exist,
and, while the run is unfinished (no results.json yet), the checkpoint state.json names
(weights and optimiser). Left out: model.keras (final.safetensors holds its weights) and the
TensorBoard logs.
"""

import os
import shutil
import tarfile

from keras_senet.training import STATE_FILE, read_state

REPORTS = ("results.json", "val_predictions.npz", "curves.png", "classes.txt")


def bundle_names(run_dir):
    """The files of `run_dir` that go into its bundle, state.json first."""
    state = read_state(run_dir)
    if state is None:
        raise ValueError(f"{run_dir} holds no {STATE_FILE}: not a training run directory, or "
                         "one whose first epoch has not finished.")
    present = set(os.listdir(run_dir))
    names = [STATE_FILE]
    names += sorted(n for n in present if n.endswith(".safetensors") and ".tmp" not in n)
    names += [n for n in REPORTS if n in present]
    if "results.json" not in present and state["checkpoint"]:
        names.append(state["checkpoint"])
    return names


def pack(run_dir, path, max_bytes=None):
    """Writes the bundle of `run_dir` to `path` (a new file, renamed into place).

    With `max_bytes`, a bundle larger than that is deleted and refused with an error.
    Returns `path`.
    """
    tmp = f"{path}.tmp"
    with tarfile.open(tmp, "w") as tar:
        for name in bundle_names(run_dir):
            tar.add(os.path.join(run_dir, name), arcname=name)
    size = os.path.getsize(tmp)
    if max_bytes is not None and size > max_bytes:
        os.remove(tmp)
        raise ValueError(f"the bundle of {run_dir} is {size / 2**20:.1f} MiB, over the "
                         f"{max_bytes / 2**20:.0f} MiB allowed; train a smaller network or "
                         "copy the run directory another way.")
    os.replace(tmp, path)
    return path


def unpack(path, run_dir):
    """Restores a bundle into `run_dir`, which must not hold a run already."""
    if read_state(run_dir) is not None:
        raise ValueError(f"{run_dir} already holds a run; unpack {path} into a new folder.")
    try:
        tar = tarfile.open(path)
    except (tarfile.TarError, OSError) as e:
        raise ValueError(f"{path} is not a readable run bundle ({e}); bring it back again.") \
            from None
    with tar:
        members = tar.getmembers()
        for member in members:
            if not member.isfile() or os.path.basename(member.name) != member.name:
                raise ValueError(f"{path} is not a run bundle: it holds {member.name!r}.")
        if STATE_FILE not in {m.name for m in members}:
            raise ValueError(f"{path} is not a run bundle: it holds no {STATE_FILE}.")
        os.makedirs(run_dir, exist_ok=True)
        # state.json last: an unpack cut short leaves no run that --resume would trust.
        for member in sorted(members, key=lambda m: m.name == STATE_FILE):
            with tar.extractfile(member) as src, open(os.path.join(run_dir, member.name),
                                                      "wb") as dst:
                shutil.copyfileobj(src, dst)
    return run_dir
