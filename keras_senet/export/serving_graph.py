"""The image-bytes half of the serving graph: read an encoded image's size from its header,
refuse images over the export's limits before decoding them, decode, resize and centre-crop
them as the evaluation transform does (PIL / torchvision semantics).

    decode_and_crop(image_bytes, (224, 224), transform)   # one image -> float32 (224, 224, 3)
    decode_batch(image_bytes, (224, 224), transform)      # string [batch] -> [batch, 224, 224, 3]

The limits bound what one request can make the server allocate: a 50 KB PNG may declare
20000 x 20000 pixels (1.2 GB decoded). Every function here builds TensorFlow ops: call them
eagerly or inside a `tf.function`.
"""

# What `predict_image_bytes` decodes at most, by default (see `decode_and_crop`).
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_ASPECT_RATIO = 32.0


def check_limits(max_image_pixels, max_aspect_ratio):
    """ValueError unless the limits are a positive int and a number >= 1."""
    if (not isinstance(max_image_pixels, int) or isinstance(max_image_pixels, bool)
            or max_image_pixels < 1):
        raise ValueError(f"`max_image_pixels` must be a positive int; got {max_image_pixels!r}.")
    if (not isinstance(max_aspect_ratio, (int, float)) or isinstance(max_aspect_ratio, bool)
            or not max_aspect_ratio >= 1):
        raise ValueError(f"`max_aspect_ratio` must be a number >= 1 (long side / short side); "
                         f"got {max_aspect_ratio!r}.")


def image_header_size(image_bytes):
    """(height, width) int64 of an encoded JPEG / PNG / GIF / BMP, read from its header
    without decoding it; (-1, -1) for any other format.

    JPEG: `tf.image.extract_jpeg_shape` (raises InvalidArgumentError on a corrupt header);
    PNG: the IHDR chunk (big-endian); GIF: the logical screen (little-endian); BMP: the info
    header (little-endian, a negative height is a top-down image). The numbers the decoders
    go on to allocate for.
    """
    import tensorflow as tf

    head = tf.io.decode_raw(tf.strings.substr(image_bytes, 0, 26), tf.uint8)
    head = tf.cast(tf.pad(head, [[0, 26 - tf.shape(head)[0]]]), tf.int64)

    def unsigned(offset, length, big_endian):
        value = tf.constant(0, tf.int64)
        for i in range(length):
            shift = 8 * (length - 1 - i if big_endian else i)
            value += tf.bitwise.left_shift(head[offset + i], shift)
        return value

    def int32_le(offset):
        value = unsigned(offset, 4, big_endian=False)
        return tf.where(value >= 2 ** 31, value - 2 ** 32, value)

    def starts_with(magic):
        return tf.equal(tf.strings.substr(image_bytes, 0, len(magic)), magic)

    png = tf.stack([unsigned(20, 4, True), unsigned(16, 4, True)])
    gif = tf.stack([unsigned(8, 2, False), unsigned(6, 2, False)])
    bmp = tf.stack([tf.abs(int32_le(22)), int32_le(18)])
    other = tf.where(starts_with(b"\x89PNG\r\n\x1a\n"), png,
                     tf.where(starts_with(b"GIF8"), gif,
                              tf.where(starts_with(b"BM"), bmp,
                                       tf.constant([-1, -1], tf.int64))))
    return tf.cond(tf.io.is_jpeg(image_bytes),
                   lambda: tf.cast(tf.image.extract_jpeg_shape(image_bytes)[:2], tf.int64),
                   lambda: other)


def within_limits(height_width, max_pixels=MAX_IMAGE_PIXELS,
                  max_aspect_ratio=MAX_ASPECT_RATIO):
    """A bool tensor: may an image of `height_width` (from `image_header_size`) be decoded?

    False when it has more than `max_pixels` pixels or its long side exceeds
    `max_aspect_ratio` times its short side. Sizes of 0 or below pass: the decoder rejects
    those itself.
    """
    import tensorflow as tf

    height, width = height_width[0], height_width[1]
    valid = (height > 0) & (width > 0)
    small = height * width <= max_pixels
    long, short = tf.maximum(height, width), tf.minimum(height, width)
    compact = tf.cast(long, tf.float64) <= max_aspect_ratio * tf.cast(short, tf.float64)
    return tf.logical_not(valid) | (small & compact)


def limits_message(max_pixels, max_aspect_ratio):
    """The end of the error for images over the limits: what they are and how to change them."""
    return (f"exceed the limits of this export: at most {max_pixels} pixels and a long side "
            f"at most {max_aspect_ratio:g} times the short side (export_saved_model's "
            "max_image_pixels / max_aspect_ratio, keras-senet export --max-image-pixels / "
            "--max-aspect-ratio). Downscale or crop them before sending")


def decode_and_crop(image_bytes, size, transform, max_pixels=MAX_IMAGE_PIXELS,
                    max_aspect_ratio=MAX_ASPECT_RATIO):
    """One encoded image -> float32 (H, W, 3) RGB 0..255 with the evaluation transform.

    Check the size in the image's header against `max_pixels` / `max_aspect_ratio`
    (InvalidArgumentError beyond them, before anything is decoded), decode (JPEG with the
    accurate IDCT as PIL, PNG / GIF first frame / BMP; to RGB), resize the shorter side to
    `floor(H / crop_pct)` (non-square: each side to `floor(side / crop_pct)`) with
    antialiasing, round and clip to 0..255 as PIL's uint8 output, centre-crop `size`.

    The limits bound the work: the decoded image holds at most `3 * max_pixels` bytes and
    the resized one at most `floor(H / crop_pct)**2 * max_aspect_ratio` pixels.

    Args:
        image_bytes: scalar string tensor.
        size: (H, W).
        transform: the `EvalTransform`.
        max_pixels: the largest height * width accepted.
        max_aspect_ratio: the largest long side / short side accepted.
    """
    import tensorflow as tf

    height_width = image_header_size(image_bytes)
    message = tf.strings.format(
        "An image of {} x {} pixels (height x width): its size and shape "
        + limits_message(max_pixels, max_aspect_ratio), (height_width[0], height_width[1]))
    check = tf.debugging.Assert(
        within_limits(height_width, max_pixels, max_aspect_ratio), [message])
    with tf.control_dependencies([check]):
        return decode_and_crop_unchecked(tf.identity(image_bytes), size, transform)


def decode_and_crop_unchecked(image_bytes, size, transform):
    """`decode_and_crop` without the size limits (for bytes already checked)."""
    import tensorflow as tf

    height, width = size
    known = tf.reduce_any(tf.not_equal(image_header_size(image_bytes), -1))
    check = tf.debugging.Assert(known, ["image_bytes is not a JPEG, PNG, GIF or BMP image"])
    with tf.control_dependencies([check]):
        # JPEG with the accurate integer IDCT: the same pixels as PIL / libjpeg's default,
        # where TensorFlow's default (fast IDCT) is about one level off on average.
        image = tf.cond(
            tf.io.is_jpeg(image_bytes),
            lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: tf.ensure_shape(
                tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
                [None, None, 3]))
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    if height == width:
        target = float(transform.scaled(height))
        short = tf.minimum(shape[0], shape[1])
        # torchvision Resize(int): the short side -> target, the long one -> int(target*long/short)
        new_hw = tf.where(shape == short, target, tf.floor(target * shape / short))
        new_hw = tf.cast(new_hw, tf.int32)
    else:
        new_hw = tf.constant([transform.scaled(height), transform.scaled(width)], tf.int32)
    # Resized straight from uint8 (converted inside the kernel): no float copy of the
    # full-size image.
    image = tf.image.resize(image, new_hw, method=transform.interpolation, antialias=True)
    image = tf.clip_by_value(tf.round(tf.cast(image, tf.float32)), 0.0, 255.0)
    top = tf.cast(tf.round(tf.cast(new_hw[0] - height, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_hw[1] - width, tf.float32) / 2.0), tf.int32)
    image = image[top:top + height, left:left + width]
    return tf.ensure_shape(image, (height, width, 3))


def decode_batch(image_bytes, size, transform, max_pixels=MAX_IMAGE_PIXELS,
                 max_aspect_ratio=MAX_ASPECT_RATIO):
    """string [batch] -> float32 [batch, H, W, 3]; a bad element fails naming its index.

    Each element's header is checked against the limits (see `decode_and_crop`) and only
    images within them are decoded, one at a time, in a tf.data pipeline that drops elements
    whose decoding fails. Then assertions (InvalidArgumentError, which TF Serving answers
    with HTTP 400 / INVALID_ARGUMENT) report the indices of the undecodable elements and of
    those over the limits.
    """
    import tensorflow as tf

    height, width = size
    count = tf.shape(image_bytes, out_type=tf.int64)[0]

    def decode(i, data):
        allowed = within_limits(image_header_size(data), max_pixels, max_aspect_ratio)
        image = tf.cond(allowed, lambda: decode_and_crop_unchecked(data, size, transform),
                        lambda: tf.zeros([height, width, 3], tf.float32))
        return i, image, allowed

    dataset = tf.data.Dataset.from_tensor_slices((tf.range(count), image_bytes))
    dataset = dataset.map(decode).ignore_errors().batch(tf.maximum(count, 1))
    initial = (tf.zeros([0], tf.int64), tf.zeros([0, height, width, 3], tf.float32),
               tf.zeros([0], tf.bool))
    indices, images, allowed = dataset.reduce(
        initial, lambda state, batch: tuple(tf.concat([s, b], 0) for s, b in zip(state, batch)))
    decoded = tf.scatter_nd(indices[:, None], tf.ones_like(indices), [count])
    bad = tf.reshape(tf.where(tf.equal(decoded, 0)), [-1])
    too_large = tf.boolean_mask(indices, tf.logical_not(allowed))
    checks = [
        tf.debugging.Assert(
            tf.equal(tf.size(bad), 0),
            ["image_bytes elements that are not decodable JPEG/PNG/GIF/BMP images, by index:",
             bad], summarize=16),
        tf.debugging.Assert(
            tf.equal(tf.size(too_large), 0),
            ["image_bytes elements whose size and shape "
             + limits_message(max_pixels, max_aspect_ratio) + "; by index:", too_large],
            summarize=16),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images)
