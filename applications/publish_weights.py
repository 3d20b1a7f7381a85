"""Ship the weights of finished training runs: package file, manifest entry, curves.

    python applications/publish_weights.py runs/resnet20_cifar runs/se_resnet20_cifar \
        --dataset cifar10 --machine "2-core CPU (AMD EPYC), TensorFlow 2.21"

For each run directory written by `keras-senet train` (state.json, results.json,
final.safetensors, curves.png) this copies the weights to
`keras_senet/weights/<dataset>/<model>.<dataset>.safetensors` (inside the package, so
`create_model(model, weights=<dataset>)` works from a checkout and from a wheel), the curves to
`weights/<model>.<dataset>.curves.png`, and writes the entry of `weights/manifest.json`.
It prints the `packaged_source(...)` lines that `keras_senet/weights/sources.py` must hold;
tests/weights/test_manifest.py checks that both agree with the files.
"""

import argparse
import datetime
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_senet.weights.resolve import sha256_of  # noqa: E402
MANIFEST = os.path.join(ROOT, "weights", "manifest.json")


def publish(run_dir, dataset, machine):
    with open(os.path.join(run_dir, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(run_dir, "state.json")) as f:
        state = json.load(f)
    model = state["config"]["model"]
    file_name = f"{model}.{dataset}.safetensors"
    package_file = os.path.join(ROOT, "keras_senet", "weights", dataset, file_name)
    os.makedirs(os.path.dirname(package_file), exist_ok=True)
    shutil.copyfile(os.path.join(run_dir, "final.safetensors"), package_file)
    curves = os.path.join(ROOT, "weights", f"{model}.{dataset}.curves.png")
    if os.path.exists(os.path.join(run_dir, "curves.png")):
        shutil.copyfile(os.path.join(run_dir, "curves.png"), curves)
    finished = os.path.getmtime(os.path.join(run_dir, "results.json"))
    return {
        "model": model,
        "dataset": dataset,
        "file": os.path.relpath(package_file, ROOT),
        "sha256": sha256_of(package_file),
        "se": model.startswith("se_"),
        "accuracy": round(results["val_top1"], 4),
        "top5": round(results["val_top5"], 4),
        "recipe": {"command": results["command"], "epochs": results["epochs"],
                   "seed": state["config"]["seed"]},
        "train_seconds": results["train_seconds"],
        "machine": machine,
        "curves": os.path.relpath(curves, ROOT) if os.path.exists(curves) else None,
        "date": datetime.date.fromtimestamp(finished).isoformat(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--machine", required=True, help="where the runs trained")
    args = parser.parse_args()
    manifest = {"weights": []}
    if os.path.exists(MANIFEST):
        with open(MANIFEST) as f:
            manifest = json.load(f)
    for run_dir in args.run_dirs:
        entry = publish(run_dir, args.dataset, args.machine)
        manifest["weights"] = [e for e in manifest["weights"]
                               if (e["model"], e["dataset"]) != (entry["model"], args.dataset)]
        manifest["weights"].append(entry)
        print(f'    packaged_source("{entry["model"]}", "{args.dataset}", '
              f'sha256="{entry["sha256"]}", top1={100 * entry["accuracy"]:.2f}),')
    manifest["weights"].sort(key=lambda e: (e["dataset"], e["model"]))
    os.makedirs(os.path.dirname(MANIFEST), exist_ok=True)
    with open(MANIFEST, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {MANIFEST}")


if __name__ == "__main__":
    main()
