"""Inference and training-step speed of keras_senet models beside their comparison models.

    from keras_senet.benchmark import BenchSettings, run_benchmark, to_markdown
    record = run_benchmark(["seresnet50", "keras:ResNet50", "timm:seresnet50"],
                           BenchSettings(batch_sizes=(1, 32), input_size=224))
    print(to_markdown(record))

Model strings:
    NAME                a keras_senet registry name, built with `create_model`
    keras:NAME          `keras.applications.NAME` (e.g. keras:ResNet50)
    timm:NAME           the timm model NAME in PyTorch (eager), channels_last
    ...@xla             TensorFlow backend: `tf.function(jit_compile=True)` (JAX always jits)
    timm:NAME@compile   the timm model through `torch.compile`

Every model is built in one process and the timed repeats are interleaved (repeat r runs each
model once, in a rotated order), so load from other processes hits all models alike and the
ratios stay fair. A figure is the median over repeats of (time of `iters` steps) / `iters`,
after `warmup` untimed steps; min and max over repeats are kept as the spread.

Keras models run the way a tuned program would on each backend: TensorFlow through a
`tf.function` (optionally XLA), JAX through a jitted `model.stateless_call` (inference) and a
jitted stateless SGD step (training); other backends fall back to `predict_on_batch` /
`train_on_batch`. Training steps are SGD with momentum on random labels (no loss scaling for
float16: this measures speed, not convergence).
"""

import dataclasses
import gc
import math
import os
import platform
import statistics
import sys
import time

PRECISIONS = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
MODES = ("infer", "train")
ENV_VARS = ("KERAS_BACKEND", "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "KMP_BLOCKTIME",
            "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "XLA_PYTHON_CLIENT_MEM_FRACTION",
            "CUDA_VISIBLE_DEVICES")
OPTIONS = {"senet": (None, "xla"), "keras": (None, "xla"), "timm": (None, "compile")}


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """What to measure.

    Attributes:
        batch_sizes: inference batch sizes (batch 1 gives latency).
        train_batch_sizes: training-step batch sizes; () skips training.
        input_size: square input side S (inputs are (B, S, S, 3), or (B, 3, S, S) for timm).
        precision: "float32" | "bfloat16" | "float16" (Keras mixed-precision policy; torch
            autocast).
        repeats: timed repeats per (model, mode, batch); the figure is their median.
        warmup: untimed steps after the first (compiling) call.
        min_repeat_s: each repeat runs enough steps to last about this long.
        classes: classifier width.
        threads: CPU threads for TensorFlow and torch (None: the frameworks' default).
        peak_tflops: the device's peak for `precision`, for the MFU column (None: no MFU).
    """

    batch_sizes: tuple = (1, 32)
    train_batch_sizes: tuple = ()
    input_size: int = 224
    precision: str = "float32"
    repeats: int = 5
    warmup: int = 2
    min_repeat_s: float = 1.0
    classes: int = 1000
    threads: int | None = None
    peak_tflops: float | None = None

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, "
                             f"received {self.precision!r}.")
        if self.repeats < 1 or self.warmup < 0:
            raise ValueError(f"repeats must be >= 1 and warmup >= 0, received "
                             f"repeats={self.repeats}, warmup={self.warmup}.")
        if not self.batch_sizes and not self.train_batch_sizes:
            raise ValueError("Give at least one inference or training batch size.")
        if min((*self.batch_sizes, *self.train_batch_sizes)) < 1:
            raise ValueError("Batch sizes must be positive integers.")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A parsed model string: `kind` is "senet", "keras" or "timm"."""

    label: str
    kind: str
    name: str
    option: str | None = None


def parse_model(text):
    """"timm:seresnet50@compile" -> Candidate("timm:seresnet50@compile", "timm", ...)."""
    base, _, option = text.partition("@")
    option = option or None
    if base.startswith("keras:"):
        kind, name = "keras", base[len("keras:"):]
    elif base.startswith("timm:"):
        kind, name = "timm", base[len("timm:"):]
    else:
        from keras_senet import get_spec

        kind, name = "senet", base
        get_spec(name)  # raises a ValueError naming close matches
    if not name:
        raise ValueError(f"Model string {text!r} names no model; e.g. 'keras:ResNet50'.")
    if option not in OPTIONS[kind]:
        allowed = [o for o in OPTIONS[kind] if o]
        raise ValueError(f"Model string {text!r}: unknown option @{option} for a {kind} model; "
                         f"allowed: {['@' + o for o in allowed]}.")
    return Candidate(text, kind, name, option)


# ---------------------------------------------------------------------------------------------
# Memory and machine description


def _status_mb(field):
    """A `/proc/self/status` field (VmRSS, VmHWM) in MB; None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Resets the kernel's peak-RSS mark (VmHWM) of this process, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb():
    peak = _status_mb("VmHWM")
    if peak is None:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak


def _version(dist):
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _gpus():
    import shutil
    import subprocess
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
            return [line.strip() for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    return []


def describe_machine():
    """Host, CPU, GPUs and load average (a loaded, shared machine shows here)."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "usable_cpus": usable, "gpus": _gpus(),
            "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
            "load_avg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def describe_versions():
    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "keras_backend": keras.backend.backend()}
    for dist in ("keras-senet", "tensorflow", "jax", "jaxlib", "torch", "timm", "numpy"):
        versions[dist] = _version(dist)
    import keras_senet
    versions["keras-senet"] = keras_senet.__version__
    return versions


# ---------------------------------------------------------------------------------------------
# Runners: build a model, then hand out step functions that run one batch and block.


def write_profile(out, settings, results, markdown):
    """OUT.json ({machine, versions, settings, results}) and OUT.md (`markdown`) of a profile
    or lever script under applications/."""
    import json

    record = {"machine": describe_machine(), "versions": describe_versions(),
              "settings": settings, "results": results}
    with open(out + ".json", "w") as f:
        json.dump(record, f, indent=1)
    with open(out + ".md", "w") as f:
        f.write(markdown + "\n")


def write_record(record, out, markdown, plot=None):
    """OUT.json (`record`), OUT.md (`markdown`) and, with `plot(record, path)`, OUT.png (none,
    with a note on stderr, when matplotlib is missing); creates OUT's folder. Prints the
    markdown and what was written.

    Returns:
        The paths written.
    """
    import json

    directory = os.path.dirname(out)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(out + ".json", "w") as f:
        json.dump(record, f, indent=1)
    with open(out + ".md", "w") as f:
        f.write(markdown)
    written = [out + ".json", out + ".md"]
    if plot is not None:
        try:
            plot(record, out + ".png")
            written.append(out + ".png")
        except ImportError:
            print("no chart: matplotlib is not installed (pip install keras-senet[data])",
                  file=sys.stderr)
    print(markdown)
    print("wrote " + ", ".join(written))
    return written


def _random_batch(batch, size, classes, channels_first=False, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = (batch, 3, size, size) if channels_first else (batch, size, size, 3)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, classes, size=(batch,)).astype("int32")
    return x, y


class KerasRunner:
    """A Keras model (keras_senet or keras.applications) on the current Keras backend."""

    framework = "keras"

    def __init__(self, candidate, settings):
        self.candidate = candidate
        self.settings = settings
        self.model = None

    def build(self):
        import keras

        shape = (self.settings.input_size, self.settings.input_size, 3)
        if self.candidate.kind == "senet":
            from keras_senet import create_model
            self.model = create_model(self.candidate.name, input_shape=shape,
                                      classes=self.settings.classes,
                                      classifier_activation=None)
        else:
            constructor = getattr(keras.applications, self.candidate.name, None)
            if constructor is None:
                raise ValueError(f"keras.applications has no {self.candidate.name!r}; "
                                 f"e.g. 'keras:ResNet50'.")
            self.model = constructor(weights=None, input_shape=shape,
                                     classes=self.settings.classes,
                                     classifier_activation=None)

    def stats(self):
        from keras_senet.flops import count_macs, count_params
        return {"params": count_params(self.model), "macs": count_macs(self.model)}

    def step(self, mode, batch):
        import keras

        backend = keras.backend.backend()
        x, y = _random_batch(batch, self.settings.input_size, self.settings.classes)
        jit = self.candidate.option == "xla"
        if backend == "tensorflow":
            return (_tf_infer if mode == "infer" else _tf_train)(self.model, x, y, jit)
        if backend == "jax":
            return (_jax_infer if mode == "infer" else _jax_train)(self.model, x, y)
        return (_generic_infer if mode == "infer" else _generic_train)(self.model, x, y)


def _loss_fn():
    import keras
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _optimizer():
    import keras
    return keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)


def _tf_infer(model, x, y, jit):
    import tensorflow as tf

    fn = tf.function(lambda inputs: model(inputs, training=False), jit_compile=jit)
    x = tf.constant(x)
    return lambda: fn(x).numpy()


def _tf_train(model, x, y, jit):
    import tensorflow as tf
    from keras import ops

    loss_fn, optimizer = _loss_fn(), _optimizer()
    optimizer.build(model.trainable_variables)
    x, y = tf.constant(x), tf.constant(y)

    @tf.function(jit_compile=jit)
    def train(inputs, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, ops.cast(model(inputs, training=True), "float32"))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return lambda: train(x, y).numpy()


def _jax_infer(model, x, y):
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def forward(tv, ntv, inputs):
        return model.stateless_call(tv, ntv, inputs, training=False)[0]

    x = jax.device_put(x)
    return lambda: forward(trainable, non_trainable, x).block_until_ready()


def _jax_train(model, x, y):
    import jax
    import jax.numpy as jnp
    from keras import ops

    loss_fn, optimizer = _loss_fn(), _optimizer()
    optimizer.build(model.trainable_variables)

    def loss_and_state(tv, ntv, inputs, labels):
        logits, ntv = model.stateless_call(tv, ntv, inputs, training=True)
        return loss_fn(labels, ops.cast(logits, "float32")), ntv

    grad_fn = jax.value_and_grad(loss_and_state, has_aux=True)

    @jax.jit
    def train(state, inputs, labels):
        tv, ntv, ov = state
        (loss, ntv), grads = grad_fn(tv, ntv, inputs, labels)
        tv, ov = optimizer.stateless_apply(ov, grads, tv)
        return (tv, ntv, ov), loss

    # Copies: the model's own variables stay valid for the inference runs.
    state = [tuple(jnp.array(v.value) for v in variables) for variables in
             (model.trainable_variables, model.non_trainable_variables, optimizer.variables)]
    x, y = jax.device_put(x), jax.device_put(y)

    def step():
        new_state, loss = train(tuple(state), x, y)
        state[:] = new_state
        loss.block_until_ready()

    return step


def _generic_infer(model, x, y):
    return lambda: model.predict_on_batch(x)


def _generic_train(model, x, y):
    model.compile(optimizer=_optimizer(), loss=_loss_fn())
    return lambda: model.train_on_batch(x, y)


class TimmRunner:
    """The timm twin in PyTorch: CUDA when available, channels_last, autocast for bf16/fp16."""

    framework = "torch"

    def __init__(self, candidate, settings):
        self.candidate = candidate
        self.settings = settings
        self.model = None

    def build(self):
        import timm
        import torch

        if self.settings.threads:
            torch.set_num_threads(self.settings.threads)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(
            self.settings.precision)
        model = timm.create_model(self.candidate.name, pretrained=False,
                                  num_classes=self.settings.classes)
        self.model = model.to(self.device).to(memory_format=torch.channels_last)
        self.run_model = (torch.compile(self.model) if self.candidate.option == "compile"
                          else self.model)

    def stats(self):
        return {"params": sum(p.numel() for p in self.model.parameters()), "macs": None}

    def _sync(self):
        import torch
        if self.device == "cuda":
            torch.cuda.synchronize()

    def step(self, mode, batch):
        import torch
        import torch.nn.functional as F

        x, y = _random_batch(batch, self.settings.input_size, self.settings.classes,
                             channels_first=True)
        x = torch.from_numpy(x).to(self.device).contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(y).long().to(self.device)

        def autocast():
            return torch.autocast(self.device, dtype=self.dtype or torch.float32,
                                  enabled=self.dtype is not None)

        if mode == "infer":
            self.model.eval()

            def infer():
                with torch.inference_mode(), autocast():
                    self.run_model(x)
                self._sync()
            return infer

        self.model.train()
        optimizer = torch.optim.SGD(self.model.parameters(), lr=1e-3, momentum=0.9)

        def train():
            with autocast():
                loss = F.cross_entropy(self.run_model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self._sync()
        return train


def make_runner(candidate, settings):
    return (TimmRunner if candidate.kind == "timm" else KerasRunner)(candidate, settings)


# ---------------------------------------------------------------------------------------------
# The measurement


def configure(settings):
    """Sets the Keras dtype policy and thread counts; returns a function undoing the policy."""
    import keras

    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(PRECISIONS[settings.precision] or "float32")
    if settings.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        try:
            tf.config.threading.set_intra_op_parallelism_threads(settings.threads)
            tf.config.threading.set_inter_op_parallelism_threads(settings.threads)
        except RuntimeError:  # TF already initialised in this process: keep its threads
            pass
    return lambda: keras.config.set_dtype_policy(previous)


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _mfu(macs, img_s, mode, peak_tflops):
    """Achieved FLOP/s over the peak: 2 FLOPs per multiply-add; a training step counts as 3
    forward passes (forward + backward for activations and weights)."""
    if not macs or not peak_tflops:
        return None
    passes = 1 if mode == "infer" else 3
    return 2 * passes * macs * img_s / (peak_tflops * 1e12)


def time_interleaved(steps, repeats, min_repeat_s, log=None):
    """Seconds per call of each warmed-up step, `repeats` times, in a rotating order.

    Args:
        steps: {label: callable}; each call must finish its work (results materialised).
        repeats: how many timings per step.
        min_repeat_s: each timing loops a step for at least this long (sized by one call).
        log: called with a progress line after each repeat, or None.

    Returns:
        `(times, iters)`: {label: [seconds per call] * repeats}, {label: calls per timing}.
        The order of the steps shifts by one every repeat, so load from other processes
        falls on all of them alike.
    """
    iters = {label: max(1, math.ceil(min_repeat_s / max(_timed(step), 1e-6)))
             for label, step in steps.items()}
    times = {label: [] for label in steps}
    labels = list(steps)
    for r in range(repeats):
        shift = r % len(labels)
        for label in labels[shift:] + labels[:shift]:
            n, step = iters[label], steps[label]
            times[label].append(_timed(lambda: [step() for _ in range(n)]) / n)
        if log:
            log(f"repeat {r + 1}/{repeats} done")
    return times, iters


def measure_group(runners, mode, batch, settings, log=print):
    """Times one (mode, batch) for every runner, repeats interleaved; returns result rows."""
    steps, first_call, peak_rss = {}, {}, {}
    for label, runner in runners.items():
        _reset_peak_rss()
        step = runner.step(mode, batch)
        first_call[label] = _timed(step)
        for _ in range(settings.warmup):
            step()
        peak_rss[label] = _peak_rss_mb()
        steps[label] = step
    times, iters = time_interleaved(
        steps, settings.repeats, settings.min_repeat_s,
        log=lambda message: log(f"  {mode} batch {batch}: {message}"))
    labels = list(runners)
    rows = []
    for label in labels:
        t = times[label]
        median = statistics.median(t)
        rows.append({
            "model": label, "mode": mode, "batch": batch,
            "img_s": batch / median, "img_s_min": batch / max(t), "img_s_max": batch / min(t),
            "ms": 1e3 * median, "ms_min": 1e3 * min(t), "ms_max": 1e3 * max(t),
            "ms_repeats": [round(1e3 * v, 3) for v in t],
            "iters_per_repeat": iters[label], "first_call_s": first_call[label],
            "peak_rss_mb": peak_rss[label],
        })
    del steps
    gc.collect()
    return rows


def run_benchmark(models, settings, baseline=None, log=print):
    """Builds every model, measures all (mode, batch) groups and returns the JSON record.

    Args:
        models: model strings (see the module docstring); timm ones are skipped, with a
            note in the record, when torch or timm cannot be imported.
        settings: a `BenchSettings`.
        baseline: the label that ratios refer to (default: the first model).

    Returns:
        {"machine", "versions", "settings", "models": {label: build figures},
         "results": [rows], "baseline", "skipped", "timestamp"}; each row has img/s and
         ms per batch (median, min, max over repeats), `time_ratio` (ms / baseline ms) and
         `mfu` when `settings.peak_tflops` is set.
    """
    skipped, torch_error = {}, None
    if any(m.startswith("timm:") for m in models):
        if settings.threads and "torch" not in sys.modules:
            # With a fixed thread count on a shared CPU, OpenMP's spin-waiting barriers make
            # torch up to 30x slower whenever another process holds a core; sleep instead.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # torch first: importing it after TensorFlow can crash (torchvision, via timm).
        try:
            import timm  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            torch_error = e
    candidates = [parse_model(m) for m in models]
    if len({c.label for c in candidates}) != len(candidates):
        raise ValueError(f"Model strings repeat in {models}; give each once.")
    if torch_error is not None:
        skipped = {c.label: f"torch/timm not importable: {torch_error}"
                   for c in candidates if c.kind == "timm"}
        candidates = [c for c in candidates if c.kind != "timm"]
    if not candidates:
        raise ValueError(f"No model left to benchmark in {models} ({skipped}).")
    baseline = baseline or candidates[0].label
    if baseline not in {c.label for c in candidates}:
        raise ValueError(f"baseline {baseline!r} is not among the models "
                         f"{[c.label for c in candidates]}.")
    machine = describe_machine()
    restore = configure(settings)
    try:
        runners, built = {}, {}
        for c in candidates:
            runner = make_runner(c, settings)
            _reset_peak_rss()
            rss_before = _status_mb("VmRSS")
            build_s = _timed(runner.build)
            rss_after = _status_mb("VmRSS")
            built[c.label] = {"kind": c.kind, "name": c.name, "option": c.option,
                              "framework": runner.framework, "build_s": build_s,
                              "rss_added_mb": (rss_after - rss_before) if rss_after else None,
                              **runner.stats()}
            runners[c.label] = runner
            log(f"built {c.label} in {build_s:.2f} s")
        _share_macs(built, settings.input_size)
        results = []
        groups = [("infer", b) for b in settings.batch_sizes]
        groups += [("train", b) for b in settings.train_batch_sizes]
        for mode, batch in groups:
            results += measure_group(runners, mode, batch, settings, log=log)
    finally:
        restore()
    for row in results:
        base = next(r for r in results if r["mode"] == row["mode"]
                    and r["batch"] == row["batch"] and r["model"] == baseline)
        row["time_ratio"] = row["ms"] / base["ms"]
        row["mfu"] = _mfu(built[row["model"]]["macs"], row["img_s"], row["mode"],
                          settings.peak_tflops)
    machine["load_avg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    machine["peak_rss_mb"] = _peak_rss_mb()
    return {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine,
            "versions": describe_versions(), "settings": dataclasses.asdict(settings),
            "baseline": baseline, "models": built, "results": results, "skipped": skipped}


def _share_macs(built, input_size):
    """timm twins get the multiply-adds of the same-named Keras model in the run, or of the
    shipped stats table when the input size matches it."""
    from keras_senet.stats import load_stats

    by_name = {b["name"]: b["macs"] for b in built.values() if b["macs"]}
    try:
        table = load_stats()
    except (FileNotFoundError, ValueError):  # table not generated yet
        table = {}
    for b in built.values():
        if b["macs"] is None:
            b["macs"] = by_name.get(b["name"])
        row = table.get(b["name"])
        if b["macs"] is None and row and row["input_size"] == input_size:
            b["macs"] = int(row["gmacs"] * 1e9)


# ---------------------------------------------------------------------------------------------
# Reports


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def to_markdown(record):
    """The record as markdown: one table per (mode, batch), then the build figures."""
    s = record["settings"]
    v = record["versions"]
    lines = [f"Backend {v['keras_backend']}, {s['precision']}, {s['input_size']}x"
             f"{s['input_size']}, median of {s['repeats']} interleaved repeats; "
             f"time ratio vs `{record['baseline']}`."]
    show_mfu = s.get("peak_tflops") is not None
    groups = []
    for row in record["results"]:
        if (row["mode"], row["batch"]) not in groups:
            groups.append((row["mode"], row["batch"]))
    for mode, batch in groups:
        title = "inference" if mode == "infer" else "training step"
        lines += ["", f"**{title}, batch {batch}**", ""]
        header = "| model | img/s | ms / batch (median) | min - max ms | time ratio |"
        rule = "|---|---:|---:|---:|---:|"
        if show_mfu:
            header, rule = header + " MFU |", rule + "---:|"
        lines += [header, rule]
        for row in record["results"]:
            if (row["mode"], row["batch"]) != (mode, batch):
                continue
            line = (f"| {row['model']} | {row['img_s']:,.1f} | {row['ms']:,.1f} | "
                    f"{row['ms_min']:,.1f} - {row['ms_max']:,.1f} | {row['time_ratio']:.3f} |")
            if show_mfu:
                line += f" {_fmt(row['mfu'] and 100 * row['mfu'], '.1f')}% |"
            lines.append(line)
    lines += ["", "| model | params (M) | GMACs | build s | RSS added (MB) |",
              "|---|---:|---:|---:|---:|"]
    for label, b in record["models"].items():
        lines.append(f"| {label} | {b['params'] / 1e6:.2f} | "
                     f"{_fmt(b['macs'] and b['macs'] / 1e9, '.3f')} | {b['build_s']:.2f} | "
                     f"{_fmt(b['rss_added_mb'], '.0f')} |")
    for label, why in record.get("skipped", {}).items():
        lines.append(f"\nskipped {label}: {why}")
    return "\n".join(lines) + "\n"


def plot(record, path):
    """A PNG bar chart: img/s per model (error bars: min - max over repeats), one panel per
    (mode, batch)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = []
    for row in record["results"]:
        if (row["mode"], row["batch"]) not in groups:
            groups.append((row["mode"], row["batch"]))
    labels = list(record["models"])
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 0.45 * len(labels) + 1.6),
                             squeeze=False)
    for ax, (mode, batch) in zip(axes[0], groups):
        rows = {r["model"]: r for r in record["results"]
                if r["mode"] == mode and r["batch"] == batch}
        values = [rows[m]["img_s"] for m in labels]
        err = [[rows[m]["img_s"] - rows[m]["img_s_min"] for m in labels],
               [rows[m]["img_s_max"] - rows[m]["img_s"] for m in labels]]
        ax.barh(range(len(labels)), values, xerr=err, color="tab:blue", capsize=2)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels),
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{'inference' if mode == 'infer' else 'train step'}, batch {batch}",
                     fontsize=9)
        ax.set_xlabel("img/s", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    s = record["settings"]
    fig.suptitle(f"{record['versions']['keras_backend']}, {s['precision']}, "
                 f"{s['input_size']}px", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
