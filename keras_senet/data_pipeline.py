"""tf.data input pipelines for the training programs: image folders, archives and tfds.

    train_ds, val_ds, class_names = load_datasets(DataOptions(data_dir="flowers/"),
                                                  transform, batch_size=64)

Sources:
    an image folder      root/train/<class>/*.jpg and root/val/<class>/*.jpg; without a
                         `val` folder, the last `holdout` images of each class (sorted by
                         file name) of `train` are held out as validation.
    a .tar.gz archive    of such a folder: extracted once beside `extract_dir`.
    a tfds name          `tfds.load(name)` ("cifar10", "imagenette", "imagenet2012" with
                         the manually downloaded archive in `data_dir`).

Every element is (image, one-hot label): images are float32 (B, S, S, 3) after the
checkpoint's evaluation transform (`keras_senet.weights.EvalTransform`): resize the shorter
side to `transform.resize_size`, centre crop `input_size`, (x / 255 - mean) / std. Training
images are augmented instead: "crop_flip" (pad by size / 8, random crop, flip: CIFAR) or
"inception" (random resized crop, flip: ImageNet), then normalised the same way.

This module's datasets are tf.data pipelines whatever the Keras backend; where TensorFlow is
not installed, `load_datasets` hands image folders to the NumPy pipeline instead
(`keras_senet.array_pipeline`, `DataOptions.pipeline`).
"""

import dataclasses
import os
import tarfile

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
AUGMENTATIONS = ("crop_flip", "inception", "none")
PIPELINES = ("auto", "tf.data", "numpy")


@dataclasses.dataclass
class DataOptions:
    """Where the data comes from.

    Attributes:
        data_dir: image-folder root, a .tar.gz of one, or tfds `data_dir` with `tfds`.
        tfds: a tfds dataset name; None for an image folder.
        holdout: images per class held out of `train` when there is no `val` folder.
        limit_per_class: use only the first N training images of each class (0: all).
        download: let tfds download the dataset.
        train_split, val_split: tfds split names.
        extract_dir: where archives are extracted (default: beside the archive, else /tmp).
        pipeline: "tf.data", "numpy" (image folders decoded into memory, no TensorFlow) or
            "auto" (tf.data when TensorFlow is installed, else numpy).
    """

    data_dir: str | None = None
    tfds: str | None = None
    holdout: int = 0
    limit_per_class: int = 0
    download: bool = False
    train_split: str = "train"
    val_split: str = "validation"
    extract_dir: str | None = None
    pipeline: str = "auto"


def tensorflow_installed():
    """Whether `import tensorflow` works here (the GPU hosts of this project have none)."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_pipeline(pipeline):
    """"tf.data" or "numpy" for a `DataOptions.pipeline` value."""
    if pipeline not in PIPELINES:
        raise ValueError(f"Unknown input pipeline {pipeline!r}; expected one of {PIPELINES}.")
    if pipeline != "auto":
        return pipeline
    return "tf.data" if tensorflow_installed() else "numpy"


def default_augmentation(input_size):
    """"crop_flip" for small (CIFAR-sized) inputs, "inception" otherwise."""
    return "crop_flip" if input_size <= 64 else "inception"


def extract_archive(path, extract_dir=None):
    """Extracts a .tar / .tar.gz once into `extract_dir` (default ~/.keras/datasets) and
    returns the folder. Extraction goes to a private folder renamed into place, so
    concurrent runs never read a half-written image."""
    base = os.path.basename(path)
    for suffix in (".tar.gz", ".tgz", ".tar"):
        base = base.removesuffix(suffix)
    parent = extract_dir or os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    root = os.path.join(parent, base)
    if not os.path.isdir(root):
        os.makedirs(parent, exist_ok=True)
        staging = f"{root}.partial-{os.getpid()}"
        with tarfile.open(path) as archive:
            archive.extractall(staging, filter="data")
        try:
            os.rename(staging, root)
        except OSError:  # another process finished first
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return root


def _image_files(folder):
    """The image files of `folder`, sorted by name (none if it does not exist)."""
    if not os.path.isdir(folder):
        return []
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))


def _class_folders(split_dir):
    """The sub-folders of `split_dir`, sorted; hidden ones (".ipynb_checkpoints") are not
    classes."""
    return sorted(d for d in os.listdir(split_dir)
                  if os.path.isdir(os.path.join(split_dir, d)) and not d.startswith("."))


def list_image_folder(split_dir, class_names=None):
    """(paths, labels, class_names) of split_dir/<class>/<image>, files sorted by name.

    Args:
        split_dir: the split's folder (root/train, root/val).
        class_names: the classes, in label order (those of the training split); None to
            take the sub-folders of `split_dir`, each of which must then hold images.

    Raises:
        ValueError: the folder does not exist or holds no class folders; a class folder
            holds no images; a folder of `split_dir` is not one of `class_names`.
    """
    if not os.path.isdir(split_dir):
        raise ValueError(
            f"Image folder {split_dir!r} does not exist. Expected the layout "
            "root/train/<class>/<image> (and optionally root/val/<class>/<image>).")
    folders = _class_folders(split_dir)
    if class_names is None:
        class_names = folders
        empty = [os.path.join(split_dir, d) for d in folders
                 if not _image_files(os.path.join(split_dir, d))]
        if empty:
            raise ValueError(
                f"Class folder(s) {empty} hold no images ({', '.join(IMAGE_EXTENSIONS)}); "
                "every folder of a split is a class: add its images or remove it.")
    unknown = [os.path.join(split_dir, d) for d in folders if d not in class_names]
    if unknown:
        raise ValueError(f"Folder(s) {unknown} are not classes of the training split "
                         f"{list(class_names)}: rename or remove them.")
    if not class_names:
        raise ValueError(f"{split_dir!r} holds no class folders (<class>/<image>).")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        folder = os.path.join(split_dir, name)
        files = _image_files(folder)
        paths += [os.path.join(folder, f) for f in files]
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int32), class_names


def _split_holdout(paths, labels, holdout, limit_per_class):
    """Last `holdout` of each class -> validation; first `limit_per_class` of the rest."""
    train_idx, val_idx = [], []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        if holdout:
            if len(idx) <= holdout:
                raise ValueError(f"Class {label} has {len(idx)} images, not more than "
                                 f"holdout={holdout}; lower --holdout.")
            idx, held = idx[:-holdout], idx[-holdout:]
            val_idx += list(held)
        train_idx += list(idx[:limit_per_class] if limit_per_class else idx)
    pick = lambda idx: ([paths[i] for i in idx], labels[idx])  # noqa: E731
    return pick(np.asarray(train_idx, dtype=int)), pick(np.asarray(val_idx, dtype=int))


def folder_splits(options):
    """((train paths, labels), (val paths, labels), class_names) of an image folder."""
    root = options.data_dir
    if root.endswith((".tar.gz", ".tgz", ".tar")) and os.path.isfile(root):
        root = extract_archive(root, options.extract_dir)
    train_dir = os.path.join(root, "train")
    paths, labels, class_names = list_image_folder(train_dir)
    val_dir = next((os.path.join(root, d) for d in ("val", "validation")
                    if os.path.isdir(os.path.join(root, d))), None)
    if val_dir and not options.holdout:
        train, _ = _split_holdout(paths, labels, 0, options.limit_per_class)
        val_paths, val_labels, _ = list_image_folder(val_dir, class_names)
        return train, (val_paths, val_labels), class_names
    if not options.holdout:
        raise ValueError(f"{root!r} has no val/ folder: pass --holdout N to hold out the last "
                         "N images of each class as validation.")
    train, val = _split_holdout(paths, labels, options.holdout, options.limit_per_class)
    return train, val, class_names


def _tf():
    import tensorflow as tf

    return tf


def normalize(image, transform):
    """(image / 255 - mean) / std, float32 (B?, H, W, 3)."""
    tf = _tf()
    mean = tf.constant(transform.mean, tf.float32) * 255.0
    std = tf.constant(transform.std, tf.float32) * 255.0
    return (tf.cast(image, tf.float32) - mean) / std


def eval_resize_crop(image, transform):
    """Resize the shorter side to `resize_size`, centre crop `input_size` (uint8 in, float out)."""
    tf = _tf()
    size = transform.input_size
    resize = transform.resize_size
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(resize, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.round(shape * scale), tf.int32)
    image = tf.image.resize(image, new, method=transform.interpolation, antialias=True)
    top = (new[0] - size) // 2
    left = (new[1] - size) // 2
    return image[top:top + size, left:left + size, :]


def augment(image, transform, kind):
    """A random training view of one decoded image, (S, S, 3) float32 in pixel units."""
    tf = _tf()
    size = transform.input_size
    if kind == "crop_flip":
        image = tf.image.resize(image, (size, size), antialias=True)
        pad = max(1, size // 8)
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        image = tf.image.random_crop(image, (size, size, 3))
    elif kind == "inception":
        begin, crop, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image), tf.zeros((1, 0, 4)), min_object_covered=0.08,
            aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0), max_attempts=10,
            use_image_if_no_bounding_boxes=True)
        image = tf.slice(image, begin, crop)
        image = tf.image.resize(image, (size, size), method=transform.interpolation)
    elif kind == "none":
        return eval_resize_crop(image, transform)
    else:
        raise ValueError(f"Unknown augmentation {kind!r}; expected one of {AUGMENTATIONS}.")
    return tf.image.random_flip_left_right(image)


def _decode(path):
    tf = _tf()
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape((None, None, 3))
    return image


UNREADABLE = ("could not be read or decoded as a JPEG, PNG, GIF or BMP image: remove it from "
              "the folder or replace it.")


def decode_files(paths, labels):
    """A dataset of (uint8 (H, W, 3) image, label), one per file, in order.

    A file TensorFlow cannot read or decode stops the iteration with an
    `InvalidArgumentError` naming its path. (A decoding error inside tf.data does not say
    which element failed: failed elements are dropped with `ignore_errors`, and the first gap
    in their running index names the file.)
    """
    tf = _tf()
    count = len(paths)
    path_table = tf.constant(list(paths) or [""], tf.string)

    def decode(index, label):
        return index, _decode(path_table[index]), label

    def check_next(expected, element):
        missing = path_table[tf.minimum(expected, max(count - 1, 0))]
        readable = tf.debugging.Assert(tf.equal(element[0], expected),
                                       ["Image file", missing, UNREADABLE], summarize=1)
        with tf.control_dependencies([readable]):
            return tf.identity(element[0]) + 1, element

    def in_list(index, image, label):
        return index < count

    def image_and_label(index, image, label):
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((np.arange(count, dtype=np.int64), labels))
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    # An element with index `count` after the files reveals files dropped at the end.
    end = tf.data.Dataset.from_tensors(
        (np.int64(count), tf.zeros((0, 0, 3), tf.uint8), tf.zeros((), ds.element_spec[2].dtype)))
    ds = ds.concatenate(end).scan(np.int64(0), check_next).filter(in_list).map(image_and_label)
    return ds.apply(tf.data.experimental.assert_cardinality(count))


def shard_positions(count, shard):
    """The positions (of `count` items) in share `index` of `shard = (shares, index)`: every
    `shares`-th item from `index`, cut to `count // shares` so every share has the same size
    (the last `count % shares` items belong to none): disjoint shares that cover the rest."""
    shares, index = shard
    if not (isinstance(shares, int) and isinstance(index, int) and 0 <= index < shares):
        raise ValueError(f"shard must be (shares, index) with 0 <= index < shares; "
                         f"received {shard!r}.")
    return np.arange(index, count, shares)[:count // shares]


def make_dataset(images, labels, num_classes, transform, batch_size, training,
                 augmentation="crop_flip", seed=0, cache=True, drop_remainder=False,
                 shard=None):
    """A batched tf.data.Dataset of (normalised image, one-hot label).

    Args:
        images: a tf.data.Dataset of uint8 (H, W, 3) images, or a list of file paths.
        labels: int labels (ignored when `images` is a dataset of (image, label) pairs).
        cache: keep decoded images in memory (use for datasets that fit).
        shard: (shares, index): only share `index` of the images (`shard_positions`, taken
            after the seeded permutation of a file list, so every share mixes the classes);
            a worker of a multi-worker run decodes and caches its share only.
    """
    tf = _tf()
    if isinstance(images, (list, tuple)):
        images, labels = list(images), np.asarray(labels)
        if training:
            # Folder listings are sorted by class, and a shuffle buffer smaller than the
            # dataset would then fill each batch with two or three classes: BatchNorm's batch
            # statistics learn the batch's classes and inference accuracy collapses.
            order = np.random.default_rng(seed).permutation(len(images))
            images, labels = [images[i] for i in order], labels[order]
        if shard is not None:
            picked = shard_positions(len(images), shard)
            images, labels = [images[i] for i in picked], labels[picked]
        ds = decode_files(images, labels)
    else:
        ds = images
        if shard is not None:
            count = int(ds.cardinality())
            ds = ds.shard(*shard)
            if count >= 0:
                ds = ds.take(count // shard[0])
    size = transform.input_size
    if training and augmentation == "crop_flip":
        # Decode and resize once; crop and flip per epoch.
        ds = ds.map(lambda x, y: (tf.cast(tf.image.resize(x, (size, size), antialias=True),
                                          tf.uint8) if x.shape[0] != size else x, y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    elif not training:
        ds = ds.map(lambda x, y: (eval_resize_crop(x, transform), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(lambda x, y: (augment(x, transform, augmentation), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda x, y: (normalize(x, transform), tf.one_hot(y, num_classes)),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _tfds_splits(options):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ValueError("--tfds needs tensorflow-datasets: pip install 'keras-senet[data]'") \
            from None
    kwargs = {}
    if options.data_dir:
        kwargs["download_and_prepare_kwargs"] = {
            "download_config": tfds.download.DownloadConfig(manual_dir=options.data_dir)}
    builder_splits = {}
    for key, split in (("train", options.train_split), ("val", options.val_split)):
        try:
            ds, info = tfds.load(options.tfds, split=split, as_supervised=True, with_info=True,
                                 data_dir=options.data_dir, download=options.download,
                                 **kwargs)
        except (AssertionError, ValueError, KeyError) as e:
            if key == "val" and options.val_split == "validation":
                ds, info = tfds.load(options.tfds, split="test", as_supervised=True,
                                     with_info=True, data_dir=options.data_dir,
                                     download=options.download, **kwargs)
            else:
                raise ValueError(f"tfds could not load {options.tfds!r} split {split!r} ({e}). "
                                 "Pass --download to fetch it.") from None
        builder_splits[key] = ds
    names = info.features["label"].names
    return builder_splits["train"], builder_splits["val"], names


def load_datasets(options, transform, batch_size, augmentation=None, seed=0,
                  drop_remainder=False, train=True, shard=None):
    """(train_ds or None, val_ds, class_names) for `options`, batched, normalised.

    `shard` = (shares, index): the training set holds only share `index` of the training
    images (see `make_dataset`); the validation set is whole.
    """
    augmentation = augmentation or default_augmentation(transform.input_size)
    pipeline = resolve_pipeline(options.pipeline)
    if pipeline == "numpy":
        if shard is not None:
            raise ValueError("Sharding the training images over workers (--strategy "
                             "multiworker) needs the tf.data pipeline: drop --pipeline numpy.")
        if options.tfds:
            raise ValueError("--tfds needs the tf.data pipeline (TensorFlow and "
                             "tensorflow-datasets); with --pipeline numpy give an image folder "
                             "or a .tar.gz of one as --data-dir.")
        if not options.data_dir:
            raise ValueError("Give the data: --data-dir ROOT (an image folder or .tar.gz).")
        from keras_senet import array_pipeline

        train_split, val_split, names = folder_splits(options)
        train_ds, val_ds = array_pipeline.load_datasets(
            train_split, val_split, len(names), transform, batch_size, training=train,
            augmentation=augmentation, seed=seed, drop_remainder=drop_remainder)
        return train_ds, val_ds, names
    if options.tfds:
        train_raw, val_raw, names = _tfds_splits(options)
        train_args, val_args = (train_raw, None), (val_raw, None)
        cache = transform.input_size <= 64
    else:
        if not options.data_dir:
            raise ValueError("Give the data: --data-dir ROOT (an image folder or .tar.gz) "
                             "or --tfds NAME.")
        (tp, tl), (vp, vl), names = folder_splits(options)
        train_args, val_args = (tp, tl), (vp, vl)
        cache = transform.input_size <= 64 or len(tp) <= 2000
    num_classes = len(names)
    val_ds = make_dataset(*val_args, num_classes, transform, batch_size, training=False,
                          cache=cache)
    train_ds = None
    if train:
        train_ds = make_dataset(*train_args, num_classes, transform, batch_size, training=True,
                                augmentation=augmentation, seed=seed, cache=cache,
                                drop_remainder=drop_remainder, shard=shard)
    return train_ds, val_ds, names
