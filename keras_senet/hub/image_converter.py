"""`SENetImageConverter`: a checkpoint's evaluation transform as a keras-hub `ImageConverter`.

    converter = SENetImageConverter.from_transform(source.transform)
    converter(images)        # RGB 0..255 of any size -> (B, S, S, 3), normalised

Resize the shorter side to `floor(S / crop_pct)` keeping the aspect ratio (torchvision's
`Resize(int)`: the longer side is truncated), centre crop S x S (torchvision's rounding of
the offsets), then `x * scale + offset`, the ImageNet `(x / 255 - mean) / std` written as
keras-hub writes it. The CIFAR networks normalise in the model: their transform hands them
the pixels unchanged (scale 1, offset 0).

The resize runs in TensorFlow (antialiased, as PIL resizes the reference pipeline's images;
the resized pixels are rounded and clipped to 0..255 like PIL's 8-bit output), on the CPU, in
eager calls and inside `tf.data` pipelines alike, as keras-hub's own preprocessing does.
"""

import keras
import numpy as np
import tensorflow as tf
from keras_hub.layers import ImageConverter

from keras_senet.checkpoints import IMAGENET_MEAN, IMAGENET_STD, EvalTransform

INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


def resized_shape(height, width, resize_size):
    """(new height, new width) with the shorter side `resize_size`: torchvision's
    `Resize(int)` (the longer side is `int(resize_size * long / short)`). Scalar int tensors."""
    height64, width64 = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    size = tf.constant(resize_size, tf.int32)
    portrait = height >= width
    longer = tf.cast(tf.floor(resize_size * tf.maximum(height64, width64)
                              / tf.minimum(height64, width64)), tf.int32)
    return tf.where(portrait, longer, size), tf.where(portrait, size, longer)


def resize_and_crop(images, image_size, crop_pct=0.875, interpolation="bilinear"):
    """The geometric half of the evaluation transform.

    Args:
        images: RGB values 0..255, (H, W, 3) or (B, H, W, 3), any H and W; a NumPy array,
            a tensor, or a list of (H_i, W_i, 3) images of different sizes.
        image_size: S, the side of the square output.
        crop_pct: the crop's share of the resized shorter side (resize it to
            `floor(S / crop_pct)`, timm's rule).
        interpolation: "bilinear", "bicubic" or "nearest".

    Returns:
        float32 tf.Tensor, (S, S, 3) or (B, S, S, 3), values 0..255.
    """
    if isinstance(images, (list, tuple)):
        return tf.stack([resize_and_crop(image, image_size, crop_pct, interpolation)
                         for image in images])
    images = tf.convert_to_tensor(images)
    if images.shape.rank not in (3, 4):
        raise ValueError("Images must be (H, W, 3) or (B, H, W, 3) arrays of RGB values "
                         f"0..255; received shape {tuple(images.shape)}.")
    if images.shape.rank == 3:
        return resize_and_crop(images[None], image_size, crop_pct, interpolation)[0]
    resize_size = EvalTransform(image_size, crop_pct).resize_size
    shape = tf.shape(images)
    new_height, new_width = resized_shape(shape[1], shape[2], resize_size)
    resized = tf.image.resize(tf.cast(images, tf.float32), tf.stack([new_height, new_width]),
                              method=interpolation, antialias=interpolation != "nearest")
    resized = tf.clip_by_value(tf.round(resized), 0.0, 255.0)
    top = tf.cast(tf.round((new_height - image_size) / 2), tf.int32)
    left = tf.cast(tf.round((new_width - image_size) / 2), tf.int32)
    crop = resized[:, top:top + image_size, left:left + image_size, :]
    return tf.ensure_shape(crop, (None, image_size, image_size, images.shape[-1]))


class SENetImageConverter(ImageConverter):
    """keras-hub `ImageConverter` applying a keras_senet checkpoint's evaluation transform.

    Each family has its registered subclass (`SEResNetImageConverter`, ...), the class a
    preset names; `from_transform(source.transform)` builds one from a checkpoint row.

    Args:
        image_size: (S, S), the output size.
        crop_pct: the crop's share of the resized shorter side.
        interpolation: "bilinear", "bicubic" or "nearest".
        mean, std: per-channel statistics on [0, 1]; the converter computes
            `x * scale + offset` with scale = 1 / (255 std), offset = -mean / std (mean 0 and
            std 1 / 255 leave the pixels unchanged).
        **kwargs: `ImageConverter`'s (name, dtype, ...).

    Call: RGB images 0..255, (H, W, 3) or (B, H, W, 3) of any size, or a list of images of
    different sizes -> (S, S, 3) or (B, S, S, 3) in the converter's compute dtype.
    """

    def __init__(self, image_size, crop_pct=0.875, interpolation="bilinear",
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        if image_size is None or len(image_size) != 2 or image_size[0] != image_size[1]:
            raise ValueError("`image_size` must be a square (S, S): the evaluation transform "
                             f"crops a square. Received: image_size={image_size!r}")
        if not 0 < crop_pct <= 1:
            raise ValueError(f"`crop_pct` must be in (0, 1]; received {crop_pct!r}.")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"`interpolation` must be one of {INTERPOLATIONS}; received "
                             f"{interpolation!r}.")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError("`mean` and `std` must have one value per RGB channel, std > 0; "
                             f"received mean={mean!r}, std={std!r}.")
        for key in ("scale", "offset", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
                    "antialias"):
            kwargs.pop(key, None)  # fixed by the transform; written by the base get_config
        mean64, std64 = np.asarray(mean, "float64"), np.asarray(std, "float64")
        super().__init__(image_size=tuple(image_size), interpolation=interpolation,
                         scale=[float(v) for v in 1.0 / (255.0 * std64)],
                         offset=[float(v) for v in -mean64 / std64], antialias=True, **kwargs)
        self.crop_pct = crop_pct
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)

    @classmethod
    def from_transform(cls, transform, **kwargs):
        """The converter of an `EvalTransform` (keras_senet.checkpoints)."""
        return cls(image_size=(transform.input_size, transform.input_size),
                   crop_pct=transform.crop_pct, interpolation=transform.interpolation,
                   mean=transform.mean, std=transform.std, **kwargs)

    @property
    def transform(self):
        """The `EvalTransform` this converter applies."""
        return EvalTransform(input_size=self.image_size[0], crop_pct=self.crop_pct,
                             interpolation=self.interpolation, mean=self.mean, std=self.std)

    def call(self, inputs):
        if isinstance(inputs, dict):
            raise ValueError(f"{type(self).__name__} takes images only (an array, a tensor "
                             "or a list of images), not a dict of images and boxes.")
        with tf.device("cpu"):
            x = resize_and_crop(inputs, self.image_size[0], self.crop_pct, self.interpolation)
            x = x * tf.constant(self.scale, tf.float32) + tf.constant(self.offset, tf.float32)
            x = tf.cast(x, self.compute_dtype)
        if tf.executing_eagerly() and keras.backend.backend() != "tensorflow":
            return keras.ops.convert_to_tensor(x.numpy())
        return x

    def get_config(self):
        config = super().get_config()
        for key in ("scale", "offset"):  # derived from mean and std
            config.pop(key)
        config.update({"crop_pct": self.crop_pct, "mean": list(self.mean),
                       "std": list(self.std)})
        return config
