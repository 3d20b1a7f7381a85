"""Training on several worker processes (one machine or many): the cluster every worker reads
from TF_CONFIG, where each worker writes, its share of the training images, and the
tf.distribute strategy that Keras 3 can `fit` with.

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}' \
        keras-senet train se_resnet20_cifar --data-dir DATA --strategy multiworker --resume

(`keras-senet launch --workers N -- train ...` starts N local workers with their TF_CONFIGs;
with KERAS_BACKEND=jax the same TF_CONFIGs feed `keras.distribution.initialize`.)

Roles follow tf.distribute's convention: the chief (the "chief" task, else worker 0) writes the
run directory; every other worker runs the same program, writes to its own temporary folder
`<run directory>/workertemp_<rank>` and deletes it at the end. All workers resume from the
chief's checkpoints, so on a real cluster the run directory must be on a file system every
worker can read (NFS, a bucket mounted with gcsfuse, ...).

Data: --batch-size is the global batch, per-worker batch x workers, and an epoch is as many
steps as one process would take with it (the learning-rate schedule counts those steps).
Each worker decodes, caches and trains on its own share of the training images
(`data_pipeline.shard_positions` of the seeded permutation: disjoint shares of equal size,
fixed for the run, each reshuffled every epoch); validation batches are split between the
workers by tf.distribute.

Two defects of Keras 3.15.1 with `MultiWorkerMirroredStrategy` are handled here, by
`KerasMultiWorkerStrategy.reduce` (public API only; see its docstring), and one gap:
BatchNormalization's moving statistics are updated on each worker from its own batches and
never exchanged, so `AverageModelStatistics` averages them across workers before every
validation and checkpoint: every worker then holds the same weights.
"""

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time

import numpy as np

SUPPORTED_JOBS = ("chief", "worker")
DEFAULT_WORKER_TIMEOUT = 300.0
TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The workers of a multi-worker run and which one this process is.

    Attributes:
        tasks: ("chief" | "worker", index) of every worker, by rank: the chief (or worker 0)
            has rank 0, then the workers in index order.
        addresses: "host:port" of every worker, by rank.
        rank: this process's position in `tasks`.
    """

    tasks: tuple
    addresses: tuple
    rank: int

    @property
    def num_workers(self):
        return len(self.tasks)

    @property
    def is_chief(self):
        return self.rank == 0

    def describe(self, rank=None):
        """'worker 1 (127.0.0.1:4321)': a task as TF_CONFIG names it, with its address."""
        rank = self.rank if rank is None else rank
        kind, index = self.tasks[rank]
        return f"{kind} {index} ({self.addresses[rank]})"


def _split_address(address, where):
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"TF_CONFIG {where} is {address!r}, not 'host:port' with a port "
                         "between 1 and 65535.")
    return host.strip("[]"), int(port)


def read_tf_config(text=None):
    """The `Cluster` of a TF_CONFIG (default: the environment variable).

    Raises:
        ValueError: TF_CONFIG is unset, not JSON, lacks "cluster" or "task", names a job this
            program does not run ("ps", "evaluator"), a task that is not in the cluster, a
            malformed or repeated address.
    """
    text = os.environ.get("TF_CONFIG") if text is None else text
    if not text:
        raise ValueError("--strategy multiworker reads the cluster from the TF_CONFIG "
                         f"environment variable, which is not set. Give every worker one, e.g. "
                         f"{TF_CONFIG_EXAMPLE} (index 1 on the second host), or start local "
                         "workers with `keras-senet launch --workers N -- train ...`.")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}); expected e.g. "
                         f"{TF_CONFIG_EXAMPLE}.") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) \
            or not isinstance(config.get("task"), dict):
        raise ValueError('TF_CONFIG needs a "cluster" object (job name -> list of '
                         '"host:port") and a "task" object ({"type": ..., "index": ...}); '
                         f"received {text!r}.")
    cluster, task = config["cluster"], config["task"]
    unsupported = sorted(set(cluster) - set(SUPPORTED_JOBS))
    if unsupported:
        raise ValueError(f"TF_CONFIG cluster has job(s) {unsupported}: --strategy multiworker "
                         f"(MultiWorkerMirroredStrategy) runs only {SUPPORTED_JOBS} tasks.")
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses:
            raise ValueError(f"TF_CONFIG cluster[{job!r}] must be a non-empty list of "
                             f"'host:port' addresses; received {addresses!r}.")
    if len(cluster.get("chief", [])) > 1:
        raise ValueError("TF_CONFIG cluster['chief'] lists more than one address; a cluster "
                         "has one chief.")
    tasks = [(job, i) for job in SUPPORTED_JOBS for i in range(len(cluster.get(job, [])))]
    addresses = tuple(cluster[job][i] for job, i in tasks)
    seen = {}
    for (job, i), address in zip(tasks, addresses):
        endpoint = _split_address(address, f"cluster[{job!r}][{i}]")
        if endpoint in seen:
            raise ValueError(f"TF_CONFIG gives {seen[endpoint]} and {job} {i} the same address "
                             f"{address}: every task needs its own port.")
        seen[endpoint] = f"{job} {i}"
    kind, index = task.get("type"), task.get("index")
    if (kind, index) not in tasks or isinstance(index, bool):
        raise ValueError(f"TF_CONFIG task {task!r} is not in the cluster: its type must be one "
                         f"of {sorted(cluster)} and its index an integer below that job's "
                         "number of addresses.")
    return Cluster(tuple(tasks), addresses, tasks.index((kind, index)))


def free_ports(count, host="127.0.0.1"):
    """`count` distinct TCP ports nothing listens on at `host` now (the OS picks them)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def local_tf_configs(num_workers, host="127.0.0.1"):
    """One TF_CONFIG (JSON text) per worker of a cluster of `num_workers` on `host`, on free
    ports; worker 0 is the chief."""
    cluster = {"worker": [f"{host}:{port}" for port in free_ports(num_workers, host)]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(num_workers)]


def _split_own_address(cluster):
    return _split_address(cluster.addresses[cluster.rank], "address")


def _port_taken(cluster, error):
    _, port = _split_own_address(cluster)
    return ValueError(f"This worker's address, {cluster.describe()}, cannot be used: port "
                      f"{port} is taken ({error}). Give it a free port in every worker's "
                      "TF_CONFIG (keras-senet launch picks free ones).")


def _accepts_connections(address):
    host, port = _split_address(address, "address")
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def missing_workers_message(cluster, reached, timeout):
    """The error for workers that never started: those not reached, by name."""
    missing = [cluster.describe(r) for r in range(cluster.num_workers)
               if r != cluster.rank and r not in reached]
    return (f"{', '.join(missing)} never started: nothing listened there within {timeout:g} s "
            "(--worker-timeout). Start every worker of TF_CONFIG's cluster, each with the "
            "same command, or correct the addresses.")


def wait_for_workers(cluster, timeout, poll=0.5):
    """Returns once every other worker of `cluster` listens on its address.

    Meanwhile this worker listens on its own (so the others find it; TensorFlow's server takes
    the port over afterwards). Only the addresses are tried, in Python: TensorFlow's own
    wait, inside the strategy's constructor, has no time limit and blocks every thread.

    Raises:
        ValueError: this worker's port is taken; or `timeout` seconds passed with workers
            missing (`missing_workers_message` names them).
    """
    listener = socket.socket()
    try:
        try:
            listener.bind(("", _split_own_address(cluster)[1]))
            listener.listen(64)
        except OSError as e:
            raise _port_taken(cluster, e.strerror) from None
        reached, deadline = set(), time.monotonic() + timeout
        while True:
            for rank, address in enumerate(cluster.addresses):
                if rank != cluster.rank and rank not in reached \
                        and _accepts_connections(address):
                    reached.add(rank)
            if len(reached) == cluster.num_workers - 1:
                return
            if time.monotonic() > deadline:
                raise ValueError(missing_workers_message(cluster, reached, timeout))
            time.sleep(poll)
    finally:
        listener.close()


# Run by `deadline`'s watchdog process: no package imports (they would load TensorFlow).
_WATCHDOG = """
import os, signal, sys, time
parent, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    time.sleep(0.25)
    if os.getppid() != parent:
        sys.exit(0)
sys.stderr.write(message + "\\n")
sys.stderr.flush()
os.kill(parent, signal.SIGKILL)
"""


@contextlib.contextmanager
def deadline(seconds, message):
    """Ends this process (SIGKILL, after printing `message` to stderr) unless the body
    finishes within `seconds`.

    For waits inside TensorFlow that hold Python's lock, so that no thread of this process
    can run: a separate watchdog process does the waiting.
    """
    import subprocess

    watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()),
                                 str(seconds), message], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        watchdog.kill()
        watchdog.wait()


@functools.cache
def _strategy_class():
    import tensorflow as tf

    class KerasMultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """MultiWorkerMirroredStrategy whose `reduce` accepts the two calls Keras 3.15 makes
        that the parent rejects (keras-team/keras#20585, tensorflow/tensorflow#72388):

        - a nested structure: `fit` reduces a whole (images, labels) batch before building
          the model ("unsupported type PerReplica to a Tensor"); each leaf is reduced, as
          MirroredStrategy does;
        - a scalar with `axis=0`: every step's logged metrics ("Invalid reduction dimension 0
          for input with 0 dimensions"); a scalar has no axis, so it is reduced across
          replicas only, as Keras does for one worker.

        Every call the parent accepts gets the parent's result.
        """

        def reduce(self, reduce_op, value, axis=None):
            parent = super()

            def reduce_one(v):
                local = self.experimental_local_results(v)[0]
                rank = getattr(getattr(local, "shape", None), "rank", None)
                return parent.reduce(reduce_op, v, None if rank == 0 else axis)

            return tf.nest.map_structure(reduce_one, value)

    return KerasMultiWorkerStrategy


def multi_worker_strategy(cluster, worker_timeout=DEFAULT_WORKER_TIMEOUT):
    """A `KerasMultiWorkerStrategy` for `cluster` (TensorFlow reads TF_CONFIG too).

    Waits up to `worker_timeout` seconds for the other workers to start (`wait_for_workers`:
    ValueError naming the missing ones, or when this worker's port is taken), then as long
    again for the cluster to form; a cluster that does not (the workers' TF_CONFIGs list
    different clusters) ends this process with a message (`deadline`).
    """
    import tensorflow as tf

    wait_for_workers(cluster, worker_timeout)
    message = (f"keras-senet train: error: {cluster.describe()}: every worker of the cluster "
               f"started, but the cluster did not form within {worker_timeout:g} s "
               "(--worker-timeout): every worker's TF_CONFIG must list the same cluster, "
               "the same addresses in the same order.")
    with deadline(worker_timeout, message):
        try:
            strategy = _strategy_class()()
        except tf.errors.UnknownError as e:
            if "gRPC server" not in str(e):
                raise
            raise _port_taken(cluster, e.message) from None
    print(f"{cluster.describe()}: cluster of {cluster.num_workers} workers formed, "
          f"{strategy.num_replicas_in_sync} replicas"
          + (" (chief: writes the run directory)" if cluster.is_chief else ""), flush=True)
    return strategy


def _gather_texts(strategy, text):
    """Every replica's `text` (UTF-8), in replica order, through two all-gathers."""
    import tensorflow as tf

    def gather(rows):  # rows: int32 (1, n), the same n on every replica
        return strategy.gather(strategy.run(tf.function(lambda: tf.constant(rows))), axis=0)

    data = np.frombuffer(text.encode(), np.uint8).astype(np.int32)
    lengths = gather(np.asarray([[len(data)]], np.int32)).numpy()[:, 0]
    padded = np.zeros((1, int(lengths.max())), np.int32)
    padded[0, :len(data)] = data
    rows = gather(padded).numpy()
    return [bytes(row[:n].astype(np.uint8)).decode() for row, n in zip(rows, lengths)]


def command_differences(cluster, commands):
    """What differs between the workers' commands, one phrase per difference, [] for none.

    Args:
        cluster: the `Cluster` (to name the workers).
        commands: every worker's {"rank", "addresses", "arguments": {name: value}}.
    """
    chief = next(c for c in commands if c["rank"] == 0)
    problems = []
    for other in sorted(commands, key=lambda c: c["rank"]):
        if other["rank"] == 0:
            continue
        who = cluster.describe(other["rank"])
        if list(other["addresses"]) != list(chief["addresses"]):
            problems.append(f"{who} has TF_CONFIG cluster {list(other['addresses'])}, the "
                            f"chief {list(chief['addresses'])}")
        for name in sorted(set(other["arguments"]) | set(chief["arguments"])):
            theirs, chiefs = other["arguments"].get(name), chief["arguments"].get(name)
            if theirs != chiefs:
                problems.append(f"{who} has {name}={theirs!r}, the chief {name}={chiefs!r}")
    return problems


def check_same_arguments(strategy, cluster, arguments):
    """Raises ValueError, on every worker, when the workers were started with different
    `arguments` ({name: value}) or different clusters (`command_differences` names each
    worker and option that differ). Collective: every worker calls it, after
    `multi_worker_strategy`."""
    mine = json.dumps({"rank": cluster.rank, "addresses": cluster.addresses,
                       "arguments": arguments}, sort_keys=True, default=str)
    commands = [json.loads(text) for text in _gather_texts(strategy, mine)]
    problems = command_differences(cluster, commands)
    if problems:
        raise ValueError("The workers were not started with the same command: "
                         + "; ".join(problems) + ". Start every worker with the same "
                         "arguments (only TF_CONFIG's task differs).")


def _temporary_folder(run_dir, cluster):
    return os.path.join(run_dir, f"workertemp_{cluster.rank}")


def worker_dir(run_dir, cluster):
    """Where this worker writes: the run directory for the chief, else a fresh
    `run_dir/workertemp_<rank>` (tf.distribute's convention; `finish_worker` removes it)."""
    if cluster is None or cluster.is_chief:
        return run_dir
    path = _temporary_folder(run_dir, cluster)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def finish_worker(run_dir, cluster):
    """Removes a non-chief worker's temporary folder (nothing for the chief)."""
    if cluster is not None and not cluster.is_chief:
        shutil.rmtree(_temporary_folder(run_dir, cluster), ignore_errors=True)
        print(f"{cluster.describe()}: removed its temporary folder; the chief wrote the run "
              f"directory {run_dir}")


def per_replica_batch(global_batch, strategy):
    """`global_batch` / replicas; ValueError when it does not divide evenly."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(f"--batch-size {global_batch} (the global batch) does not split evenly "
                         f"over {replicas} replicas: use a multiple of {replicas}.")
    return global_batch // replicas


def sharded_training_data(strategy, make_shard, global_batch, cluster):
    """The training data of a multi-worker run: every worker reads its own share.

    Args:
        strategy: the multi-worker tf.distribute strategy; on JAX (one process per worker,
            `DataParallel` without auto-sharding) the no-op strategy of
            `keras_senet.training.get_strategy`.
        make_shard: `make_shard(batch, (num_shards, shard_index))` -> a finite
            tf.data.Dataset of this worker's share of the training images, batched (with
            drop_remainder) by `batch`: images per replica on TF, per process on JAX.
        global_batch: images per step over all workers.
        cluster: the `Cluster`.

    Returns:
        (dataset that repeats without end, steps per epoch): pass both to `fit`
        (steps_per_epoch), which then takes the same number of steps on every worker.
    """
    if not hasattr(strategy, "distribute_datasets_from_function"):  # JAX
        if global_batch % cluster.num_workers:
            raise ValueError(f"--batch-size {global_batch} (the global batch) does not split "
                             f"evenly over {cluster.num_workers} workers: use a multiple of "
                             f"{cluster.num_workers}.")
        batch = global_batch // cluster.num_workers
        shard = make_shard(batch, (cluster.num_workers, cluster.rank))
        data, steps = shard.repeat(), int(shard.cardinality())
    else:
        batch = per_replica_batch(global_batch, strategy)
        counts = []

        def dataset_fn(context):
            local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
            shard = make_shard(batch, (context.num_input_pipelines, context.input_pipeline_id))
            counts.append(int(shard.cardinality()) // local_replicas)
            return shard.repeat()

        data = strategy.distribute_datasets_from_function(dataset_fn)
        steps = counts[0]
    if steps < 1:
        raise ValueError(f"This worker's share of the training images is smaller than one "
                         f"step ({batch} images): use fewer workers or a smaller --batch-size.")
    return data, steps


def shard_validation(dataset):
    """`dataset` (a global-batched tf.data.Dataset) marked for tf.distribute's DATA sharding:
    each worker evaluates its share of every batch, the last partial batch included."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def model_statistics_averager(strategy):
    """A Keras callback that averages the model's floating-point non-trainable variables
    (BatchNormalization's moving mean and variance) over all replicas before each
    validation, at each epoch's end and at the end of training.

    Keras updates them on every replica from its own batches and never exchanges them, so
    workers would otherwise validate, checkpoint and finish with different models.
    Collective: on every worker, in the same callback order.
    """
    import keras
    import tensorflow as tf

    class AverageModelStatistics(keras.callbacks.Callback):
        def set_model(self, model):
            super().set_model(model)
            self._variables = [v for v in model.non_trainable_variables
                               if "float" in str(v.dtype)]
            self._local_values = tf.function(lambda: tf.concat(
                [tf.reshape(tf.cast(v.value, tf.float32), [-1]) for v in self._variables], 0))

        def _average(self):
            variables = self._variables
            if not variables:
                return
            mean = strategy.reduce("MEAN", strategy.run(self._local_values), axis=None)
            offset = 0
            for v in variables:
                size = int(np.prod(v.shape))
                v.assign(tf.cast(tf.reshape(mean[offset:offset + size], v.shape), v.dtype))
                offset += size

        def on_test_begin(self, logs=None):
            self._average()

        def on_epoch_end(self, epoch, logs=None):
            self._average()

    return AverageModelStatistics()


def weights_digest(model):
    """sha256 of the model's variables (path, dtype, shape, bytes), hex: two workers that
    print the same digest hold the same weights."""
    import keras

    digest = hashlib.sha256()
    for variable in sorted(model.weights, key=lambda v: v.path):
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest.update(f"{variable.path}:{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def lost_worker(error, cluster):
    """The worker a collective error blames, by name ('worker 1 (host:port)'), or None."""
    text = str(error)
    for rank, (kind, index) in enumerate(cluster.tasks):
        if re.search(rf"/job:{kind}(/replica:0)?/task:{index}\b", text):
            if rank != cluster.rank:
                return cluster.describe(rank)
    return None


def initialize_jax_processes(cluster):
    """`keras.distribution.initialize` for `cluster` on the JAX backend: one process per
    worker, worker 0's address as JAX's coordinator (the other addresses are unused; JAX
    gives up after its own initialization timeout, 300 s)."""
    import keras

    keras.distribution.initialize(job_addresses=",".join(cluster.addresses),
                                  num_processes=cluster.num_workers, process_id=cluster.rank)
    print(f"{cluster.describe()}: JAX process {cluster.rank} of {cluster.num_workers}",
          flush=True)


@contextlib.contextmanager
def stopped_by_lost_worker(cluster, state):
    """Turns the error every surviving worker gets when another one dies (TensorFlow aborts
    the collectives within seconds) into a ConnectionError that names the lost worker and
    says how to continue. `state`: the run's state (`keras_senet.training`), for the last
    checkpointed epoch."""
    import keras

    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    lost_errors = (tf.errors.UnavailableError, tf.errors.AbortedError,
                   tf.errors.CancelledError, tf.errors.DeadlineExceededError)
    try:
        yield
    except lost_errors as e:
        who = lost_worker(e, cluster) or "another worker"
        done = sum(state["epochs_done"].values())
        lines = re.sub(r"\{\{[^}]*\}\}\s*", "", e.message or str(e)).strip().splitlines()
        summary = " ".join(lines[:2] if lines and lines[0].endswith(":") else lines[:1])
        raise ConnectionError(
            f"training stopped: {who} is gone ({type(e).__name__}: {summary}). Start "
            f"every worker again with the same command including --resume: training "
            f"continues after epoch {done}, the last one checkpointed.") from e
