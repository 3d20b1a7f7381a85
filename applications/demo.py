"""`make demo`: the whole product in one offline run, a few minutes on 2 CPU cores.

1. the zoo: every registered architecture with its parameters and GFLOPs (shipped table);
2. SE-ResNet-20 with the CIFAR-10 weights this project trained (shipped in the package)
   classifies real held-out CIFAR-10 images (applications/data/cifar10-sample/val);
3. fine-tuning a new classifier on the sample's train/ folder (one short epoch: 80 images,
   20 steps, the backbone frozen), with the progress bar;
4. the fine-tuned model exported as a TF Serving SavedModel and queried through its
   `predict_image_bytes` signature with the JPEG files themselves.

    python applications/demo.py [--output demo-output]

TensorFlow's start-up lines that no setting silences (CUDA probing on a machine without a
GPU, the oneDNN and CPU-instruction notices) are kept out of the output: see `STARTUP_NOISE`.
"""

import argparse
import contextlib
import glob
import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "data", "cifar10-sample")
MODEL = "se_resnet20_cifar"


# What TensorFlow 2.20+ writes from C++ to stderr while it loads and probes its devices,
# whatever TF_CPP_MIN_LOG_LEVEL says (absl logging is not initialised yet): none of it concerns
# the demo, which runs on the CPU.
STARTUP_NOISE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers on your machine",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"^To enable the following instructions: .* rebuild TensorFlow",
    r"failed call to cuInit",
    r"Unable to register cu\w+ factory",
    r"TF-TRT Warning: Could not find TensorRT",
]))


@contextlib.contextmanager
def without_startup_noise():
    """Runs the block with file descriptor 2 (where C++ code writes) sent to a temporary
    file, then writes back every line of it that is not `STARTUP_NOISE`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not STARTUP_NOISE.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def start_tensorflow():
    """Imports TensorFlow and Keras and lets TensorFlow look for GPUs, without the noise;
    later C++ log lines below warnings stay hidden (TF_CPP_MIN_LOG_LEVEL=2 unless set)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with without_startup_noise():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")


def step(number, title):
    print(f"\n== {number}. {title}", flush=True)


def show_zoo():
    import keras_senet
    from keras_senet import stats

    table = stats.load_stats()
    names = keras_senet.list_models()
    print(f"{len(names)} architectures; a few of them:")
    print(f"  {'model':<28}{'params (M)':>12}{'GFLOPs':>9}")
    for name in ("seresnet50", "legacy_seresnet50", "seresnext50_32x4d", "legacy_senet154",
                 "skresnet50", "skresnext101_32x4d", "se_inception_v3", "se_resnet20_cifar"):
        if name in table:
            row = table[name]
            print(f"  {name:<28}{row['params'] / 1e6:>12.2f}{row['gmacs']:>9.3f}")
    print("  (keras-senet list: all of them, with their pretrained weights)")


def classify_held_out_images():
    import numpy as np
    import tensorflow as tf

    import keras_senet

    model = keras_senet.create_model(MODEL, weights="cifar10")
    source = model.pretrained_cfg
    print(f"{MODEL} with weights '{source.tag}' ({source.url}; validation top-1 "
          f"{source.top1:.2f}% on the 5,000 held-out images)")
    classes = sorted(os.listdir(os.path.join(SAMPLE, "val")))
    paths = [sorted(glob.glob(os.path.join(SAMPLE, "val", c, "*.jpg")))[0] for c in classes]
    pixels = np.stack([tf.io.decode_jpeg(tf.io.read_file(p), channels=3).numpy() for p in paths])
    pixels = pixels.astype("float32")
    probabilities = model.predict(pixels, verbose=0)  # RGB 0..255 in; normalised inside
    correct = 0
    for path, truth, p in zip(paths, classes, probabilities):
        top3 = np.argsort(-p)[:3]
        guesses = ", ".join(f"{classes[i]} {p[i]:.2f}" for i in top3)
        correct += classes[top3[0]] == truth
        print(f"  {os.path.relpath(path, HERE):<44} {guesses}")
    print(f"  top-1 on these {len(paths)}: {correct}/{len(paths)}")


def finetune(output):
    from keras_senet import cli

    run_dir = os.path.join(output, "finetune")
    args = ["finetune", MODEL, "--weights", "cifar10", "--data-dir", SAMPLE,
            "--epochs", "1", "--unfrozen-epochs", "0", "--batch-size", "4",
            "--lr", "5e-2", "--verbose", "1", "--output", run_dir]
    if os.path.exists(os.path.join(run_dir, "state.json")):
        args.append("--resume")
    print("keras-senet " + " ".join(args))
    if cli.main(args) != 0:
        sys.exit("fine-tuning failed")
    return run_dir


def export_and_query(run_dir, output):
    import keras
    import tensorflow as tf

    from keras_senet.export import export_saved_model
    from keras_senet.checkpoints import IN_MODEL_TRANSFORM

    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    with open(os.path.join(run_dir, "classes.txt")) as f:
        labels = f.read().split()
    target = os.path.join(output, "serving", MODEL)
    # The CIFAR networks take 0..255 pixels, so the signature passes them through unchanged.
    report = export_saved_model(model, target, version=1, top_k=3, labels=labels,
                                transform=IN_MODEL_TRANSFORM, overwrite=True)
    served = tf.saved_model.load(report.path)
    predict = served.signatures["predict_image_bytes"]
    paths = sorted(glob.glob(os.path.join(SAMPLE, "val", "*", "4509.jpg")))[:4]
    blobs = [open(p, "rb").read() for p in paths]
    result = predict(image_bytes=tf.constant(blobs))
    print("predict_image_bytes(image_bytes=<JPEG files>):")
    for path, names, scores in zip(paths, result["top_k_labels"].numpy(),
                                   result["top_k_scores"].numpy()):
        guesses = ", ".join(f"{n.decode()} {s:.2f}" for n, s in zip(names, scores))
        print(f"  {os.path.relpath(path, HERE):<44} {guesses}")
    print(f"TF Serving: --model_base_path={os.path.abspath(target)} --model_name={MODEL}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="demo-output", help="where files go")
    output = os.path.abspath(parser.parse_args().output)
    os.makedirs(output, exist_ok=True)
    start_tensorflow()

    step(1, "the model zoo")
    show_zoo()
    step(2, "CIFAR-10 weights trained by this project, on held-out images")
    classify_held_out_images()
    step(3, "fine-tuning a new classifier on an image folder (80 images)")
    run_dir = finetune(output)
    results = json.load(open(os.path.join(run_dir, "results.json")))
    print(f"fine-tuned: {results['val_top1']:.2f} top-1 on the 40 val/ images; the run "
          "directory holds checkpoints, TensorBoard logs, curves.png and results.json")
    step(4, "SavedModel export and its serving signature")
    export_and_query(run_dir, output)
    print(f"\nall files under {output}")


if __name__ == "__main__":
    main()
