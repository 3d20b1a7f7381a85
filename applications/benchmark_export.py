"""Measures export: time, size on disk against the weights, CPU latency and conversion error.

    PYTHONPATH=. python applications/benchmark_export.py --model seresnet50 --size 224 \
        --repeats 30 --markdown BENCHMARKS.md

Random weights (the figures do not depend on the values), logits output. Latency: batch 1, median of
`--repeats` calls after warm-up, the candidates interleaved call by call so that load from
other processes hits them alike:
  keras tf.function   the Keras model (with the same normalisation) inside one tf.function
  keras predict       `model.predict(x)`
  SavedModel          the reloaded SavedModel's `serving_default` (also top-k and labels),
                      BatchNorm folded into the convolutions (the default) and not
  TFLite / ONNX       the LiteRT interpreter / onnxruntime on the normalised input
With --markdown, writes (or replaces) the "## Export" section of that file.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def measure(model_name, size, repeats, plain_export=True, formats=("tflite", "onnx")):
    import numpy as np
    import tensorflow as tf

    import keras_senet
    from keras_senet import export
    from keras_senet.applications.imagenet_utils import preprocess_input

    results = {"rows": [], "latency": {}, "load_before": os.getloadavg()[0]}
    # Logits out (the SavedModel adds the softmax in its graph), so that the TFLite / ONNX
    # differences are measured on logits, not on near-uniform probabilities.
    model = keras_senet.create_model(model_name, weights=None, input_shape=(size, size, 3),
                                     classifier_activation=None)
    results["params"] = model.count_params()
    results["weights_bytes"] = export.weights_bytes(model)
    tmp = tempfile.mkdtemp(prefix="keras_senet_bench_")
    try:
        keras_path = os.path.join(tmp, "model.keras")
        t = time.perf_counter()
        model.save(keras_path)
        results["rows"].append(("`.keras` (`model.save`)", os.path.getsize(keras_path),
                                time.perf_counter() - t, None))
        if plain_export:
            t = time.perf_counter()
            model.export(os.path.join(tmp, "plain"), verbose=False)
            results["rows"].append(("plain Keras `model.export()` SavedModel",
                                    _dir_size(os.path.join(tmp, "plain")),
                                    time.perf_counter() - t, None))
        saved = export.export_saved_model(model, os.path.join(tmp, "serving"), version=1,
                                          log=None)
        results["rows"].append(("keras_senet SavedModel (2 signatures, verified in a "
                                "fresh process)", saved.size_bytes, saved.seconds,
                                saved.max_abs_diff))
        t = time.perf_counter()
        export.export_saved_model(model, os.path.join(tmp, "noverify"), verify=False, log=None)
        results["saved_model_no_verify_s"] = time.perf_counter() - t
        kept = export.export_saved_model(model, os.path.join(tmp, "bn_kept"), verify=False,
                                         fold_bn=False, log=None)
        interpreters = {}
        if "tflite" in formats:
            for quantize in (None, "dynamic"):
                path = os.path.join(tmp, f"model{'_dyn' if quantize else ''}.tflite")
                # Random weights lose far more to int8 than trained ones: the int8 figure is
                # reported here, not judged (atol=inf).
                r = export.export_tflite(model, path, quantize=quantize, log=None,
                                         atol=float("inf") if quantize else None)
                label = "TFLite float32" if quantize is None else "TFLite dynamic-range int8"
                results["rows"].append((label, r.size_bytes, r.seconds, r.max_abs_diff))
                interpreters[label] = export.tflite_interpreter(path)
        session = None
        if "onnx" in formats:
            r = export.export_onnx(model, os.path.join(tmp, "model.onnx"), log=None)
            results["rows"].append(("ONNX (tf2onnx, opset 17)", r.size_bytes, r.seconds,
                                    r.max_abs_diff))
            import onnxruntime
            session = onnxruntime.InferenceSession(os.path.join(tmp, "model.onnx"),
                                                   providers=["CPUExecutionProvider"])

        loaded = tf.saved_model.load(saved.path)
        serve = loaded.signatures["serving_default"]
        serve_kept = tf.saved_model.load(kept.path).signatures["serving_default"]
        pixels = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32")
        x = preprocess_input(pixels)
        mean = tf.constant([0.485, 0.456, 0.406]) * 255.0
        std = tf.constant([0.229, 0.224, 0.225]) * 255.0

        @tf.function(autograph=False)
        def keras_fn(p):
            return model((p - mean) / std, training=False)
        candidates = {
            "Keras model in a tf.function": lambda: keras_fn(tf.constant(pixels)).numpy(),
            "Keras `model.predict`": lambda: model.predict(x, verbose=0),
            "Keras `model(x)` (eager)": lambda: model(x, training=False).numpy(),
            "reloaded SavedModel `serving_default`":
                lambda: serve(images=tf.constant(pixels))["probabilities"].numpy(),
            "same, BatchNorm not folded (`fold_bn=False`)":
                lambda: serve_kept(images=tf.constant(pixels))["probabilities"].numpy(),
        }
        for label, interpreter in interpreters.items():
            candidates[f"{label} (LiteRT interpreter, {os.cpu_count()} threads)"] = (
                lambda i=interpreter: export.run_tflite(i, x))
        if session is not None:
            name = session.get_inputs()[0].name
            candidates["ONNX (onnxruntime, CPU)"] = lambda: session.run(None, {name: x})
        times = {k: [] for k in candidates}
        for fn in candidates.values():
            for _ in range(3):
                fn()
        for _ in range(repeats):
            for key, fn in candidates.items():
                t = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t)
        results["latency"] = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        results["load_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def to_markdown(results, model_name, size, repeats, command):
    import keras
    import tensorflow as tf

    wb = results["weights_bytes"]
    lines = [
        "## Export",
        "",
        f"{datetime.date.today().isoformat()}, {_cpu_name()}, {os.cpu_count()} cores, a shared "
        f"machine (absolute times move with load; the latency rows were interleaved call by "
        f"call, so their ratios are the figure to read), TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}, Python {platform.python_version()}.",
        f"Model: `{model_name}` at {size}x{size}, random weights, {results['params']:,} "
        f"parameters = {wb / 1e6:.1f} MB of float32 variables.",
        "",
        f"Command: `{command}`",
        "",
        "| artefact | size (MB) | size / weights | export time (s) | max abs diff vs Keras |",
        "|---|---|---|---|---|",
    ]
    for label, nbytes, seconds, diff in results["rows"]:
        diff_text = "" if diff is None else f"{diff:.1e}"
        lines.append(f"| {label} | {nbytes / 1e6:.1f} | {nbytes / wb:.3f} | {seconds:.1f} | "
                     f"{diff_text} |")
    lines += [
        "",
        "Size: the keras_senet SavedModel stores each variable once (its tf.Module tracks the "
        "tf.Variables behind the Keras variables), plus the graph (`saved_model.pb`) and "
        "`assets/labels.txt`; Keras' own `model.export()` also tracks the Keras variable "
        "wrappers and stores every variable twice (keras-team/keras#23553).",
        "",
        f"The keras_senet SavedModel export without the fresh-process verification took "
        f"{results['saved_model_no_verify_s']:.1f} s. Every keras_senet export traces the "
        "model with its BatchNorms folded into the convolutions (`fold_bn=True`, the default) "
        "and compares with the unfolded Keras model. Diffs: the SavedModel row compares "
        "probabilities of both signatures (softmax in the graph); TFLite / ONNX rows are the "
        "exporters' own verification: logits on 4 natural-looking synthetic images "
        "(`export.natural_images` through the model's preprocessing); the int8 row is "
        "reported, not judged (random weights).",
        "",
        f"CPU latency, batch 1, median of {repeats} interleaved calls (1-minute load average "
        f"{results['load_before']:.1f} before the run, {results['load_after']:.1f} after the "
        "latency loop, on 2 cores):",
        "",
        "| runtime | ms |",
        "|---|---|",
    ]
    for label, ms in results["latency"].items():
        lines.append(f"| {label} | {ms:.1f} |")
    return "\n".join(lines) + "\n"


def write_section(path, section):
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    start = text.find("## Export\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1:])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="seresnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-plain-export", action="store_true",
                        help="skip measuring Keras' own model.export() for comparison")
    parser.add_argument("--markdown", default=None, help="file to write the ## Export section to")
    args = parser.parse_args(argv)
    results = measure(args.model, args.size, args.repeats, not args.no_plain_export)
    command = "PYTHONPATH=. python " + " ".join(["applications/benchmark_export.py",
                                                 *(argv if argv is not None else sys.argv[1:])])
    section = to_markdown(results, args.model, args.size, args.repeats, command)
    print(section)
    if args.markdown:
        write_section(args.markdown, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
