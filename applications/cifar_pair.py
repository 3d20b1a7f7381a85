"""Train a CIFAR network and its SE twin with the identical recipe and seed, side by side,
and compare them: the SENet paper's CIFAR-10 experiment (issue 6).

    python applications/cifar_pair.py wrn16_8_cifar --data-dir cifar10-train.tar.gz \
        --out runs/pair --epochs 30 -- --batch-size 256 --lr 0.2 --warmup-epochs 2 \
        --mixed-precision

Runs `applications/train.py MODEL` and `train.py se_MODEL` as two processes at once (one
GPU holds both: these networks leave most of it idle), each with `--resume`, so running the
same command again after an interruption continues both from their last completed epoch.
Everything after `--` goes to both runs unchanged. Validation is the last `--holdout` images
of each class. Writes OUT/<model>/ (the run directories), OUT/pair.json and OUT/pair.md
(validation top-1 / top-5, epochs, training seconds, the command, the machine, and an image
by image comparison: how many validation images only one of the two gets right, with the
exact McNemar test's p-value).

On a borrowed machine that allows only so many minutes per command and so many files back
(this project's GPU hosts: 10 minutes, 8 files of at most 16 MiB), `--time-limit` stops both
runs in time (they resume from their last completed epoch), `--bundle DIR` leaves in DIR one
.tar per run (`keras_senet.run_bundle`) with the logs and the summary, and `--resume-from DIR`
continues from the bundles an earlier command brought back:

    KERAS_BACKEND=jax python applications/cifar_pair.py resnet110_cifar \
        --data-dir .data/cifar10-train.tar.gz --epochs 60 --out ~/pair --time-limit 480 \
        --bundle $OUT [--resume-from .runs/pair] -- --batch-size 128 --mixed-precision
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def se_twin(model):
    """The registry name of `model` with Squeeze-and-Excitation."""
    import keras_senet

    twin = f"se_{model}"
    if model.startswith("se_") or twin not in keras_senet.list_models():
        raise ValueError(f"{model!r} has no SE twin in the registry; pass a plain CIFAR "
                         "network such as resnet110_cifar or wrn16_8_cifar.")
    return twin


def train_commands(model, args, train_args):
    """{model: argv} of the two runs: the same recipe, seed and data for both."""
    commands = {}
    for name in (model, se_twin(model)):
        commands[name] = [
            sys.executable, os.path.join(ROOT, "applications", "train.py"), name,
            "--data-dir", args.data_dir, "--holdout", str(args.holdout),
            "--epochs", str(args.epochs), "--seed", str(args.seed),
            "--output", os.path.join(args.out, name), "--resume", "--verbose", "2",
            *train_args]
    return commands


BUNDLE_MAX_BYTES = 16 * 2**20  # the largest file a device command can bring back
STOPPED = 3  # exit status when --time-limit stopped the runs


def run_side_by_side(commands, out, time_limit=None):
    """Starts every command at once, logs each to OUT/<model>.log, waits for all.

    Returns True when all finished; False when `time_limit` seconds passed first and the
    runs were stopped (SIGTERM; each resumes from its last completed epoch). On JAX each run
    may take an equal share of the GPU's memory (JAX's default is 75% for the first
    process); XLA_PYTHON_CLIENT_MEM_FRACTION in the environment overrides that.
    """
    share = f"{0.9 / len(commands):.2f}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", share)
    processes = {}
    for name, argv in commands.items():
        log = open(os.path.join(out, f"{name}.log"), "a")
        processes[name] = (subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            env=env), log)
    deadline = None if time_limit is None else time.time() + time_limit
    while deadline and time.time() < deadline and any(
            p.poll() is None for p, _ in processes.values()):
        time.sleep(1.0)
    stopped = [name for name, (p, _) in processes.items() if p.poll() is None and deadline]
    for name in stopped:
        processes[name][0].terminate()
    failed = []
    for name, (process, log) in processes.items():
        if process.wait() and name not in stopped:
            failed.append(name)
        log.close()
    if failed:
        raise SystemExit(f"training failed for {', '.join(failed)}; see "
                         + ", ".join(os.path.join(out, f"{n}.log") for n in failed))
    return not stopped


def epochs_done(out, name):
    from keras_senet.training import read_state

    state = read_state(os.path.join(out, name))
    return sum(state["epochs_done"].values()) if state else 0


def bundle(models, out, dest):
    """DEST/<model>.tar of each run that has a completed epoch, the logs, and the summary."""
    from keras_senet import run_bundle

    os.makedirs(dest, exist_ok=True)
    for name in models:
        if epochs_done(out, name):
            run_bundle.pack(os.path.join(out, name), os.path.join(dest, f"{name}.tar"),
                            max_bytes=BUNDLE_MAX_BYTES)
        shutil.copy(os.path.join(out, f"{name}.log"), dest)
    for name in ("pair.json", "pair.md"):
        if os.path.exists(os.path.join(out, name)):
            shutil.copy(os.path.join(out, name), dest)


def resume_from(models, source, out):
    """Unpacks SOURCE/<model>.tar into OUT/<model> for each run not yet in OUT."""
    from keras_senet import run_bundle
    from keras_senet.training import read_state

    if not any(os.path.exists(os.path.join(source, f"{name}.tar")) for name in models):
        raise SystemExit(f"--resume-from {source}: no {' or '.join(f'{n}.tar' for n in models)}"
                         " there; give the folder an earlier --bundle wrote.")
    for name in models:
        path, run_dir = os.path.join(source, f"{name}.tar"), os.path.join(out, name)
        if os.path.exists(path) and read_state(run_dir) is None:
            run_bundle.unpack(path, run_dir)
            print(f"{name}: continuing from {path} ({epochs_done(out, name)} epochs done)")


def machine():
    """The accelerator the runs used, in words."""
    try:
        import keras

        if keras.backend.backend() == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "cpu":
                return f"{device.platform}: {getattr(device, 'device_kind', device)}"
    except ImportError:
        pass
    return f"cpu: {os.cpu_count()} cores, {platform.machine()}"


def paired(models, out):
    """Image-by-image comparison of the runs' val_predictions.npz (plain first, then SE)."""
    import numpy as np

    from keras_senet.training import paired_comparison

    records = [np.load(os.path.join(out, name, "val_predictions.npz")) for name in models]
    labels = records[0]["labels"]
    if any(not np.array_equal(r["labels"], labels) for r in records):
        raise ValueError("the two runs were validated on different images; give both the "
                         "same --data-dir and --holdout")
    result = paired_comparison(labels, *(r["top_k"][:, 0] for r in records))
    return {"images": result["images"], "both_right": result["both_right"],
            "only_plain": result["only_a"], "only_se": result["only_b"],
            "p_value": result["p_value"]}


def summarise(models, out, wall_seconds):
    """pair.json and pair.md from the runs' results.json and val_predictions.npz."""
    rows = []
    for name in models:
        with open(os.path.join(out, name, "results.json")) as f:
            results = json.load(f)
        rows.append({"model": name, "se": name.startswith("se_"), **results})
    comparison = paired(models, out)
    summary = {"runs": rows, "paired": comparison, "machine": machine(),
               "wall_seconds": round(wall_seconds, 1), "date": time.strftime("%Y-%m-%d")}
    with open(os.path.join(out, "pair.json"), "w") as f:
        json.dump(summary, f, indent=1)
    lines = [f"Validation accuracy, {summary['machine']}, {summary['date']}:", "",
             "| model | val top-1 | val top-5 | epochs | training s |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {100 * r['val_top1']:.2f}% | {100 * r['val_top5']:.2f}% | "
              f"{r['epochs']} | {r['train_seconds']:,.0f} |" for r in rows]
    plain, se = rows
    lines += ["", f"SE minus plain: {100 * (se['val_top1'] - plain['val_top1']):+.2f} points "
              f"top-1. Image by image ({comparison['images']:,} validation images): "
              f"{comparison['only_se']} right only with SE, {comparison['only_plain']} only "
              f"without; exact McNemar two-sided p = {comparison['p_value']:.3g}.", "",
              f"Command: `{plain['command']}` (and its se_ twin)"]
    with open(os.path.join(out, "pair.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return "\n".join(lines)


def non_negative_seconds(text):
    seconds = float(text)
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds >= 0")
    return seconds


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    train_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the plain network, e.g. wrn16_8_cifar")
    parser.add_argument("--data-dir", required=True,
                        help="CIFAR-10 image folder or its .tar.gz (root/train/<class>/...)")
    parser.add_argument("--holdout", type=int, default=500,
                        help="validation: the last N training images of each class")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="folder for both runs and the summary")
    parser.add_argument("--time-limit", type=non_negative_seconds, default=None,
                        metavar="SECONDS",
                        help="stop both runs after this long (exit status 3); the same "
                        "command continues them")
    parser.add_argument("--bundle", metavar="DIR",
                        help="afterwards, write DIR/<model>.tar per run (at most 16 MiB "
                        "each), the logs and the summary")
    parser.add_argument("--resume-from", metavar="DIR",
                        help="continue from the DIR/<model>.tar bundles of an earlier --bundle")
    args = parser.parse_args(own)
    commands = train_commands(args.model, args, train_args)
    os.makedirs(args.out, exist_ok=True)
    if args.resume_from:
        resume_from(list(commands), args.resume_from, args.out)
    start = time.time()
    finished = run_side_by_side(commands, args.out, args.time_limit)
    if finished:
        print(summarise(list(commands), args.out, time.time() - start))
    else:
        print(f"time limit of {args.time_limit:g} s reached; epochs done: " + ", ".join(
            f"{n} {epochs_done(args.out, n)}" for n in commands)
            + ". Run the same command again to continue.")
    if args.bundle:
        bundle(list(commands), args.out, args.bundle)
        print(f"bundles, logs and summary in {args.bundle}")
    return 0 if finished else STOPPED


if __name__ == "__main__":
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # the GPU is the runs'
    sys.path.insert(0, ROOT)
    sys.exit(main())
