"""The fastest correct way to serve one SE / SK model on a CPU: every deployment runtime,
timed call by call in one process, with its accuracy against the Keras model.

    PYTHONPATH=. python applications/benchmark_deploy.py --model seresnet50 --size 224 \
        --batch 8 --threads 1 2 --repeats 10 --images /tmp/cifar_sample \
        --out applications/benchmarks/cpu_deploy_seresnet50

Writes PREFIX.json (machine, versions, settings, exports, every cell), PREFIX.md (one table
per batch x threads) and PREFIX.png (time ratio vs the Keras model; --no-plot skips it).

The model: `keras_senet.create_model(NAME, weights=None, input_shape=(S, S, 3),
classifier_activation=None)`, random weights (seeded, nothing is downloaded), logits out,
with BatchNorm statistics of images rather than the initial (0, 1): one forward pass in
training mode over `--bn-images` (16) images with every BatchNorm's momentum set to 0, so
each moving mean / variance becomes that of the activations the layer sees (as training on
such images leaves them; each layer's input is normalised by the statistics already set).
The images are the --images folder's, else `keras_senet.export.natural_images`, and never
the ones the accuracy is measured on.

Exports, each through the library (`keras_senet.export.export`, its own verification on;
quantised TFLite files reported, not judged: atol=inf): SavedModel, TFLite float32 /
float16 / dynamic-range int8 / full-integer int8 (calibrated on --calibration-images (32)
images: the --calibration-data folder's, resized to S x S bilinearly and passed as an array
so that small images such as CIFAR's are accepted, else natural_images; disjoint from the
accuracy and BatchNorm images when the folder is the --images one), ONNX, OpenVINO
(format="openvino"), and Keras' own `model.export(...,
format="openvino")` as a reference. An export that fails, or a format or package that is
missing, becomes a row saying why; nothing else is skipped.

Runtimes (--runtimes), each used the way a tuned server would, with its thread count set:
    keras           the Keras model in one tf.function, on normalised input (baseline, 1.0)
    saved_model     the reloaded SavedModel's serving_default: 0..255 pixels in,
                    normalisation, softmax and top-k in the graph (compared on probabilities)
    tflite_f32 / tflite_f16 / tflite_dynamic / tflite_int8
                    ai_edge_litert Interpreter(num_threads=N), input resized to the batch and
                    allocated once; a call is set_tensor + invoke + get_tensor
    onnx            onnxruntime CPU, intra_op_num_threads=N, inter_op 1, sequential, all
                    graph optimisations, intra-op spinning off (spinning threads would eat
                    the next runtime's CPU in the interleaved loop)
    openvino        the library's OpenVINO IR, reshaped to the static batch, compiled for CPU
                    with PERFORMANCE_HINT=LATENCY, INFERENCE_NUM_THREADS=N and
                    INFERENCE_PRECISION_HINT=f32 (on CPUs with bf16 / AMX OpenVINO otherwise
                    computes in bfloat16)
    openvino_bf16   the same IR with INFERENCE_PRECISION_HINT=bf16 (what OpenVINO does by
                    default on such CPUs), to show what it costs in accuracy
    openvino_keras  Keras' own OpenVINO IR, compiled as `openvino`

Processes: the parent only orchestrates and merges JSON. One subprocess of this program
builds the model and sets its BatchNorms (`--stage prepare`, saving the weights), one per
export writes it (`--stage export`: a process that ran the converters keeps gigabytes of
their state; in one process the exports of SE-ResNet-50 at 224 grew past 10 GB and were
killed; `--export-processes one` makes them in the prepare process, for small models), and one
per thread count times (`--stage time`): TensorFlow's thread pools
(tf.config.threading: intra-op N, inter-op 1) can only be set before TensorFlow runs
anything. Every runtime in a timing subprocess gets the same N.

Timing: per (batch, threads), every runtime is built, called --warmup times, then timed
--repeats times, one call per runtime per repeat, the order rotating by one each repeat
(`keras_senet.benchmark.time_interleaved`), so load from other processes hits them alike.
A cell keeps the median, the quartiles (IQR) and min / max of its calls; ratio = its
median / the Keras median of the same (batch, threads).

Throughput: FLOPs per image = 2 x `keras_senet.flops.count_macs(model)` (a multiply-add is
2 FLOPs; convolutions, dense layers, SE / SK squeeze and scale as in the papers) at size S.
The fp32 peak of N threads = N cores x lanes x 2 FMA units x 2 FLOPs x clock, with 16 fp32
lanes for avx512f, 8 for avx2 + fma (from /proc/cpuinfo), 2 FMA units per core assumed, and
the clock from /sys cpufreq cpuinfo_max_freq, else /proc/cpuinfo `cpu MHz` (the output
states which).

Accuracy (per runtime at --batch, computed by the subprocess with the most threads): over
--accuracy-images (64) images, the --images folder's (every image resized to S x S
bilinearly, e.g. 32 px CIFAR-10 images upsampled) else natural_images: the largest
|output - Keras output|, that over max|Keras output| (relative), and the fraction whose top-1
class is the Keras model's. Logits for every runtime but saved_model, whose probabilities
are compared with the softmax of the Keras logits.
"""

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# runtime -> the export it runs (None: the Keras model itself)
RUNTIMES = {
    "keras": None,
    "saved_model": "saved_model",
    "tflite_f32": "tflite_f32",
    "tflite_f16": "tflite_f16",
    "tflite_dynamic": "tflite_dynamic",
    "tflite_int8": "tflite_int8",
    "onnx": "onnx",
    "openvino": "openvino",
    "openvino_bf16": "openvino",
    "openvino_keras": "openvino_keras",
}
BASELINE = "keras"
TFLITE_QUANTIZE = {"tflite_f32": None, "tflite_f16": "float16", "tflite_dynamic": "dynamic",
                   "tflite_int8": "int8"}
RUNTIME_LABELS = {
    "keras": "Keras model in a tf.function",
    "saved_model": "SavedModel serving_default",
    "tflite_f32": "TFLite float32 (LiteRT)",
    "tflite_f16": "TFLite float16 weights (LiteRT)",
    "tflite_dynamic": "TFLite dynamic-range int8 (LiteRT)",
    "tflite_int8": "TFLite full-integer int8 (LiteRT)",
    "onnx": "ONNX Runtime (CPU EP)",
    "openvino": "OpenVINO IR (keras_senet export), f32",
    "openvino_bf16": "OpenVINO IR (keras_senet export), bf16 hint",
    "openvino_keras": "OpenVINO IR (Keras model.export), f32",
}
BN_IMAGES = 16
FMA_UNITS = 2


# ---------------------------------------------------------------------------------------------
# Images


def folder_pixels(folder, count, skip, size, seed=0):
    """`count` images of `folder` (in a seeded shuffle, after the first `skip` of it), each
    resized to size x size bilinearly: uint8 (count, size, size, 3)."""
    import numpy as np
    from PIL import Image

    from keras_senet.export.calibration import image_files

    files = image_files(folder)
    order = np.random.default_rng(seed).permutation(len(files))[skip:skip + count]
    if len(order) < count:
        raise ValueError(f"{folder} holds {len(files)} images; this run needs {skip + count} "
                         "(accuracy, BatchNorm and calibration images are disjoint): give a "
                         "larger folder or lower --accuracy-images / --calibration-images.")
    images = []
    for i in order:
        with Image.open(files[i]) as image:
            image = image.convert("RGB").resize((size, size), Image.BILINEAR)
            images.append(np.asarray(image, "uint8"))
    return np.stack(images)


def image_sets(args):
    """{"accuracy", "bn", "calibration"}: uint8 (N, S, S, 3) pixels, disjoint sets, plus a
    description of each source."""
    from keras_senet.export import natural_images

    s, n_acc, n_cal = args.size, args.accuracy_images, args.calibration_images
    sets, sources = {}, {}
    if args.images:
        sets["accuracy"] = folder_pixels(args.images, n_acc, 0, s)
        sets["bn"] = folder_pixels(args.images, BN_IMAGES, n_acc, s)
        sources["accuracy"] = sources["bn"] = f"{args.images} (resized to {s}x{s}, bilinear)"
    else:
        sets["accuracy"] = natural_images((s, s), n_acc, seed=1000)
        sets["bn"] = natural_images((s, s), BN_IMAGES, seed=2000)
        sources["accuracy"] = sources["bn"] = "keras_senet.export.natural_images"
    if args.calibration_data:
        same = args.images and os.path.abspath(args.images) == os.path.abspath(
            args.calibration_data)
        skip = n_acc + BN_IMAGES if same else 0
        sets["calibration"] = folder_pixels(args.calibration_data, n_cal, skip, s)
        sources["calibration"] = f"{args.calibration_data} (resized to {s}x{s}, bilinear)"
    else:
        sets["calibration"] = natural_images((s, s), n_cal, seed=3000)
        sources["calibration"] = "keras_senet.export.natural_images"
    return sets, sources


def normalise(model, pixels):
    """0..255 pixels -> the model's input (its evaluation transform's mean / std), float32."""
    import numpy as np

    from keras_senet.applications.imagenet_utils import preprocess_input
    from keras_senet.export import input_transform

    t = input_transform(model)
    return np.asarray(preprocess_input(np.asarray(pixels, "float32"), mean=t.mean, std=t.std),
                      "float32")


# ---------------------------------------------------------------------------------------------
# The model


def build_model(args):
    import keras

    import keras_senet

    keras.utils.set_random_seed(args.seed)
    return keras_senet.create_model(args.model, weights=None, input_shape=(args.size, args.size, 3),
                                    classes=args.classes, classifier_activation=None)


# ---------------------------------------------------------------------------------------------
# Exports (the parent process)


def _report_fields(report):
    return {"path": report.path, "size_bytes": report.size_bytes, "seconds": report.seconds,
            "verify_max_abs_diff": report.max_abs_diff,
            "verify_relative_diff": report.relative_diff,
            "verify_top1_agreement": report.top1_agreement, "error": None}


def _dir_or_file_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def _error_text(e):
    text = f"{type(e).__name__}: {e}".strip()
    return text if len(text) < 600 else text[:600] + " ..."


def export_one(key, model, directory, calibration):
    """Writes export `key` under `directory`; returns its record (with `error` on failure)."""
    from keras_senet import export

    if key == "saved_model":
        return _report_fields(export.export(model, os.path.join(directory, "saved_model"),
                                            log=None))
    if key.startswith("tflite_"):
        quantize = TFLITE_QUANTIZE[key]
        options = {"atol": float("inf")} if quantize else {}
        if quantize == "int8":
            options["calibration_data"] = calibration
        return _report_fields(export.export(model, os.path.join(directory, key + ".tflite"),
                                            format="tflite", quantize=quantize, log=None,
                                            **options))
    if key == "onnx":
        return _report_fields(export.export(model, os.path.join(directory, "model.onnx"),
                                            format="onnx", log=None))
    if key == "openvino":
        # The ONNX export of these weights, when this run wrote (and verified) it, is
        # converted as it is instead of tracing the model again.
        onnx, weights = (os.path.join(directory, name) for name in ("model.onnx",
                                                                   "model.weights.h5"))
        fresh = os.path.isfile(onnx) and os.path.getmtime(onnx) >= os.path.getmtime(weights)
        return _report_fields(export.export(model, os.path.join(directory, "openvino_model.xml"),
                                            format="openvino", log=None,
                                            from_onnx=onnx if fresh else None))
    if key == "openvino_keras":
        try:
            import openvino  # noqa: F401
        except ImportError as e:
            return {"error": f"not available: openvino is not installed ({e})"}
        path = os.path.join(directory, "openvino_keras", "model.xml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        start = time.perf_counter()
        model.export(path, format="openvino", verbose=False)
        return {"path": path, "seconds": time.perf_counter() - start,
                "size_bytes": _dir_or_file_bytes(path) + _dir_or_file_bytes(path[:-4] + ".bin"),
                "verify_max_abs_diff": None, "verify_relative_diff": None,
                "verify_top1_agreement": None, "error": None}
    raise ValueError(f"unknown export {key!r}")


def prepare(args, directory, log, export_keys=None):
    """Builds the model, sets its BatchNorm statistics, saves its weights and the accuracy
    and calibration pixels under `directory`, then writes the exports `export_keys` (if
    any) in this process; returns the record the later stages read."""
    import numpy as np

    from keras_senet.flops import count_macs, count_params

    sets, sources = image_sets(args)
    model = build_model(args)
    from keras_senet.folding import set_batch_norm_statistics

    bn_layers = set_batch_norm_statistics(model, normalise(model, sets["bn"]))
    model.save_weights(os.path.join(directory, "model.weights.h5"))
    np.save(os.path.join(directory, "accuracy_pixels.npy"), sets["accuracy"])
    np.save(os.path.join(directory, "calibration_pixels.npy"), sets["calibration"])
    log(f"model built, {bn_layers} BatchNorms set from {len(sets['bn'])} images")
    return {"params": count_params(model), "macs_per_image": count_macs(model),
            "batch_norm_layers": bn_layers, "image_sources": sources,
            "image_counts": {k: len(v) for k, v in sets.items()},
            "exports": export_all(model, directory, export_keys or [], log)}


def export_keys(runtimes):
    """The exports `runtimes` need, in order."""
    return list(dict.fromkeys(RUNTIMES[r] for r in runtimes if RUNTIMES[r]))


def export_stage(args, directory, keys, log):
    """Writes the exports `keys` of the prepared model (its saved weights) in this process."""
    model = build_model(args)
    model.load_weights(os.path.join(directory, "model.weights.h5"))
    return export_all(model, directory, keys, log)


def export_all(model, directory, keys, log):
    """{key: record} of the exports `keys` of `model`, each record with `error` when that
    export failed."""
    import numpy as np

    calibration = np.load(os.path.join(directory, "calibration_pixels.npy"))
    records = {}
    for key in keys:
        log(f"exporting {key} ...")
        try:
            records[key] = export_one(key, model, directory, calibration)
        except Exception as e:  # every failure becomes a row saying why
            records[key] = {"error": f"export failed: {_error_text(e)}"}
        log(f"  {key}: {records[key].get('error') or 'ok'}")
    return records


# ---------------------------------------------------------------------------------------------
# Runtimes (the timing subprocesses): make(batch) -> (feed builder, call)


class Runtime:
    """One runtime at one batch size: `feed(pixels)` prepares an input (untimed), `call(feed)`
    runs it and returns the outputs as a NumPy array (timed)."""

    compared_on = "logits"

    def __init__(self, feed, call, info=None):
        self.feed, self.call, self.info = feed, call, info or {}


def make_runtime(name, path, model, batch, threads):
    import numpy as np

    shape = [batch, *model.inputs[0].shape[1:]]
    if name == "keras":
        import tensorflow as tf

        fn = tf.function(lambda x: model(x, training=False), autograph=False)
        return Runtime(lambda p: tf.constant(normalise(model, p)), lambda x: fn(x).numpy(),
                       {"tf_intra_op_threads": threads, "tf_inter_op_threads": 1})
    if name == "saved_model":
        import tensorflow as tf

        serve = tf.saved_model.load(path).signatures["serving_default"]
        runtime = Runtime(lambda p: tf.constant(np.asarray(p, "float32")),
                          lambda x: serve(images=x)["probabilities"].numpy(),
                          {"tf_intra_op_threads": threads, "tf_inter_op_threads": 1})
        runtime.compared_on = "probabilities"
        return runtime
    if name.startswith("tflite_"):
        from keras_senet.export import tflite_interpreter

        interpreter = tflite_interpreter(path, num_threads=threads)
        detail = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(detail["index"], shape)
        interpreter.allocate_tensors()
        index_in = detail["index"]
        index_out = interpreter.get_output_details()[0]["index"]

        def call(x):
            interpreter.set_tensor(index_in, x)
            interpreter.invoke()
            return interpreter.get_tensor(index_out)
        return Runtime(lambda p: normalise(model, p).astype(detail["dtype"]), call,
                       {"num_threads": threads})
    if name == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        return Runtime(lambda p: normalise(model, p),
                       lambda x: session.run(None, {input_name: x})[0],
                       {"intra_op_num_threads": threads, "allow_spinning": 0})
    if name.startswith("openvino"):
        import openvino as ov

        core = ov.Core()
        ir = core.read_model(path)
        ir.reshape({ir.inputs[0].get_any_name(): ov.PartialShape(shape)})
        precision = "bf16" if name == "openvino_bf16" else "f32"
        compiled = core.compile_model(ir, "CPU", {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": precision})
        request = compiled.create_infer_request()
        info = {}
        for key in ("PERFORMANCE_HINT", "INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT",
                    "NUM_STREAMS", "ENABLE_CPU_PINNING"):
            try:
                value = compiled.get_property(key)
            except RuntimeError:
                continue
            info[key] = value.get_type_name() if hasattr(value, "get_type_name") else str(value)

        def call(x):
            request.infer({0: x})
            return request.get_output_tensor(0).data.copy()
        return Runtime(lambda p: normalise(model, p), call, info)
    raise ValueError(f"unknown runtime {name!r}")


def _percentile(values, q):
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def outputs_of(runtime, pixels, batch):
    """`runtime`'s outputs on `pixels`, run in chunks of `batch` (the last one padded)."""
    import numpy as np

    outputs = []
    for start in range(0, len(pixels), batch):
        chunk = pixels[start:start + batch]
        padded = np.concatenate([chunk, np.repeat(chunk[-1:], batch - len(chunk), 0)])
        outputs.append(np.asarray(runtime.call(runtime.feed(padded)))[:len(chunk)])
    return np.concatenate(outputs).astype("float64")


def accuracy_of(got, keras_logits, compared_on):
    """{max_abs_diff, relative_diff (over max|Keras output|), top1_agreement} of outputs
    `got` against the Keras logits (their softmax when `compared_on` is "probabilities")."""
    import numpy as np

    expected = np.asarray(keras_logits, "float64")
    if compared_on == "probabilities":
        e = np.exp(expected - expected.max(-1, keepdims=True))
        expected = e / e.sum(-1, keepdims=True)
    diff = float(np.abs(got - expected).max())
    return {"max_abs_diff": diff if np.isfinite(diff) else float("inf"),
            "relative_diff": diff / max(float(np.abs(expected).max()), 1e-12),
            "top1_agreement": float(np.mean(got.argmax(-1) == expected.argmax(-1))),
            "compared_on": compared_on, "accuracy_images": len(got)}


def time_stage(args, directory, threads, with_accuracy, log):
    """Times every runtime at each batch size with `threads` threads (this process only);
    returns {"cells": [...], "unavailable": {runtime: why}}."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import numpy as np

    from keras_senet.benchmark import time_interleaved

    with open(os.path.join(directory, "exports.json")) as f:
        exports = json.load(f)
    model = build_model(args)
    model.load_weights(os.path.join(directory, "model.weights.h5"))
    accuracy_pixels = np.load(os.path.join(directory, "accuracy_pixels.npy"))
    cells, unavailable = [], {}
    for batch in batch_sizes(args):
        runtimes = {}
        for name in args.runtimes:
            key = RUNTIMES[name]
            export = exports.get(key, {}) if key else {}
            if export.get("error"):
                unavailable[name] = export["error"]
                continue
            try:
                runtimes[name] = make_runtime(name, export.get("path"), model, batch, threads)
            except Exception as e:
                unavailable[name] = f"runtime failed to load: {_error_text(e)}"
        pixels = accuracy_pixels[:batch]
        if len(pixels) < batch:
            pixels = np.resize(accuracy_pixels, (batch, *accuracy_pixels.shape[1:]))
        steps, first_call = {}, {}
        for name, runtime in list(runtimes.items()):
            feed = runtime.feed(pixels)
            try:
                start = time.perf_counter()
                runtime.call(feed)
                first_call[name] = time.perf_counter() - start
                for _ in range(args.warmup):
                    runtime.call(feed)
            except Exception as e:
                unavailable[name] = f"runtime failed to run: {_error_text(e)}"
                del runtimes[name]
                continue
            steps[name] = (lambda r=runtime, x=feed: r.call(x))
        log(f"threads {threads}, batch {batch}: timing {list(steps)}")
        times, _ = time_interleaved(steps, args.repeats, 0.0)
        accuracy = {}
        if with_accuracy and batch == args.batch and BASELINE in runtimes:
            keras_logits = outputs_of(runtimes[BASELINE], accuracy_pixels, batch)
            for name, runtime in runtimes.items():
                log(f"  accuracy of {name} on {len(accuracy_pixels)} images")
                accuracy[name] = accuracy_of(outputs_of(runtime, accuracy_pixels, batch),
                                             keras_logits, runtime.compared_on)
        for name, t in times.items():
            cells.append({
                "runtime": name, "batch": batch, "threads": threads,
                "ms": 1e3 * statistics.median(t), "ms_q1": 1e3 * _percentile(t, 0.25),
                "ms_q3": 1e3 * _percentile(t, 0.75), "ms_min": 1e3 * min(t),
                "ms_max": 1e3 * max(t), "ms_repeats": [round(1e3 * v, 3) for v in t],
                "first_call_s": first_call[name], "settings": runtimes[name].info,
                "accuracy": accuracy.get(name)})
        del runtimes, steps
    return {"cells": cells, "unavailable": unavailable,
            "load_avg_end": list(os.getloadavg())}


def batch_sizes(args):
    return sorted({1, args.batch})


# ---------------------------------------------------------------------------------------------
# Machine peak, merging, reports


def cpu_peak(path_cpuinfo="/proc/cpuinfo"):
    """{"lanes", "clock_ghz", "clock_source", "gflops_per_core", "flags", "cores"} for fp32."""
    flags, mhz = set(), None
    try:
        with open(path_cpuinfo) as f:
            for line in f:
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                elif line.startswith("cpu MHz") and mhz is None:
                    mhz = float(line.split(":", 1)[1])
    except OSError:
        pass
    clock_ghz, source = None, None
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
            clock_ghz, source = int(f.read()) / 1e6, "/sys cpufreq cpuinfo_max_freq"
    except (OSError, ValueError):
        if mhz:
            clock_ghz, source = mhz / 1e3, "/proc/cpuinfo cpu MHz"
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    per_core = lanes * FMA_UNITS * 2 * clock_ghz if clock_ghz else None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    shown = sorted(f for f in flags if f.startswith(("avx", "fma", "amx")))
    return {"fp32_lanes": lanes, "fma_units_assumed": FMA_UNITS, "clock_ghz": clock_ghz,
            "clock_source": source, "fp32_gflops_per_core": per_core, "cores": cores,
            "vector_flags": shown}


def versions():
    from importlib import metadata

    from keras_senet.benchmark import describe_versions

    found = describe_versions()
    for dist in ("ai-edge-litert", "onnxruntime", "onnx", "tf2onnx", "openvino"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def finish_cells(cells, flops_per_image, peak):
    """Adds ratio vs Keras, img/s, GFLOP/s and fraction of the fp32 peak to every cell."""
    for cell in cells:
        base = next((c for c in cells if c["runtime"] == BASELINE
                     and c["batch"] == cell["batch"] and c["threads"] == cell["threads"]), None)
        cell["ratio_vs_keras"] = cell["ms"] / base["ms"] if base else None
        cell["img_s"] = 1e3 * cell["batch"] / cell["ms"]
        cell["gflop_s"] = flops_per_image * cell["img_s"] / 1e9
        per_core = peak["fp32_gflops_per_core"]
        cell["fraction_of_fp32_peak"] = (cell["gflop_s"] / (per_core * cell["threads"])
                                         if per_core else None)
    return cells


def _fmt(value, spec, none="-"):
    return none if value is None else format(value, spec)


def to_markdown(record):
    s, m, p = record["settings"], record["machine"], record["peak"]
    v = record["versions"]
    lines = [
        f"# CPU deployment: {s['model']} at {s['size']}x{s['size']}",
        "",
        f"{record['timestamp']}, {m['cpu']}, {p['cores']} usable cores (a shared machine: "
        f"1-minute load {m['load_avg_start'][0]:.2f} at the start, "
        f"{m['load_avg_end'][0]:.2f} at the end). TensorFlow {v['tensorflow']}, Keras "
        f"{v['keras']}, ai-edge-litert {v['ai-edge-litert']}, onnxruntime {v['onnxruntime']}, "
        f"OpenVINO {v['openvino']}.",
        "",
        f"Command: `{record['command']}`",
        "",
        f"Model: random weights (seed {s['seed']}), {record['params']:,} parameters, "
        f"{s['classes']} classes, logits out; {record['batch_norm_layers']} BatchNorms with "
        f"the statistics of {record['image_counts']['bn']} images "
        f"({record['image_sources']['bn']}). {record['flops_per_image'] / 1e9:.2f} GFLOP per "
        "image (2 x multiply-adds of `keras_senet.flops.count_macs`).",
        f"fp32 peak: {p['fp32_lanes']} lanes x {p['fma_units_assumed']} FMA units (assumed) "
        f"x 2 FLOPs x {_fmt(p['clock_ghz'], '.2f')} GHz ({p['clock_source']}) = "
        f"{_fmt(p['fp32_gflops_per_core'], '.0f')} GFLOP/s per core; '% peak' divides by the "
        "cell's thread count x that. It is the fp32 FMA peak: int8 (VNNI / AMX) and bf16 (AMX) "
        "rows exceed it by design, and an fp32 row above 100% means the cores ran faster than "
        "the assumed clock (turbo; in a VM `cpu MHz` shows the nominal clock).",
        "",
        f"Times: median of {s['repeats']} calls per runtime after {s['warmup']} warm-up calls, "
        "runtimes interleaved call by call (rotating order); IQR = quartiles of those calls. "
        "Each thread count ran in its own process (TensorFlow's threads are fixed at start-up). "
        f"Accuracy: {record['accuracy_images']} images ({record['image_sources']['accuracy']}) "
        f"at batch {s['batch']}, against the Keras model; `saved_model` compared on "
        "probabilities (softmax in its graph), the rest on logits.",
    ]
    for batch in sorted({c["batch"] for c in record["cells"]}):
        for threads in sorted({c["threads"] for c in record["cells"]}):
            rows = [c for c in record["cells"] if c["batch"] == batch and c["threads"] == threads]
            if not rows:
                continue
            lines += ["", f"## batch {batch}, {threads} thread{'s' if threads > 1 else ''}", "",
                      "| runtime | ms (median) | IQR ms | min - max ms | ratio vs Keras | img/s "
                      "| GFLOP/s | % fp32 peak | max abs diff | relative diff | top-1 agree |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for c in rows:
                a = record["accuracy"].get(c["runtime"]) or {}
                peak = c["fraction_of_fp32_peak"]
                lines.append(
                    f"| {c['runtime']} | {c['ms']:.2f} | {c['ms_q1']:.2f} - {c['ms_q3']:.2f} | "
                    f"{c['ms_min']:.2f} - {c['ms_max']:.2f} | {c['ratio_vs_keras']:.3f} | "
                    f"{c['img_s']:.1f} | {c['gflop_s']:.1f} | {_fmt(peak and 100 * peak, '.1f')} | "
                    f"{_fmt(a.get('max_abs_diff'), '.2e')} | "
                    f"{_fmt(a.get('relative_diff'), '.2e')} | "
                    f"{_fmt(a.get('top1_agreement'), '.3f')} |")
    lines += ["", "## Exports", "", "| export | size (MB) | export s | library verification "
              "(max abs / relative / top-1) | status |", "|---|---:|---:|---|---|"]
    for key, e in record["exports"].items():
        if e.get("error"):
            lines.append(f"| {key} | - | - | - | {e['error'].replace('|', '/')} |")
            continue
        verification = " / ".join(_fmt(e.get(k), f) for k, f in (
            ("verify_max_abs_diff", ".2e"), ("verify_relative_diff", ".2e"),
            ("verify_top1_agreement", ".2f")))
        lines.append(f"| {key} | {e['size_bytes'] / 1e6:.1f} | {e['seconds']:.1f} | "
                     f"{verification} | ok |")
    if record["unavailable"]:
        lines += ["", "## Runtimes not timed", ""]
        for name, why in record["unavailable"].items():
            lines.append(f"- `{name}`: {why}")
    lines += ["", f"Runtime settings at {max(s['threads'])} thread(s) (OpenVINO's read back from "
              "the compiled model):", ""]
    for name, info in record["runtime_settings"].items():
        lines.append(f"- `{name}` ({RUNTIME_LABELS[name]}): "
                     + (", ".join(f"{k}={v}" for k, v in info.items()) or "-"))
    return "\n".join(lines) + "\n"


def plot(record, path):
    """Bars of ratio vs Keras (median; whiskers: IQR), one panel per (batch, threads)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(c["batch"], c["threads"]) for c in record["cells"]})
    names = list(dict.fromkeys(c["runtime"] for c in record["cells"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 0.4 * len(names) + 1.6),
                             squeeze=False)
    for ax, (batch, threads) in zip(axes[0], groups):
        rows = {c["runtime"]: c for c in record["cells"]
                if c["batch"] == batch and c["threads"] == threads}
        base = rows[BASELINE]["ms"] if BASELINE in rows else None
        values, low, high = [], [], []
        for n in names:
            c = rows.get(n)
            r = c["ms"] / base if c and base else float("nan")
            values.append(r)
            low.append(r - c["ms_q1"] / base if c and base else 0)
            high.append(c["ms_q3"] / base - r if c and base else 0)
        ax.barh(range(len(names)), values, xerr=[low, high], capsize=2,
                color=["tab:gray" if n == BASELINE else "tab:blue" for n in names])
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(names)), names if ax is axes[0][0] else [""] * len(names),
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"batch {batch}, {threads} thread{'s' if threads > 1 else ''}", fontsize=9)
        ax.set_xlabel("time / Keras time (lower is faster)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    s = record["settings"]
    fig.suptitle(f"{s['model']} {s['size']}px on {record['machine']['cpu']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# The program


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="seresnet50",
                        help="registry name (keras_senet.list_models())")
    parser.add_argument("--size", type=int, default=224, help="input height and width S")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=8,
                        help="the batch timed besides 1 (and the one accuracy is measured at)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts, each timed in its own subprocess")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=list(RUNTIMES),
                        help="runtimes to time (keras, the baseline, is always added)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per runtime")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per runtime")
    parser.add_argument("--images", default=None,
                        help="folder of images (any layout, class folders fine) for the "
                             "accuracy and BatchNorm images; default: natural_images")
    parser.add_argument("--accuracy-images", type=int, default=64)
    parser.add_argument("--calibration-data", default=None,
                        help="folder of images to calibrate the full-integer int8 file on "
                             "(resized to S x S); default: natural_images")
    parser.add_argument("--calibration-images", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--out", default="cpu_deploy",
                        help="output prefix: PREFIX.json, PREFIX.md, PREFIX.png")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG chart")
    parser.add_argument("--work-dir", default=None,
                        help="where the exports go (default: a temporary folder, removed)")
    parser.add_argument("--stage", choices=["all", "prepare", "export", "time"], default="all",
                        help=argparse.SUPPRESS)
    parser.add_argument("--export-processes", choices=["each", "one"], default="each",
                        help="each export in its own process (default: memory back after "
                             "each), or all in one (faster for small models)")
    parser.add_argument("--export-keys", nargs="*", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--with-accuracy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stage-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if BASELINE not in args.runtimes:
        args.runtimes = [BASELINE, *args.runtimes]
    args.runtimes = list(dict.fromkeys(args.runtimes))
    for name, value, low in (("--batch", args.batch, 1), ("--repeats", args.repeats, 1),
                             ("--warmup", args.warmup, 0), ("--size", args.size, 8),
                             ("--accuracy-images", args.accuracy_images, 1),
                             ("--calibration-images", args.calibration_images, 1)):
        if value < low:
            parser.error(f"{name} must be >= {low}; received {value}.")
    if min(args.threads) < 1:
        parser.error(f"--threads must be positive; received {args.threads}.")
    for folder in (args.images, args.calibration_data):
        if folder and not os.path.isdir(folder):
            parser.error(f"{folder} is not a folder of images (give a directory; extract an "
                         "archive first).")
    return args


def _log(message):
    print(message, file=sys.stderr, flush=True)


def run_stage(argv, directory, stage, *extra):
    """Runs `--stage STAGE` of this program in a fresh process (TensorFlow's threads are fixed
    at start-up, and a process that made one export keeps gigabytes of converter state);
    returns the JSON it wrote."""
    out = os.path.join(directory, f"{stage}_{'_'.join(e.strip('-') for e in extra) or 'all'}.json")
    command = [sys.executable, os.path.abspath(__file__), *argv, "--stage", stage,
               "--work-dir", directory, "--stage-out", out, *extra]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": _pythonpath()})
    with open(out) as f:
        return json.load(f)


def export_process_failure(returncode):
    """The row of an export whose process died (e.g. killed for memory) before reporting."""
    why = (" (SIGKILL: on Linux usually the kernel's out-of-memory killer; see dmesg)"
           if returncode == -9 else "")
    return f"export failed: its process exited with status {returncode}{why}"


def _pythonpath():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    existing = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + existing if existing else "")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.stage != "all":
        if args.stage == "prepare":
            result = prepare(args, args.work_dir, _log, args.export_keys)
        elif args.stage == "export":
            result = export_stage(args, args.work_dir, args.export_keys, _log)
        else:
            result = time_stage(args, args.work_dir, args.threads[0], args.with_accuracy, _log)
        with open(args.stage_out, "w") as f:
            json.dump(result, f)
        return 0

    from keras_senet.benchmark import describe_machine

    machine = describe_machine()
    directory = args.work_dir or tempfile.mkdtemp(prefix="keras_senet_deploy_")
    os.makedirs(directory, exist_ok=True)
    started = time.perf_counter()
    try:
        keys = export_keys(args.runtimes)
        if args.export_processes == "one":
            prepared = run_stage(argv, directory, "prepare", "--export-keys", *keys)
        else:
            prepared = run_stage(argv, directory, "prepare")
            for key in keys:
                try:
                    prepared["exports"].update(
                        run_stage(argv, directory, "export", "--export-keys", key))
                except subprocess.CalledProcessError as e:
                    prepared["exports"][key] = {"error": export_process_failure(e.returncode)}
        exports = prepared["exports"]
        with open(os.path.join(directory, "exports.json"), "w") as f:
            json.dump(exports, f)
        cells, unavailable, accuracy, settings_seen = [], {}, {}, {}
        for threads in args.threads:
            extra = ["--threads", str(threads)]
            if threads == max(args.threads):
                extra.append("--with-accuracy")
            part = run_stage(argv, directory, "time", *extra)
            cells += part["cells"]
            unavailable.update(part["unavailable"])
            for c in part["cells"]:
                if c["accuracy"]:
                    accuracy[c["runtime"]] = c["accuracy"]
                settings_seen[c["runtime"]] = c["settings"]  # the last (most) threads
            machine["load_avg_end"] = part["load_avg_end"]
    finally:
        if not args.work_dir:
            shutil.rmtree(directory, ignore_errors=True)
    peak = cpu_peak()
    flops = 2 * prepared["macs_per_image"]
    record = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "PYTHONPATH=. python applications/benchmark_deploy.py " + " ".join(argv),
        "machine": {**machine, "python": platform.python_version()},
        "versions": versions(), "peak": peak,
        "settings": {k: v for k, v in vars(args).items()
                     if k not in ("stage", "with_accuracy", "work_dir")},
        "params": prepared["params"], "macs_per_image": prepared["macs_per_image"],
        "flops_per_image": flops, "flops_note": "FLOPs = 2 x multiply-adds (count_macs)",
        "batch_norm_layers": prepared["batch_norm_layers"],
        "image_sources": prepared["image_sources"], "image_counts": prepared["image_counts"],
        "accuracy_images": prepared["image_counts"]["accuracy"],
        "exports": {k: {f: v for f, v in e.items() if f != "path"} for k, e in exports.items()},
        "unavailable": unavailable, "runtime_settings": settings_seen,
        "accuracy": accuracy, "cells": finish_cells(cells, flops, peak),
        "wall_s": time.perf_counter() - started,
    }
    from keras_senet.benchmark import write_record

    write_record(record, args.out, to_markdown(record), None if args.no_plot else plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
