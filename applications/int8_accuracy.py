"""What TFLite quantisation costs the shipped CIFAR networks: top-1 on held-out CIFAR-10.

    python applications/int8_accuracy.py \
        --data /work/shared/data/cifar10/cifar10-train.tar.gz \
        [--models se_resnet20_cifar resnet20_cifar] [--calibration-images 32 128 512] \
        [--json int8_accuracy.json]

The held-out images are those the weights were validated on (weights/manifest.json: the last
500 images of each class of the CIFAR-10 training archive, 5,000 in all). Each network, with
its packaged weights and a logits head, is exported with `keras_senet.export.export_tflite`
as float32, float16, dynamic-range int8 and full-integer int8, the last calibrated on N
training images that are not held out (a fixed random sample, one export per N); every file
runs on all held-out images. Printed: top-1 of each, its change from the Keras model in
points, and the share of images whose top-1 class is the Keras model's.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOLDOUT = 500  # per class: the validation split of weights/manifest.json


def held_out_and_calibration_pool(data, extract_dir):
    """((held-out uint8 images, labels), training paths not held out) of the archive."""
    from keras_senet.array_pipeline import decode_images
    from keras_senet.checkpoints import IN_MODEL_TRANSFORM
    from keras_senet.data_pipeline import DataOptions, folder_splits

    (train_paths, _), (val_paths, val_labels), _ = folder_splits(
        DataOptions(data_dir=data, holdout=HOLDOUT, extract_dir=extract_dir))
    images = decode_images(val_paths, 32, IN_MODEL_TRANSFORM, training=False)
    return (images, np.asarray(val_labels)), train_paths


def calibration_pixels(train_paths, count, seed=0):
    """`count` training images (uint8 (count, 32, 32, 3)), a fixed random sample."""
    from keras_senet.array_pipeline import decode_images
    from keras_senet.checkpoints import IN_MODEL_TRANSFORM

    picked = np.random.default_rng(seed).choice(len(train_paths), count, replace=False)
    return decode_images([train_paths[i] for i in sorted(picked)], 32, IN_MODEL_TRANSFORM,
                         training=False)


def tflite_predictions(path, images, batch=500):
    from keras_senet import export

    interpreter = export.tflite_interpreter(path)
    return np.concatenate([export.run_tflite(interpreter, images[i:i + batch].astype("float32"))
                           for i in range(0, len(images), batch)])


def measure(name, held_out, train_paths, calibration_counts, work_dir):
    """Rows {variant, top1, delta_points, agreement, size_mb} for one network."""
    import keras_senet
    from keras_senet import export

    images, labels = held_out
    model = keras_senet.create_model(name, weights="cifar10", classifier_activation=None)
    reference = model.predict(images.astype("float32"), batch_size=500, verbose=0).argmax(-1)
    keras_top1 = float(np.mean(reference == labels))
    rows = [dict(variant="Keras float32", top1=keras_top1, delta_points=0.0, agreement=1.0,
                 size_mb=None)]
    variants = [("TFLite float32", None, {}), ("TFLite float16", "float16", {}),
                ("TFLite dynamic-range int8", "dynamic", {})]
    variants += [(f"TFLite full-integer int8, {n} calibration images", "int8",
                  dict(calibration_data=calibration_pixels(train_paths, n)))
                 for n in calibration_counts]
    for index, (variant, quantize, options) in enumerate(variants):
        path = os.path.join(work_dir, f"{name}.{index}.tflite")
        report = export.export_tflite(model, path, quantize=quantize, log=None, **options)
        predicted = tflite_predictions(path, images).argmax(-1)
        top1 = float(np.mean(predicted == labels))
        rows.append(dict(variant=variant, top1=top1,
                         delta_points=100 * (top1 - keras_top1),
                         agreement=float(np.mean(predicted == reference)),
                         size_mb=report.size_bytes / 1e6))
    return rows


def markdown(results, count):
    lines = [f"Top-1 on the {count} held-out CIFAR-10 images (last {HOLDOUT} of each class of "
             "the training archive):", "",
             "| network | variant | top-1 | change (points) | same top-1 as Keras | file MB |",
             "|---|---|---|---|---|---|"]
    for name, rows in results.items():
        for row in rows:
            size = "" if row["size_mb"] is None else f"{row['size_mb']:.2f}"
            lines.append(f"| {name} | {row['variant']} | {100 * row['top1']:.2f}% | "
                         f"{row['delta_points']:+.2f} | {100 * row['agreement']:.2f}% | {size} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True,
                        help="the CIFAR-10 training archive (train/<class>/*.jpg, .tar.gz) or "
                        "its extracted folder")
    parser.add_argument("--models", nargs="+", default=["se_resnet20_cifar", "resnet20_cifar"])
    parser.add_argument("--calibration-images", nargs="+", type=int, default=[32, 128, 512],
                        help="one full-integer int8 export per count")
    parser.add_argument("--extract-dir", default=None,
                        help="where the archive is extracted (default: ~/.keras/datasets)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    held_out, train_paths = held_out_and_calibration_pool(args.data, args.extract_dir)
    results = {}
    with tempfile.TemporaryDirectory(prefix="int8_accuracy_") as work_dir:
        for name in args.models:
            results[name] = measure(name, held_out, train_paths, args.calibration_images,
                                    work_dir)
    print(markdown(results, len(held_out[1])))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"held_out_images": len(held_out[1]), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
