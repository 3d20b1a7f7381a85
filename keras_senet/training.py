"""What `train`, `finetune` and `evaluate` share: transforms, optimisers, schedules,
distribution strategies, resumable fitting, and the training-curve plot.

A run directory holds:
    state.json                    phases, epochs completed per phase, per-epoch history
                                  (with each epoch's loss / accuracy per batch window)
    ckpt-<phase>-<epoch>.weights.h5   model + optimiser after the last completed epoch
    <phase>.safetensors           model weights at the end of each phase (Keras layout)
    final.safetensors, model.keras   the trained model
    logs/                         TensorBoard
    curves.png                    loss and accuracy per batch window and per epoch
    results.json, val_predictions.npz   final scores; each validation image's label and top-5

Checkpoints are written to a new file before `state.json` (replaced atomically) points at
it, so a run killed at any moment resumes (`resume=True`) from its last completed epoch.
"""

import dataclasses
import json
import os
import time

import numpy as np

from keras_senet.checkpoints import IN_MODEL_TRANSFORM, EvalTransform

STATE_FILE = "state.json"


def default_transform(spec):
    """The evaluation transform of an architecture without a checkpoint.

    CIFAR models ("in_model" preprocessing) take 0..255 pixels: mean 0, std 1/255 makes
    `(x / 255 - mean) / std` the identity.
    """
    if spec.preprocessing == "in_model":
        return dataclasses.replace(IN_MODEL_TRANSFORM, input_size=spec.default_size)
    return EvalTransform(input_size=spec.default_size)


def transform_for(model, spec, input_size=None):
    """`model.pretrained_cfg.transform` when the model has one, else `default_transform`."""
    source = getattr(model, "pretrained_cfg", None)
    transform = source.transform if source is not None else default_transform(spec)
    if input_size and input_size != transform.input_size:
        transform = dataclasses.replace(transform, input_size=input_size)
    return transform


def mixed_policy(gpu_compute_capability=None):
    """The mixed-precision policy for a device: bfloat16 (no loss scaling) on CPUs, TPUs and
    GPUs that compute in it natively (compute capability 8.0 and up: A100, H100, ...),
    float16 on older GPUs. `gpu_compute_capability`: (major, minor), None for no GPU."""
    if gpu_compute_capability is not None and tuple(gpu_compute_capability) < (8, 0):
        return "mixed_float16"
    return "mixed_bfloat16"


def _gpu_compute_capability():
    """(major, minor) of the first GPU the Keras backend computes on, or None."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return details.get("compute_capability", (0, 0))
    elif keras.backend.backend() == "jax":
        import jax

        if jax.default_backend() == "gpu":
            major, _, minor = str(jax.devices()[0].compute_capability).partition(".")
            return int(major), int(minor or 0)
    return None


def set_mixed_precision(enabled):
    """Sets `mixed_policy` for this machine globally (float32 when disabled); returns it."""
    import keras

    policy = mixed_policy(_gpu_compute_capability()) if enabled else "float32"
    keras.config.set_dtype_policy(policy)
    return policy


def split_logical_cpus(count):
    """Splits the CPU into `count` logical devices (to exercise distribution on one CPU).

    Must run before TensorFlow initialises its devices.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    return [d.name for d in tf.config.list_logical_devices("CPU")]


class _NoStrategy:
    num_replicas_in_sync = 1

    def scope(self):
        import contextlib

        return contextlib.nullcontext()


STRATEGIES = ("none", "mirrored", "multiworker", "tpu")


def get_strategy(name, tpu_address=None, worker_timeout=None):
    """A `tf.distribute` strategy by name, or on the JAX backend `DataParallel` over all
    devices (set globally; returns a no-op scope).

    "mirrored": all local GPUs (or all logical CPUs when no GPU); "multiworker": the
    cluster in the TF_CONFIG environment variable (`keras_senet.distributed`; on JAX,
    `keras.distribution.initialize` with it: one process per worker, DataParallel over every
    process's devices), waiting at most `worker_timeout` seconds for every worker to start;
    "tpu": the TPU at `tpu_address`. Create it before anything else runs on the backend.
    """
    import keras

    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")
    from keras_senet import distributed

    timeout = worker_timeout or distributed.DEFAULT_WORKER_TIMEOUT
    if keras.backend.backend() == "jax":
        if name in ("none",):
            return _NoStrategy()
        processes = name == "multiworker"
        if processes:
            distributed.initialize_jax_processes(distributed.read_tf_config())
        devices = keras.distribution.list_devices()
        # Across processes each one reads its own share (keras_senet.distributed), as on TF.
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=not processes))
        print(f"JAX DataParallel over {len(devices)} devices")
        return _NoStrategy()
    if name == "none":
        return _NoStrategy()
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"--strategy {name} needs KERAS_BACKEND=tensorflow (or jax for "
                         "DataParallel); received backend {keras.backend.backend()!r}.")
    import tensorflow as tf

    if name == "mirrored":
        devices = None
        if not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return distributed.multi_worker_strategy(distributed.read_tf_config(), timeout)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


SCHEDULES = ("cosine", "step", "constant")
OPTIMIZERS = ("sgd", "adamw")


def make_schedule(kind, lr, epochs, steps_per_epoch, warmup_epochs=0, step_epochs=None,
                  step_gamma=0.1):
    """A learning-rate schedule over `epochs * steps_per_epoch` steps.

    cosine: linear warm-up then cosine decay to 0; step: lr * gamma at each epoch in
    `step_epochs` (default: 50% and 75% of the run); constant: lr.
    """
    import keras

    if kind not in SCHEDULES:
        raise ValueError(f"Unknown schedule {kind!r}; expected one of {SCHEDULES}.")
    total = max(1, epochs * steps_per_epoch)
    warmup = min(total - 1, warmup_epochs * steps_per_epoch)
    if kind == "constant":
        return lr
    if kind == "cosine":
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0, total - warmup, warmup_target=lr, warmup_steps=warmup)
        return keras.optimizers.schedules.CosineDecay(lr, total)
    step_epochs = step_epochs or [epochs // 2, epochs * 3 // 4]
    boundaries = sorted({max(1, e) * steps_per_epoch for e in step_epochs})
    values = [lr * step_gamma ** i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def make_optimizer(name, learning_rate, weight_decay, model, momentum=0.9):
    """SGD with Nesterov momentum or AdamW; decoupled weight decay on kernels only.

    BatchNorm scales / offsets and every bias (variables of rank <= 1) are excluded.
    """
    import keras

    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {OPTIMIZERS}.")
    if name == "sgd":
        opt = keras.optimizers.SGD(learning_rate, momentum=momentum, nesterov=True,
                                   weight_decay=weight_decay or None)
    else:
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    if weight_decay:
        opt.exclude_from_weight_decay(
            var_list=[v for v in model.trainable_variables if len(v.shape) <= 1])
    return opt


def steps_in(dataset):
    """Batches per epoch of a tf.data dataset or a `keras.utils.PyDataset` (0 when unknown)."""
    if hasattr(dataset, "cardinality"):
        return max(int(dataset.cardinality()), 0)
    return dataset.num_batches or 0


def batches(dataset):
    """(images, one-hot labels) NumPy batches of a tf.data dataset or a PyDataset, in order."""
    import keras

    if isinstance(dataset, keras.utils.PyDataset):
        for i in range(len(dataset)):
            yield dataset[i][:2]
    else:
        for images, labels in dataset:
            yield np.asarray(images), np.asarray(labels)


def predict_top_k(model, dataset, k=5):
    """(labels (N,), top-k class indices (N, k), best first) of `model` on `dataset`.

    The per-image record behind top-1 / top-5: two models scored on one validation set can be
    compared image by image (see `paired_comparison`).
    """
    import keras

    # Under MultiWorkerMirroredStrategy `predict_on_batch` gathers every worker's copy of the
    # batch (twice the rows on two workers); a plain call computes on this worker only.
    predict = (lambda x: model(x, training=False)) if _multi_worker(model) else \
        model.predict_on_batch
    labels, top = [], []
    for images, onehot in batches(dataset):
        scores = keras.ops.convert_to_numpy(predict(images)).astype(np.float32)
        top.append(np.argsort(-scores, axis=-1, kind="stable")[:, :k])
        labels.append(np.argmax(onehot, axis=-1))
    return np.concatenate(labels), np.concatenate(top)


def _multi_worker(model):
    """Whether `model` was built under a MultiWorkerMirroredStrategy."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    strategy = getattr(model, "distribute_strategy", None)
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def save_predictions(path, labels, top_k, class_names):
    """labels / top_k / class_names as an .npz (written to a temporary name, then renamed)."""
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, labels=labels, top_k=top_k, class_names=np.asarray(class_names))
    os.replace(tmp, path)


def paired_comparison(labels, top1_a, top1_b):
    """Two models' top-1 on the same images, compared image by image (exact McNemar test).

    Returns {"images", "both_right", "only_a", "only_b", "p_value"}: only_a counts the images
    model a gets right and b wrong. Under "a and b are equally accurate" only_a is
    Binomial(only_a + only_b, 1/2); p_value is the exact two-sided probability of a split at
    least this uneven. Far tighter than comparing two accuracies, whose standard errors
    (about 0.5 points each on 5,000 CIFAR images) ignore that both models see the same images.
    """
    import math

    labels, top1_a, top1_b = (np.asarray(v) for v in (labels, top1_a, top1_b))
    if not labels.shape == top1_a.shape == top1_b.shape:
        raise ValueError(f"paired comparison needs one prediction per image from both models: "
                         f"{labels.shape}, {top1_a.shape}, {top1_b.shape}")
    right_a, right_b = top1_a == labels, top1_b == labels
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    n = only_a + only_b
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2 ** n
    return {"images": int(labels.size), "both_right": int(np.sum(right_a & right_b)),
            "only_a": only_a, "only_b": only_b, "p_value": min(1.0, 2 * tail)}


# ------------------------------------------------------------------- resumable fitting


def read_state(run_dir):
    path = os.path.join(run_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_json_atomic(path, data):
    """`data` as JSON at `path`, replaced whole (see `atomic.replacing`)."""
    from keras_senet import atomic

    with atomic.replacing(path, unique=False) as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)


def new_state(config):
    return {"config": config, "epochs_done": {}, "checkpoint": None, "history": []}


CURVE_METRICS = ("loss", "accuracy")
BATCH_POINTS = 25


def window_ends(count, points=BATCH_POINTS):
    """The 1-based positions, among `count` reports, that end each of `min(points, count)`
    equal windows: window_ends(100, 25) == [4, 8, ..., 100]."""
    windows = min(points, count)
    return sorted({round((i + 1) * count / windows) for i in range(windows)})


def batch_curve(running, points=BATCH_POINTS):
    """An epoch's training curve at up to `points` places, from Keras' running means.

    Keras reports after batch k the mean of a metric over batches 1..k (m_k); the mean over
    batches a+1..b is (b m_b - a m_a) / (b - a), exact when the batches are the same size (an
    epoch's last, smaller batch makes its window approximate).

    Args:
        running: {k: {metric: m_k}} for the batches k (1-based) Keras reported.
        points: the most windows to keep.

    Returns:
        {"at": [end of each window, as a fraction of the epoch], metric: [window means]};
        empty when no batch was reported.
    """
    seen = sorted(running)
    if not seen:
        return {}
    total = seen[-1]
    ends = [seen[j - 1] for j in window_ends(len(seen), points)]
    curve = {"at": [round(k / total, 6) for k in ends]}
    for metric in CURVE_METRICS:
        if all(metric in running[k] for k in ends):
            means, start, before = [], 0, 0.0
            for k in ends:
                mean = (k * running[k][metric] - start * before) / (k - start)
                means.append(round(mean, 6) + 0.0)  # + 0.0: no -0.0 from round-off
                start, before = k, running[k][metric]
            curve[metric] = means
    return curve


def _checkpointer(run_dir, state, phase):
    import keras

    class Checkpointer(keras.callbacks.Callback):
        """After each epoch: weights + optimiser to a new file, then state.json (with the
        epoch's per-batch curve, `batch_curve`). Of the batches, only those ending a window
        of the curve are read (each read waits for the device)."""

        async_safe = True  # batch records go into a dict by batch index, in any order

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.time()
            self._running = {}
            steps = self.params.get("steps") if self.params else None
            self._wanted = set(window_ends(steps)) if steps else None

        def on_train_batch_end(self, batch, logs=None):
            if self._wanted is None or batch + 1 in self._wanted:
                self._running[batch + 1] = {k: float(v) for k, v in (logs or {}).items()
                                            if k in CURVE_METRICS}

        def on_epoch_end(self, epoch, logs=None):
            name = f"ckpt-{phase}-{epoch + 1}.weights.h5"
            path = os.path.join(run_dir, name)
            self.model.save_weights(path)
            old = state["checkpoint"]
            state["checkpoint"] = name
            state["epochs_done"][phase] = epoch + 1
            record = {"phase": phase, "epoch": epoch + 1,
                      "seconds": round(time.time() - self._start, 2)}
            record.update({k: float(v) for k, v in (logs or {}).items()})
            record["batches"] = batch_curve(getattr(self, "_running", {}))
            state["history"].append(record)
            write_json_atomic(os.path.join(run_dir, STATE_FILE), state)
            if old and old != name and os.path.exists(os.path.join(run_dir, old)):
                os.remove(os.path.join(run_dir, old))

    return Checkpointer()


def save_tensors(model, path, metadata=None):
    """The model's variables as Keras-layout safetensors ({variable path: array}), written
    atomically (`checkpoint_io.write_safetensors`)."""
    import keras

    from keras_senet.weights import checkpoint_io

    tensors = {v.path: keras.ops.convert_to_numpy(v) for v in model.weights}
    checkpoint_io.write_safetensors(path, tensors, metadata or {})


def save_model(model, path):
    """`model.save(path)` (a `.keras` file) through a temporary file beside `path`, renamed
    over it once complete: a process killed while saving leaves the previous file, or none,
    never a truncated one. Only one process may write a given `path` at a time."""
    from keras_senet import atomic

    with atomic.replacing(path, suffix=".keras", unique=False) as tmp:
        model.save(tmp)


def load_tensors(model, path):
    from keras_senet.weights import checkpoint_io, resolve

    tensors, _ = checkpoint_io.read_safetensors(path)
    resolve.assign(model, tensors)


def _strategy_scope(model):
    """The scope of the tf.distribute strategy `model` was built under (a no-op scope on
    other backends)."""
    import contextlib

    strategy = getattr(model, "distribute_strategy", None)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


@dataclasses.dataclass
class Phase:
    """One `fit` of a run: its name, epochs, and `setup(model) -> compiled model`."""

    name: str
    epochs: int
    setup: object


def _tensorboard(log_dir):
    """A TensorBoard callback, or none (with a note) when tensorboard is not installed."""
    import importlib.util

    import keras

    if importlib.util.find_spec("tensorboard") is None:
        print("tensorboard is not installed: no TensorBoard logs "
              "(pip install 'keras-senet[data]')")
        return []
    from keras_senet.data_pipeline import tensorflow_installed

    if not tensorflow_installed():  # Keras writes its TensorBoard summaries with tf.summary
        print("TensorFlow is not installed: no TensorBoard logs")
        return []
    return [keras.callbacks.TensorBoard(log_dir)]


def fit_phases(model, phases, train_ds, val_ds, run_dir, state, callbacks=(), verbose="auto",
               read_dir=None, steps_per_epoch=None):
    """Runs the phases in order, skipping what `state` records as done.

    A phase with completed epochs resumes from the checkpoint (weights and optimiser); a
    phase that has not started takes the weights the previous phase ended with. The model
    comes back compiled by the last phase, holding its final weights, also when every
    phase was already done (a rerun, or a run killed after its last checkpoint).

    Args:
        callbacks: Keras callbacks, run before the checkpointer (what they change at an
            epoch's end is in its checkpoint).
        read_dir: where `state`'s checkpoints and finished phases are read (default
            `run_dir`): a multi-worker run's non-chief workers write to a folder of their
            own and resume from the chief's run directory.
        steps_per_epoch: for a training set that repeats without end (a multi-worker run's
            shards); None: one pass over `train_ds` per epoch.
    """
    read_dir = read_dir or run_dir
    previous, ran = None, False
    for number, phase in enumerate(phases, 1):
        done = state["epochs_done"].get(phase.name, 0)
        finished = os.path.join(run_dir, f"{phase.name}.safetensors")
        if done >= phase.epochs and os.path.exists(
                os.path.join(read_dir, f"{phase.name}.safetensors")):
            previous = phase
            continue
        phase.setup(model)
        if done:
            with _strategy_scope(model):  # a distributed optimiser's variables need it
                model.optimizer.build(model.trainable_variables)
                model.load_weights(os.path.join(read_dir, state["checkpoint"]))
            print(f"[{phase.name}] resuming after epoch {done} of {phase.epochs} "
                  f"from {state['checkpoint']}")
        elif previous is not None:
            load_tensors(model, os.path.join(read_dir, f"{previous.name}.safetensors"))
        if done < phase.epochs:
            if hasattr(train_ds, "epoch"):  # array_pipeline: augmentations follow the epoch
                train_ds.epoch = done
            print(f"[{phase.name}] phase {number} of {len(phases)}: epochs {done + 1}.."
                  f"{phase.epochs} of {phase.epochs}")
            # A tf.data pipeline shuffles itself; Keras warns when told to shuffle one.
            model.fit(train_ds, validation_data=val_ds, epochs=phase.epochs,
                      initial_epoch=done, shuffle=not hasattr(train_ds, "cardinality"),
                      steps_per_epoch=steps_per_epoch,
                      callbacks=[*callbacks, _checkpointer(run_dir, state, phase.name),
                                 *_tensorboard(os.path.join(run_dir, "logs", phase.name))],
                      verbose=verbose)
        save_tensors(model, finished)
        previous, ran = phase, True
    if previous is not None and not ran:  # nothing to do in this process
        previous.setup(model)
        load_tensors(model, os.path.join(read_dir, f"{previous.name}.safetensors"))
    return state


def curve_series(history):
    """The lines of `plot_curves`: {metric: {label: (x, y)}} for "loss" and "accuracy".

    x counts epochs from the start of the run (all phases): an epoch's per-batch windows
    (`batch_curve`) lie between its start and its end, its train mean and its validation
    score at its end. So even a one-epoch run draws a curve.
    """
    series = {}
    for metric in CURVE_METRICS:
        lines = {"train, per batch": ([], []), "train, epoch mean": ([], []),
                 "validation": ([], [])}
        for i, record in enumerate(history):
            batches = record.get("batches") or {}
            if metric in batches:
                lines["train, per batch"][0].extend(i + a for a in batches["at"])
                lines["train, per batch"][1].extend(batches[metric])
            for label, key in (("train, epoch mean", metric), ("validation", f"val_{metric}")):
                if record.get(key) is not None:
                    lines[label][0].append(i + 1)
                    lines[label][1].append(record[key])
        series[metric] = {label: xy for label, xy in lines.items() if xy[0]}
    return series


def _phase_spans(history):
    """[(name, first epoch - 1, last epoch)] of consecutive records of one phase."""
    spans = []
    for i, record in enumerate(history):
        if spans and spans[-1][0] == record["phase"]:
            spans[-1][2] = i + 1
        else:
            spans.append([record["phase"], i, i + 1])
    return [tuple(span) for span in spans]


def plot_curves(history, path, title=""):
    """Loss and top-1 accuracy as a PNG: the training curve per batch window, each epoch's
    train mean and validation score, and the phases (frozen / unfrozen, ...) marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {"train, per batch": dict(color="C0", lw=1, alpha=0.6),
              "train, epoch mean": dict(color="C0", ls="none", marker="o", ms=5),
              "validation": dict(color="C1", ls="--", marker="s", ms=5)}
    spans = _phase_spans(history)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (metric, lines) in zip(axes, curve_series(history).items()):
        label = "loss" if metric == "loss" else "top-1 accuracy"
        for name, (x, y) in lines.items():
            ax.plot(x, y, label=f"{name}", **styles[name])
        for name, first, last in spans if len(spans) > 1 else ():
            if first:
                ax.axvline(first, color="grey", lw=0.8)
            ax.text((first + last) / 2, 0.98, name, transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=8, color="grey")
        ax.set_xlim(0, max(len(history), 1))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if lines:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def compile_model(model, optimizer, label_smoothing=0.0):
    """Cross-entropy on one-hot labels, top-1 and top-5 accuracy."""
    import keras

    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                 keras.metrics.TopKCategoricalAccuracy(5, name="top5")])
    return model
