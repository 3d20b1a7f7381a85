"""Training on several worker processes, on 127.0.0.1 as on a cluster.

Two workers train with `keras-senet launch --workers 2 -- train ... --strategy multiworker`,
one is killed mid-run and the same command finishes the run on the same weights; each worker
reads its own share of the images; workers that cannot form a cluster stop with an error
naming the problem. Every test that starts processes checks that none outlives it.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import keras_senet
from keras_senet import distributed, launcher
from keras_senet.commands.launch import worker_arguments
from tests.image_folders import tinted_image_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def environment(backend="tensorflow"):
    """The workers' environment: this test's (its private KERAS_HOME), this checkout first."""
    return {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3",
            "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}

KERAS_SENET = [sys.executable, "-m", "keras_senet.cli"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """root/{train,val}/<class>/*.png: 32x32 noisy images tinted by class, 8 + 3 per class."""
    return tinted_image_folder(tmp_path_factory.mktemp("images"), 8, 3)


def _process_table():
    """{pid: (parent pid, state)} of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), fields[0])
    return table


def running_descendants(pid=None):
    """The live (not zombie) processes descended from `pid` (default: this test)."""
    table, found, frontier = _process_table(), [], [pid or os.getpid()]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, state) in table.items():
            if ppid == parent:
                frontier.append(child)
                if state != "Z":
                    found.append(child)
    return found


def assert_all_gone(pids):
    """None of `pids` runs any more (reaped or zombie), and this test has no live children."""
    table = _process_table()
    assert [p for p in pids if p in table and table[p][1] != "Z"] == []
    assert running_descendants() == []


def worker_pids(printed):
    return [int(p) for p in re.findall(r"\[launch\] worker \d+: pid (\d+)", printed)]


# --- two workers, one killed, the same command again ---------------------------------------

@pytest.mark.slow
def test_two_workers_train_resume_after_a_killed_worker_and_end_with_the_same_weights(
        folder, tmp_path):
    run, epochs = tmp_path / "run", 5
    command = [*KERAS_SENET, "launch", "--workers", "2", "--", "train", "resnet20_cifar",
               "--data-dir", folder, "--epochs", str(epochs), "--batch-size", "6",
               "--schedule", "step", "--output", str(run), "--verbose", "2", "--resume"]
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                 env=environment())
    try:
        deadline = time.time() + 300
        while time.time() < deadline and first.poll() is None:
            state = distributed_state(run)
            if state and state["epochs_done"].get("train", 0) >= 1:
                break
            time.sleep(0.05)
        os.kill(worker_pids(log.read_text())[1], signal.SIGKILL)  # mid-way through epoch 2
        status = first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    printed = log.read_text()
    assert status == 128 + signal.SIGKILL, printed[-3000:]
    assert "[launch] worker 1 was killed by SIGKILL; stopping the other workers" in printed
    assert_all_gone(worker_pids(printed))
    done = distributed_state(run)["epochs_done"]["train"]
    assert 1 <= done < epochs, "the run finished before a worker could be killed"

    again = subprocess.run(command, capture_output=True, text=True, env=environment(),
                           timeout=400)
    assert again.returncode == 0, again.stdout[-4000:]
    printed = again.stdout
    for worker in (0, 1):
        assert f"[worker {worker}] [train] resuming after epoch {done} of {epochs}" in printed
        # global batch 6 = 3 per worker x 2 workers; 24 images: 4 steps an epoch
        assert re.search(rf"\[worker {worker}\] resnet20_cifar: [\d,]+ params, 3 classes, "
                         r"4 steps/epoch, batch 6 = 3 per worker x 2 workers", printed)
    digests = re.findall(r"final weights sha256 ([0-9a-f]{64})", printed)
    assert len(digests) == 2 and digests[0] == digests[1]
    assert_all_gone(worker_pids(printed))

    # The uninterrupted run's epochs, each once; the chief alone wrote the run directory.
    state = distributed_state(run)
    assert [r["epoch"] for r in state["history"]] == list(range(1, epochs + 1))
    assert json.load(open(run / "results.json"))["epochs"] == epochs
    assert sorted(os.listdir(run)) == [
        f"ckpt-train-{epochs}.weights.h5", "curves.png", "final.safetensors", "logs",
        "model.keras", "results.json", "state.json", "train.safetensors",
        "val_predictions.npz"]
    assert f"[worker 1] run directory: {run / 'workertemp_1'}" in printed

    # The learning-rate schedule counted global steps: 5 epochs x 4 steps.
    import keras

    model = keras.saving.load_model(run / "model.keras")  # keras_senet registers its layers
    assert int(model.optimizer.iterations) == epochs * 4


def distributed_state(run):
    """The chief's state.json, or None before its first epoch ends."""
    path = run / "state.json"
    return json.load(open(path)) if path.exists() else None


@pytest.mark.slow
def test_jax_processes_train_one_model_through_keras_distribution(folder, tmp_path):
    """KERAS_BACKEND=jax: `keras.distribution.initialize` from the same TF_CONFIGs, one
    DataParallel over both processes' CPUs (XLA:CPU's collectives run on gloo)."""
    run = tmp_path / "run"
    done = subprocess.run(
        [*KERAS_SENET, "launch", "--workers", "2", "--", "train", "resnet20_cifar",
         "--data-dir", folder, "--epochs", "1", "--batch-size", "6", "--output", str(run),
         "--verbose", "2"], capture_output=True, text=True, env=environment("jax"),
        timeout=400)
    assert done.returncode == 0, done.stdout[-4000:]
    printed = done.stdout
    for worker in (0, 1):
        assert f"[worker {worker}] JAX DataParallel over 2 devices" in printed
        assert re.search(rf"\[worker {worker}\] worker {worker} \(127.0.0.1:\d+\): JAX process "
                         f"{worker} of 2", printed)
    digests = re.findall(r"final weights sha256 ([0-9a-f]{64})", printed)
    assert len(digests) == 2 and digests[0] == digests[1]
    assert json.load(open(run / "results.json"))["epochs"] == 1
    assert "workertemp_1" not in os.listdir(run)
    assert_all_gone(worker_pids(printed))


# --- each worker's share of the images ------------------------------------------------------

@pytest.fixture(scope="module")
def numbered_folder(tmp_path_factory):
    """root/train/<class>/*.png: 12 flat grey images whose grey level says which they are
    (image n is 10 + 20 n), 6 per class, and a val folder."""
    from PIL import Image

    root = tmp_path_factory.mktemp("numbered")
    for split, per_class in (("train", 6), ("val", 1)):
        for label, name in enumerate(("a", "b")):
            os.makedirs(root / split / name)
            for i in range(per_class):
                number = label * per_class + i
                image = np.full((32, 32, 3), 10 + 20 * number, np.uint8)
                Image.fromarray(image).save(root / split / name / f"{number:02d}.png")
    return str(root)


class TwoWorkerStrategy:
    """What `sharded_training_data` asks of a strategy, as worker `index` of two (one replica
    each) sees it: the input function is called with this worker's InputContext."""

    num_replicas_in_sync = 2

    def __init__(self, index):
        self.index = index

    def distribute_datasets_from_function(self, dataset_fn):
        import tensorflow as tf

        return dataset_fn(tf.distribute.InputContext(2, self.index, 2))


def test_each_worker_reads_its_own_share_of_every_epoch(numbered_folder):
    from keras_senet import training
    from keras_senet.data_pipeline import DataOptions, load_datasets

    transform = training.default_transform(keras_senet.get_spec("resnet20_cifar"))

    def make_shard(batch, shard):
        return load_datasets(DataOptions(data_dir=numbered_folder), transform, batch, "none",
                             drop_remainder=True, shard=shard)[0]

    epochs_seen = []
    for index in (0, 1):
        cluster = distributed.read_tf_config(tf_config(["a:1", "b:2"], index))
        data, steps = distributed.sharded_training_data(TwoWorkerStrategy(index), make_shard,
                                                        global_batch=6, cluster=cluster)
        assert steps == 2  # 12 images / global batch 6; 3 images a step on each worker
        seen = []
        for images, onehot in data.take(2 * steps):  # two epochs: the data repeats
            numbers = (np.asarray(images).mean(axis=(1, 2, 3)) - 10) / 20
            assert np.allclose(numbers, np.round(numbers))
            numbers = np.round(numbers).astype(int)
            np.testing.assert_array_equal(np.argmax(onehot, axis=-1), numbers // 6)
            seen.append(numbers)
        epochs_seen.append([np.concatenate(seen[:steps]), np.concatenate(seen[steps:])])
    for first, second in zip(*epochs_seen):  # epoch by epoch, worker 0 beside worker 1
        assert len(set(first)) == len(first) == 6 and len(set(second)) == 6
        assert set(first).isdisjoint(second) and set(first) | set(second) == set(range(12))


def test_the_numpy_pipeline_does_not_shard(numbered_folder):
    from keras_senet import training
    from keras_senet.data_pipeline import DataOptions, load_datasets

    transform = training.default_transform(keras_senet.get_spec("resnet20_cifar"))
    with pytest.raises(ValueError, match="needs the tf.data pipeline: drop --pipeline numpy"):
        load_datasets(DataOptions(data_dir=numbered_folder, pipeline="numpy"), transform, 3,
                      shard=(2, 0))


def test_shares_are_equal_and_leave_out_the_remainder():
    from keras_senet.data_pipeline import shard_positions

    assert [list(shard_positions(7, (2, i))) for i in (0, 1)] == [[0, 2, 4], [1, 3, 5]]
    assert list(shard_positions(6, (1, 0))) == list(range(6))
    with pytest.raises(ValueError, match="0 <= index < shares"):
        shard_positions(6, (2, 2))


def test_a_global_batch_must_split_over_the_replicas():
    with pytest.raises(ValueError, match="--batch-size 7 .* use a multiple of 2"):
        distributed.per_replica_batch(7, TwoWorkerStrategy(0))


# --- TF_CONFIG and the errors of a cluster that cannot form ---------------------------------

def tf_config(workers, index, kind="worker", chief=None):
    cluster = {"worker": workers, **({"chief": [chief]} if chief else {})}
    return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})


def test_tf_config_names_the_workers_chief_first():
    cluster = distributed.read_tf_config(tf_config(["h1:1001", "h2:1002"], 1, chief="h0:1000"))
    assert cluster.addresses == ("h0:1000", "h1:1001", "h2:1002")
    assert (cluster.rank, cluster.is_chief, cluster.num_workers) == (2, False, 3)
    assert cluster.describe() == "worker 1 (h2:1002)"
    assert distributed.read_tf_config(tf_config(["h1:1001"], 0, "chief", "h0:1")).is_chief


@pytest.mark.parametrize("text, message", [
    ("", "TF_CONFIG environment variable, which is not set"),
    ("{'cluster': 1}", "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', 'needs a "cluster" object .* and a "task" object'),
    (tf_config(["a:1", "b:2"], 2), "is not in the cluster"),
    (tf_config(["a:1", "b:2"], 0, kind="ps"), "is not in the cluster"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
     r"job\(s\) \['ps'\]: --strategy multiworker"),
    (tf_config(["a:1", "b"], 0), r"cluster\['worker'\]\[1\] is 'b', not 'host:port'"),
    (tf_config(["a:1", "a:1"], 0), "the same address a:1: every task needs its own port"),
    (tf_config([], 0), "must be a non-empty list"),
])
def test_a_malformed_tf_config_is_refused_with_what_to_fix(text, message):
    with pytest.raises(ValueError, match=message):
        distributed.read_tf_config(text)


def test_multiworker_without_tf_config_stops_before_any_work(folder, tmp_path, monkeypatch,
                                                              capsys):
    from keras_senet import cli

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cli.main(["train", "resnet20_cifar", "--data-dir", folder, "--strategy",
                     "multiworker", "--output", str(tmp_path / "run")]) == 2
    assert "TF_CONFIG environment variable, which is not set" in capsys.readouterr().err


def test_a_port_in_use_is_named(folder, tmp_path, monkeypatch, capsys):
    from keras_senet import cli

    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = distributed.free_ports(1)[0]
        monkeypatch.setenv("TF_CONFIG", tf_config([f"127.0.0.1:{port}",
                                                   f"127.0.0.1:{other}"], 0))
        assert cli.main(["train", "resnet20_cifar", "--data-dir", folder, "--strategy",
                         "multiworker", "--output", str(tmp_path / "run")]) == 2
    assert (f"worker 0 (127.0.0.1:{port}), cannot be used: port {port} is taken"
            in capsys.readouterr().err)


def test_a_lost_worker_is_named_with_how_to_continue():
    """What the surviving workers say when one dies (TensorFlow's error, as it arrives)."""
    import tensorflow as tf

    cluster = distributed.read_tf_config(tf_config(["a:1", "b:2"], 0))
    aborted = tf.errors.UnavailableError(None, None, (
        "{{function_node __wrapped__CollectiveReduceV2}} Collective ops is aborted by: Error "
        "reported from /job:worker/task:1: The following tasks are unhealthy (stopped sending "
        "heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed."))
    with pytest.raises(ConnectionError) as lost:
        with distributed.stopped_by_lost_worker(cluster, {"epochs_done": {"train": 3}}):
            raise aborted
    assert str(lost.value) == (
        "training stopped: worker 1 (b:2) is gone (UnavailableError: Collective ops is aborted "
        "by: Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped "
        "sending heartbeats): /job:worker/replica:0/task:1). Start every worker again with the "
        "same command including --resume: training continues after epoch 3, the last one "
        "checkpointed.")


def start_workers(configs, args):
    """`keras-senet train ARGS` once per TF_CONFIG; the finished processes (stdout, stderr)."""
    processes = [subprocess.Popen([*KERAS_SENET, "train", *a],
                                  env={**environment(), "TF_CONFIG": c},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c, a in zip(configs, args)]
    try:
        outputs = [p.communicate(timeout=240) for p in processes]
        return [(p.returncode, *output) for p, output in zip(processes, outputs)]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_a_worker_that_never_starts_is_named_within_the_timeout(folder, tmp_path):
    configs = distributed.local_tf_configs(2)
    missing = json.loads(configs[0])["cluster"]["worker"][1]
    started = time.monotonic()
    ((_, out, err),) = start_workers(configs[:1], [[
        "resnet20_cifar", "--data-dir", folder, "--strategy", "multiworker",
        "--worker-timeout", "3", "--output", str(tmp_path / "run")]])
    assert f"error: worker 1 ({missing}) never started: nothing listened there within 3 s" \
        in err, err[-2000:]
    assert time.monotonic() - started < 120
    assert running_descendants() == []


def test_workers_started_with_different_commands_are_told_what_differs():
    """What every worker gathers from the others once the cluster has formed (`train` runs
    `check_same_arguments`, which gathers these records and raises with the differences)."""
    cluster = distributed.read_tf_config(tf_config(["a:1", "b:2", "c:3"], 0))
    chief = {"rank": 0, "addresses": ["a:1", "b:2", "c:3"],
             "arguments": {"epochs": 2, "batch_size": 6}}
    same = {**chief, "rank": 1}
    other = {"rank": 2, "addresses": ["a:1", "b:2", "d:4"],
             "arguments": {"epochs": 3, "batch_size": 6}}
    assert distributed.command_differences(cluster, [chief, same]) == []
    assert distributed.command_differences(cluster, [other, chief, same]) == [
        "worker 2 (c:3) has TF_CONFIG cluster ['a:1', 'b:2', 'd:4'], the chief "
        "['a:1', 'b:2', 'c:3']",
        "worker 2 (c:3) has epochs=3, the chief epochs=2"]


# --- the launcher ---------------------------------------------------------------------------

def test_launch_runs_the_train_command_as_a_multiworker_run():
    assert worker_arguments(["--", "train", "m", "--epochs", "2"]) == [
        "train", "m", "--epochs", "2", "--strategy", "multiworker"]
    assert worker_arguments(["train", "m", "--strategy=multiworker"]) == [
        "train", "m", "--strategy=multiworker"]
    with pytest.raises(ValueError, match="needs --strategy multiworker, not --strategy mirr"):
        worker_arguments(["train", "m", "--strategy", "mirrored"])
    with pytest.raises(ValueError, match="Give the workers' command after '--'"):
        worker_arguments(["evaluate", "m"])


# A stand-in for `keras-senet train`: prints its task, then worker 1 fails (exit 3) if asked
# to, and the others wait to be stopped.
STAND_IN = textwrap.dedent("""
    import json, os, sys, time
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    print("ready", index, os.getpid(), flush=True)
    if index == 1 and sys.argv[1:] == ["fail"]:
        sys.exit(3)
    time.sleep(120)
""")


def test_launch_stops_every_worker_when_one_fails(capsys):
    status = launcher.run_local_cluster(["fail"], 3, grace=5,
                                        program=(sys.executable, "-c", STAND_IN))
    printed = capsys.readouterr().out
    assert status == 3
    assert "[launch] worker 1 exited with status 3; stopping the other workers" in printed
    assert re.search(r"\[worker 1\] ready 1 \d+", printed)
    assert_all_gone(worker_pids(printed))


@pytest.mark.slow
def test_ctrl_c_stops_the_launcher_and_its_workers(tmp_path):
    code = ("import sys; from keras_senet.launcher import run_local_cluster; "
            f"sys.exit(run_local_cluster(['wait'], 2, grace=5, "
            f"program=(sys.executable, '-c', {STAND_IN!r})))")
    log = tmp_path / "launch.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-c", code], stdout=out,
                                   stderr=subprocess.STDOUT, env=environment())
    try:
        deadline = time.time() + 120
        while time.time() < deadline and log.read_text().count("] ready ") < 2:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 128 + signal.SIGINT
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    printed = log.read_text()
    assert "[launch] SIGINT: stopping the workers" in printed
    assert_all_gone(worker_pids(printed))
