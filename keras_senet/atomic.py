"""Publishing files and directories so that readers see all of them or nothing.

Everything keras_senet leaves for others (SavedModels for TF Serving, TFLite / ONNX files,
cached weights, a run's `model.keras`) is written under a temporary name beside its
destination and renamed over it once complete, so a process killed at any moment leaves no
half-written file under the real name. Two things the `tempfile` module does not do:

- Modes. `mkstemp` / `mkdtemp` create 0600 files and 0700 directories; a published file
  gets what `open()` / `os.makedirs` would have given it, 0666 / 0777 less the umask
  (0644 / 0755 under the usual 022), so another user (TF Serving's) can read it.
- Leftovers. A killed process cannot clean up; `staging_dir` marks each staging directory
  with a lock held while its owner lives, and the next `staging_dir` beside it removes the
  ones whose owner is gone.

    with replacing("run/model.keras", suffix=".keras", unique=False) as tmp:
        model.save(tmp)                      # run/model.keras appears complete, 0644

    with staging_dir("serving/m/1", temporary_files=True) as stage:
        write_everything_into(stage.path)    # TensorFlow's temporary files go in there too
        stage.publish(source)                # a directory inside stage.path -> serving/m/1

    with staging_dir("model.tflite") as stage:
        stage.publish_bytes(content, overwrite=True)
"""

import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time

LOCK_NAME = ".keras_senet_staging.lock"
# A staging directory without its lock file is stale after this long (its owner died
# between creating it and locking it, a matter of microseconds).
UNLOCKED_GRACE_S = 60.0


def current_umask():
    """The process umask, read without changing it where Linux allows (/proc/self/status)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (the only portable way to read it)
    os.umask(mask)
    return mask


def file_mode():
    """What `open(path, "w")` gives a new file: 0o666 less the umask."""
    return 0o666 & ~current_umask()


def dir_mode():
    """What `os.mkdir` gives a new directory: 0o777 less the umask."""
    return 0o777 & ~current_umask()


def apply_default_modes(path):
    """Gives `path` (a file, or a directory and everything in it) the umask's default modes.

    Files that are executable by their owner keep execute bits (directory mode); symbolic
    links are left alone.
    """
    files, dirs = file_mode(), dir_mode()

    def fix(p):
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            return
        executable = stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR
        os.chmod(p, dirs if executable else files)

    fix(path)
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                fix(os.path.join(root, name))


@contextlib.contextmanager
def replacing(path, suffix="", unique=True):
    """Yields a temporary path beside `path`; when the block ends without an error, the file
    written there gets the umask's mode and is renamed over `path`. On an error it is removed.

    Args:
        path: the destination file.
        suffix: the temporary name's ending, for writers that insist on one (".keras").
        unique: a fresh name per call (safe with concurrent writers of `path`); False reuses
            `.NAME.tmp<suffix>`, so a killed writer's leftover is overwritten by the next
            one instead of accumulating (for a destination with a single writer).
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    prefix = f".{os.path.basename(path)}.tmp"
    if unique:
        fd, tmp = tempfile.mkstemp(prefix=prefix + "-", suffix=suffix, dir=parent)
        os.close(fd)
    else:
        tmp = os.path.join(parent, prefix + suffix)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    """Writes `data` to `path` atomically (see `replacing`)."""
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


class Staging:
    """A locked private directory beside a destination; see `staging_dir`."""

    def __init__(self, path, target):
        self.path = path
        self.target = target

    def publish(self, source, overwrite=False):
        """Renames `source` (inside `self.path`) to the target, with the umask's modes.

        Args:
            source: a file or directory inside `self.path`.
            overwrite: replace an existing target: it is moved into the staging directory
                (removed with it) and `source` takes its place. Without it only an empty
                directory is replaced (there is nothing in it to lose); any other target,
                which appeared while `source` was being written, is a FileExistsError.
        """
        apply_default_modes(source)
        if not os.path.lexists(self.target):
            os.rename(source, self.target)
            return
        empty_dir = (os.path.isdir(self.target) and not os.path.islink(self.target)
                     and not os.listdir(self.target))
        if not (overwrite or empty_dir):
            raise FileExistsError(f"{self.target} appeared while it was being written; "
                                  "not replacing it.")
        if not _exchange(source, self.target):  # no atomic swap here: two renames
            os.rename(self.target, os.path.join(self.path, ".replaced"))
            os.rename(source, self.target)

    def publish_bytes(self, data, overwrite=False):
        """Writes `data` to a file in `self.path` and publishes it (see `publish`)."""
        staged = os.path.join(self.path, ".published")  # no clash with what else is here
        with open(staged, "wb") as f:
            f.write(data)
        self.publish(staged, overwrite=overwrite)


def _exchange(a, b):
    """Swaps two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported.

    A directory TF Serving watches then never lacks the version being replaced.
    """
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


STAGING_NAME = re.compile(r"\..+\.tmp-[^/]+\Z")


def _is_stale(path, grace_s):
    """True when the staging directory's owner is gone: its lock is free, or it has no lock
    file and is older than `grace_s` (None: never)."""
    try:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR)
    except FileNotFoundError:
        if grace_s is None:
            return False
        try:
            return time.time() - os.stat(path).st_mtime > grace_s
        except FileNotFoundError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the lock if we took it
    return True


def sweep_stale(target):
    """Removes staging directories beside `target` left by killed processes: every one of
    ours (holding the lock file) whose lock is free, and `target`'s own without a lock file
    once older than `UNLOCKED_GRACE_S` (killed between creating and locking it).

    Returns:
        The paths removed.
    """
    parent = os.path.dirname(os.path.abspath(target))
    own_prefix = f".{os.path.basename(target)}.tmp-"
    try:
        names = os.listdir(parent)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        path = os.path.join(parent, name)
        if not STAGING_NAME.match(name) or os.path.islink(path) or not os.path.isdir(path):
            continue
        if _is_stale(path, UNLOCKED_GRACE_S if name.startswith(own_prefix) else None):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def staging_dir(target, temporary_files=False):
    """Yields a `Staging`: a private directory `.NAME.tmp-XXXX` beside `target`, locked
    (flock) while this process lives, removed when the block ends, whatever happens.

    Staging directories beside `target` whose owner died (SIGKILL, power loss) are swept
    first (`sweep_stale`).
    Their names start with a dot and are not numbers, so TF Serving never takes one for a
    model version.

    Args:
        target: the file or directory the block publishes.
        temporary_files: meanwhile, point `tempfile` and TMPDIR at `tmp/` inside the staging
            directory (see `temporary_files_in`), so that what TensorFlow leaves there goes
            with it.
    """
    target = os.path.abspath(os.fspath(target))
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    sweep_stale(target)
    path = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    lock = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with (temporary_files_in(os.path.join(path, "tmp")) if temporary_files
              else contextlib.nullcontext()):
            yield Staging(path, target)
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(lock)


@contextlib.contextmanager
def temporary_files_in(directory):
    """Points Python's `tempfile` (and TMPDIR for child processes) at `directory` meanwhile.

    TensorFlow writes temporary files of its own while tracing (autograph's generated
    modules, converter work directories) and removes them at exit, which a killed process
    never reaches. Inside a staging directory they are swept with it. Process-wide: other
    threads' temporary files land there too while the block runs.
    """
    os.makedirs(directory, exist_ok=True)
    saved_tempdir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = directory
    os.environ["TMPDIR"] = directory
    try:
        yield directory
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
