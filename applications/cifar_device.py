"""Train a CIFAR network and its SE twin in one process with the data on the accelerator,
and compare them image by image: the SENet paper's CIFAR-10 experiment at GPU speed.

    KERAS_BACKEND=jax python applications/cifar_device.py resnet110_cifar \
        --data-dir .data/cifar10-train.tar.gz --holdout 500 --epochs 164 --batch-size 512 \
        --lr 0.4 --warmup-epochs 2 --mixed-precision --time-budget 330 --out runs/pair \
        --bundle "$OUT"

Both networks see identical batches (same order, same crops and flips), so the paired
McNemar test compares the networks rather than their luck with augmentation. With
`--time-budget` the run times a few steps first and trains the most epochs that fit (the
cosine schedule is laid over them). Writes OUT/<model>/ (state.json, results.json,
val_predictions.npz, final.safetensors, curves.png), OUT/pair.json and OUT/pair.md (the
same summary as `cifar_pair.py`); `--bundle DIR` packs each run into DIR/<model>.tar and
copies the summary there (5 files: what a borrowed machine can send back).
Needs JAX (`pip install keras-senet[jax]`); see `keras_senet.device_training`.
"""

import argparse
import os
import shlex
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("model", help="the plain CIFAR network, e.g. resnet110_cifar")
    parser.add_argument("--data-dir", required=True,
                        help="CIFAR-10 image folder or its .tar.gz (root/train/<class>/...)")
    parser.add_argument("--holdout", type=int, default=500,
                        help="validation: the last N training images of each class")
    parser.add_argument("--limit-per-class", type=int, default=0,
                        help="train on the first N images of each class only (0: all)")
    parser.add_argument("--epochs", type=int, default=164)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--pad-mode", choices=("reflect", "constant"), default="reflect",
                        help="how the 4-pixel crop padding is filled")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="bfloat16 compute, float32 variables")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="train the most epochs that fit in this many seconds")
    parser.add_argument("--out", required=True, help="folder for both runs and the summary")
    parser.add_argument("--bundle", metavar="DIR",
                        help="afterwards, DIR/<model>.tar per run and the summary")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import keras

    import keras_senet
    from cifar_pair import machine, se_twin, summarise
    from keras_senet import device_training, run_bundle

    names = [args.model, se_twin(args.model)]
    if keras.backend.backend() != "jax":
        raise SystemExit("cifar_device.py runs on JAX: set KERAS_BACKEND=jax.")
    start = time.time()
    data = device_training.load_arrays(device_training.DataOptions(
        data_dir=args.data_dir, holdout=args.holdout, limit_per_class=args.limit_per_class,
        pipeline="numpy"))
    print(f"{len(data.train_labels):,} training / {len(data.val_labels):,} validation images "
          f"decoded in {time.time() - start:.1f} s on {machine()}", flush=True)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(args.seed)
    models = {name: keras_senet.create_model(name, weights=None, classes=len(data.class_names),
                                             classifier_activation=None) for name in names}
    recipe = device_training.Recipe(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        warmup_epochs=args.warmup_epochs, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing, pad_mode=args.pad_mode,
        mixed_precision=args.mixed_precision, seed=args.seed)
    command = " ".join(shlex.quote(a) for a in ["applications/cifar_device.py",
                                                *(sys.argv[1:] if argv is None else argv)])
    budget = None if args.time_budget is None else args.time_budget - (time.time() - start)
    device_training.train_on_device(models, data, recipe, args.out, time_budget=budget,
                                    command=command, log=lambda s: print(s, flush=True))
    print(summarise(names, args.out, time.time() - start))
    if args.bundle:
        os.makedirs(args.bundle, exist_ok=True)
        for name in names:
            run_bundle.pack(os.path.join(args.out, name),
                            os.path.join(args.bundle, f"{name}.tar"), max_bytes=16 * 2**20)
        for name in ("pair.json", "pair.md"):
            shutil.copy(os.path.join(args.out, name), args.bundle)
        print(f"bundles and summary in {args.bundle}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.path.insert(0, ROOT)
    sys.exit(main())
