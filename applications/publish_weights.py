"""Ship the weights of finished training runs: package file, manifest entry, curves.

    python applications/publish_weights.py runs/resnet20_cifar runs/se_resnet20_cifar \
        --dataset cifar10 --machine "2-core CPU (AMD EPYC), TensorFlow 2.21"

For each run directory written by `keras-senet train` (state.json, results.json,
final.safetensors, curves.png) this copies the weights to
`keras_senet/weights/<dataset>/<model>.<dataset>.safetensors` (inside the package, so
`create_model(model, weights=<dataset>)` works from a checkout and from a wheel), the curves to
`weights/<model>.<dataset>.curves.png`, and writes the entry of `weights/manifest.json`.
It prints the `packaged_source(...)` lines that `keras_senet/models/cifar/checkpoints.py` must hold;
tests/weights/test_manifest.py checks that both agree with the files.

A run that continued an earlier one (`keras-senet train ... --weights <earlier>/final.safetensors`)
is published with `--after`, one earlier run directory per run, in the same order: the recipe
then lists both commands (the second with the sha256 of the weights it started from), the
epochs and training time add up, and the curves show both stages with a line where the
second began.
"""

import argparse
import datetime
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_senet.training import plot_curves  # noqa: E402
from keras_senet.weights.fetch import sha256_of  # noqa: E402


def _read_run(run_dir):
    with open(os.path.join(run_dir, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(run_dir, "state.json")) as f:
        state = json.load(f)
    return results, state


def _stage(results, state, stage):
    history = [dict(row, phase=f"stage {stage}: {row['phase']}") for row in state["history"]]
    return {"command": results["command"], "epochs": results["epochs"],
            "seed": state["config"]["seed"]}, history


def publish(run_dir, dataset, machine, after=None, root=ROOT):
    """Copies `run_dir`'s weights and curves under `root`; returns its manifest entry."""
    results, state = _read_run(run_dir)
    model = state["config"]["model"]
    recipe, history = _stage(results, state, 2 if after else 1)
    train_seconds = results["train_seconds"]
    if after:
        earlier_results, earlier_state = _read_run(after)
        if earlier_state["config"]["model"] != model:
            raise ValueError(f"{after} trained {earlier_state['config']['model']}, "
                             f"not {model}: --after must name the same model's earlier run.")
        first, first_history = _stage(earlier_results, earlier_state, 1)
        # what the second stage started from, whatever its --weights spelled (a file, a tag)
        recipe["initial_weights_sha256"] = sha256_of(os.path.join(after, "final.safetensors"))
        recipe = {"command": f"{first['command']} && {recipe['command']}",
                  "stages": [first, recipe], "epochs": first["epochs"] + recipe["epochs"],
                  "seed": recipe["seed"]}
        history = first_history + history
        train_seconds = round(earlier_results["train_seconds"] + train_seconds, 1)
    file_name = f"{model}.{dataset}.safetensors"
    package_file = os.path.join(root, "keras_senet", "weights", dataset, file_name)
    os.makedirs(os.path.dirname(package_file), exist_ok=True)
    shutil.copyfile(os.path.join(run_dir, "final.safetensors"), package_file)
    curves = os.path.join(root, "weights", f"{model}.{dataset}.curves.png")
    os.makedirs(os.path.dirname(curves), exist_ok=True)
    plot_curves(history, curves, title=f"{model} on {dataset}")
    finished = os.path.getmtime(os.path.join(run_dir, "results.json"))
    return {
        "model": model,
        "dataset": dataset,
        "file": os.path.relpath(package_file, root),
        "sha256": sha256_of(package_file),
        "se": model.startswith("se_"),
        "accuracy": round(results["val_top1"], 4),
        "top5": round(results["val_top5"], 4),
        "recipe": recipe,
        "train_seconds": train_seconds,
        "machine": machine,
        "curves": os.path.relpath(curves, root),
        "date": datetime.date.fromtimestamp(finished).isoformat(),
    }


def update_manifest(entries, root=ROOT):
    """Replaces the (model, dataset) entries of `root`/weights/manifest.json with `entries`."""
    path = os.path.join(root, "weights", "manifest.json")
    manifest = {"weights": []}
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f)
    replaced = {(e["model"], e["dataset"]) for e in entries}
    manifest["weights"] = sorted(
        [e for e in manifest["weights"] if (e["model"], e["dataset"]) not in replaced] + entries,
        key=lambda e: (e["dataset"], e["model"]))
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--after", nargs="+", default=None,
                        help="the earlier run each run continued from, in the same order")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--machine", required=True, help="where the runs trained")
    parser.add_argument("--root", default=ROOT, help="the repository to publish into")
    args = parser.parse_args(argv)
    earlier = args.after or [None] * len(args.run_dirs)
    if len(earlier) != len(args.run_dirs):
        parser.error(f"--after names {len(earlier)} runs for {len(args.run_dirs)} run dirs.")
    entries = [publish(run_dir, args.dataset, args.machine, after=after, root=args.root)
               for run_dir, after in zip(args.run_dirs, earlier)]
    for entry in entries:
        print(f'    packaged_source("{entry["model"]}", "{args.dataset}", '
              f'sha256="{entry["sha256"]}", top1={100 * entry["accuracy"]:.2f}),')
    print(f"wrote {update_manifest(entries, args.root)}")


if __name__ == "__main__":
    main()
