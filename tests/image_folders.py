"""Small labelled image folders for the training tests."""

import os

import numpy as np

CLASSES = ("red", "green", "blue")


def tinted_image_folder(root, train_per_class, val_per_class):
    """root/{train,val}/<class>/*.png: 32x32 noisy images tinted by class (`CLASSES`);
    returns `root` as a string."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, name in enumerate(CLASSES):
            os.makedirs(root / split / name)
            for i in range(count):
                image = rng.integers(0, 96, (32, 32, 3))
                image[..., label] += 150
                Image.fromarray(image.astype(np.uint8)).save(root / split / name / f"{i}.png")
    return str(root)
