"""Local worker processes of one multi-worker run: started together, their output prefixed,
stopped together (`keras-senet launch`). Imports no TensorFlow.

    status = run_local_cluster(["train", "resnet20_cifar", "--data-dir", "DATA",
                                "--strategy", "multiworker"], num_workers=2)
"""

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

from keras_senet import distributed

POLL_SECONDS = 0.2


def _die_with_parent():
    """In the child, before exec: SIGKILL when the launcher dies, however it dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _forward(stream, prefix, lock):
    """Copies a worker's output to our stdout, each line (ended by \\n or \\r) prefixed."""
    pending = b""
    for chunk in iter(lambda: stream.read1(65536), b""):
        pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = pending.split(b"\n")
        with lock:
            for line in lines:
                if line.strip():
                    sys.stdout.write(f"{prefix}{line.decode(errors='replace')}\n")
            sys.stdout.flush()
    if pending.strip():
        with lock:
            sys.stdout.write(f"{prefix}{pending.decode(errors='replace')}\n")
            sys.stdout.flush()


def exit_status(returncode):
    """A child's returncode as a shell reports it: 128 + N for a death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def describe_exit(returncode):
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def stop(processes, grace):
    """SIGTERM to every process still running, SIGKILL to those alive `grace` s later."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


#: `keras-senet` as a child of this Python (sys.argv[0] named as the console script, which
#: the run directory's state.json records as the command).
KERAS_SENET = (sys.executable, "-c", "import sys; from keras_senet.cli import main; "
               "sys.argv[0] = 'keras-senet'; sys.exit(main())")


def run_local_cluster(train_args, num_workers, host="127.0.0.1", grace=10.0,
                      program=KERAS_SENET):
    """Runs `program train_args` as `num_workers` workers of one cluster on `host` until all
    succeed (returns 0) or one fails, is killed or this process gets SIGINT / SIGTERM (stops
    the others; returns that worker's `exit_status`, or 128 + the signal)."""
    configs = distributed.local_tf_configs(num_workers, host)
    lock = threading.Lock()
    processes, readers = [], []
    status, message = 1, "[launch] stopping the workers"

    def say(text):
        with lock:
            print(text, flush=True)

    def interrupted(signum, frame):
        raise _Interrupted(signum)

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for rank, tf_config in enumerate(configs):
            env = {**os.environ, "TF_CONFIG": tf_config, "PYTHONUNBUFFERED": "1"}
            process = subprocess.Popen([*program, *train_args], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=_die_with_parent)
            processes.append(process)
            say(f"[launch] worker {rank}: pid {process.pid}, TF_CONFIG {tf_config}")
            reader = threading.Thread(target=_forward, daemon=True,
                                      args=(process.stdout, f"[worker {rank}] ", lock))
            reader.start()
            readers.append(reader)
        while True:
            codes = [p.poll() for p in processes]
            failed = next((i for i, c in enumerate(codes) if c not in (None, 0)), None)
            if failed is not None:
                status = exit_status(codes[failed])
                message = (f"[launch] worker {failed} {describe_exit(codes[failed])}; stopping "
                           "the other workers")
                break
            if all(c == 0 for c in codes):
                status, message = 0, f"[launch] all {num_workers} workers finished"
                break
            time.sleep(POLL_SECONDS)
    except _Interrupted as e:
        status = 128 + e.signum
        message = f"[launch] {signal.Signals(e.signum).name}: stopping the workers"
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        say(message)
        try:
            stop(processes, grace)
        finally:
            for reader in readers:
                reader.join(timeout=5)
    if status:
        say("[launch] run the same command again to continue from the last completed epoch"
            if "--resume" in train_args else
            "[launch] to continue from the last completed epoch, run the same command with "
            "--resume added to the train arguments")
    return status
