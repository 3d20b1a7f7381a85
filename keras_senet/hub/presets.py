"""keras-hub presets of keras_senet networks: build the classifier, write and check the preset.

    report = write_preset("seresnet50.a1_in1k", "presets/seresnet50.a1_in1k")
    keras_hub.models.ImageClassifier.from_preset("presets/seresnet50.a1_in1k")

A preset is written by keras-hub's own `save_to_preset` (config.json, model.weights.h5,
task.json, task.weights.h5, preprocessor.json, image_converter.json, metadata.json) plus a
model card, README.md. Before it is published (atomically, `keras_senet.atomic`), it is
loaded back through `keras_hub.models.ImageClassifier.from_preset` and its logits compared
with the keras_senet model it was made from; the card records the difference.
"""

import dataclasses
import datetime
import importlib.metadata
import os

import keras
import numpy as np

from keras_senet import atomic, registry
from keras_senet.applications.contract import build_model, check_name_tag
from keras_senet.applications.imagenet_utils import preprocess_input
from keras_senet.checkpoints import IN_MODEL_TRANSFORM, PACKAGE_SCHEME, EvalTransform
from keras_senet.hub.families import family_classes
from keras_senet.hub.image_converter import resize_and_crop
from keras_senet.weights import resolve
from keras_senet.weights.fetch import sha256_of

# Largest logit difference, relative to the logits' scale (at least 1), a preset may have
# against the model it was made from: the bound of the timm parity tests.
PARITY_TOLERANCE = 1e-4
PARITY_IMAGES = 2


@dataclasses.dataclass(frozen=True)
class PresetReport:
    """What `write_preset` wrote and measured.

    Attributes:
        directory: the preset directory.
        model_name: the registry name.
        source: the `WeightSource` of pretrained weights, or None.
        weights: the `weights=` argument the preset was made with.
        transform: the `EvalTransform` its image converter applies.
        max_abs_logit_diff: the largest difference between the reloaded preset's logits and
            `create_model(model_name, weights=weights)`'s on the same images.
        logit_scale: the largest absolute logit of that comparison.
        images_shape: the shape of the random 0..255 images compared, (B, H, W, 3).
    """

    directory: str
    model_name: str
    source: object
    weights: object
    transform: EvalTransform
    max_abs_logit_diff: float
    logit_scale: float
    images_shape: tuple


def default_transform(spec):
    """The evaluation transform of an architecture's default checkpoint; without one, the
    ImageNet transform at the default size (the pixels unchanged for in-model
    normalisation)."""
    if spec.checkpoints:
        return spec.checkpoints[0].transform
    if spec.preprocessing == "in_model":
        return dataclasses.replace(IN_MODEL_TRANSFORM, input_size=spec.default_size)
    return EvalTransform(input_size=spec.default_size)


def copy_weights(reference, classifier):
    """Assigns the variables of `reference` (a `create_model` functional classifier) to the
    same-named layers of `classifier` (its backbone and head).

    Raises:
        ValueError: the two do not have the same weight-bearing layers and shapes.
    """
    targets = {layer.name: layer for layer in classifier.backbone.layers if layer.weights}
    targets.update({layer.name: layer for layer in classifier.layers
                    if layer.weights and layer is not classifier.backbone})
    sources = {layer.name: layer for layer in reference.layers if layer.weights}
    if set(targets) != set(sources):
        raise ValueError(
            f"{type(classifier).__name__} and {reference.name} differ in layers: only in the "
            f"keras-hub model {sorted(set(targets) - set(sources))[:10]}, only in the keras_senet "
            f"model {sorted(set(sources) - set(targets))[:10]}.")
    for name, layer in sources.items():
        targets[name].set_weights(layer.get_weights())


def check_request(model_name, weights):
    """Checks a name, its tag and `weights=` before anything is built or downloaded.

    Returns:
        (spec, request): the `ModelSpec` and the `resolve.WeightsRequest`.

    Raises:
        ValueError: an unknown name (with the registry's close matches), an unknown tag
            (with the architecture's tags), or a `weights` value the architecture lacks.
    """
    spec = registry.get_spec(model_name)
    _, tag = registry.split_name(model_name)
    check_name_tag(spec, tag)
    return spec, resolve.parse_weights(spec, weights, tag)


def build_classifier(model_name, weights="imagenet"):
    """The keras-hub image classifier of a registered network, with its weights.

    Args:
        model_name: a registry name, optionally with a pretrained tag ("skresnet18.ra_in1k").
        weights: as `keras_senet.create_model`'s: "imagenet", a tag, a file, or None. A file
            or None takes the evaluation transform of the architecture's default checkpoint
            (`default_transform`).

    Returns:
        (classifier, reference): the family's `ImageClassifier` (logits, the checkpoint's
        evaluation transform in its preprocessor) and the `create_model` functional model
        whose weights it holds (logits too, built at the transform's input size).
    """
    spec, request = check_request(model_name, weights)
    classes = family_classes(model_name)
    transform = request.source.transform if request.pretrained else default_transform(spec)
    size = transform.input_size
    reference = build_model(model_name, weights=weights, classes=None,
                            classifier_activation=None,
                            input_shape=None if request.pretrained else (size, size, 3))
    fixed = getattr(classes.classifier, "fixed_image_size", False)
    backbone = classes.backbone(spec.name, image_shape=(size, size, 3) if fixed
                                else (None, None, 3), name=spec.name)
    converter = classes.image_converter.from_transform(transform)
    preprocessor = classes.preprocessor(image_converter=converter)
    head = {} if fixed else {"dropout": spec.drop_rate}
    classifier = classes.classifier(backbone=backbone, num_classes=reference.output_shape[-1],
                                    preprocessor=preprocessor, activation=None, **head)
    copy_weights(reference, classifier)
    return classifier, reference


def parity_images(size, count=PARITY_IMAGES, seed=0):
    """(count, H, W, 3) random RGB images, 0..255 uint8, taller and wider than `size` (not
    square), so that the comparison goes through the resize and the crop."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, size * 5 // 4 + 3, size + 7, 3), dtype="uint8")


def reference_logits(reference, images, transform):
    """`reference`'s logits on raw images after the transform: the resize and crop of the
    image converter, then `preprocess_input` with the transform's mean and std.

    Args:
        reference: a `create_model` classifier (logits).
        images: RGB 0..255, (B, H, W, 3), or a list of (H_i, W_i, 3) images.
        transform: the `EvalTransform`.
    """
    x = resize_and_crop(images, transform.input_size, transform.crop_pct,
                        transform.interpolation).numpy()
    x = preprocess_input(x, mean=transform.mean, std=transform.std)
    return reference.predict(x, verbose=0)


def logit_difference(classifier, reference, images, transform):
    """(max |classifier - reference| logit difference, max |reference logit|) on raw
    `images` (B, H, W, 3): the classifier's own preprocessor against `reference_logits`."""
    ours = classifier.predict(images, verbose=0)
    expected = reference_logits(reference, images, transform)
    return float(np.abs(ours - expected).max()), float(np.abs(expected).max())


def check_destination(directory, overwrite=False):
    """Refuses a destination that is a file, or a non-empty directory without `overwrite`
    (an empty directory is used as it is).

    Raises:
        ValueError: naming the path and what to pass instead.
    """
    if os.path.isfile(directory):
        raise ValueError(f"{directory} is a file; a preset is a directory: give a directory "
                         "path.")
    if os.path.isdir(directory) and os.listdir(directory) and not overwrite:
        raise ValueError(f"{directory} exists and is not empty; pass overwrite=True "
                         "(--overwrite) to replace it, or give another path.")


def package_version():
    """keras-senet's installed version (the registry row of that version defines the
    architecture a preset's config names); read from the distribution, not by importing the
    package, which imports this face."""
    try:
        return importlib.metadata.version("keras-senet")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def weights_lines(source, weights):
    """The model card's account of where the weights come from."""
    if source is None and weights is None:
        return ["Random initialisation: these are not pretrained weights."]
    if source is None:
        path = os.fspath(weights)
        return [f"From the file `{os.path.basename(path)}` (sha256 `{sha256_of(path)}`), "
                "converted by keras_senet."]
    if source.url.startswith(PACKAGE_SCHEME):
        return [f"Checkpoint `{source.full_name}`, trained by the keras_senet project and "
                f"shipped with it (`{source.url[len(PACKAGE_SCHEME):]}`).",
                f"Licence: {source.license}.",
                f"Validation top-1: {source.top1}% on the held-out split recorded in "
                "keras_senet/weights/manifest.json (measured by the project)."]
    page = f"https://huggingface.co/{source.hub_repo}" if source.hub_repo else source.url
    top1 = (f"ImageNet-1k validation top-1: {source.top1}%, as published by timm "
            "(results-imagenet.csv); not measured here." if source.top1 is not None else
            "timm publishes no ImageNet-1k top-1 for this checkpoint.")
    return [f"Source checkpoint: timm `{source.full_name}`, {page} (file `{source.file_name}`), "
            "converted to Keras by keras_senet.", f"Licence: {source.license}.", top1]


def model_card(report, classifier):
    """README.md of a preset: what it is, how to load it, where its weights come from, its
    evaluation transform and the measured logit difference."""
    import keras_hub

    spec = registry.get_spec(report.model_name)
    t = report.transform
    title = report.source.full_name if report.source else report.model_name
    licence = report.source.license if report.source else "apache-2.0"
    backbone = type(classifier.backbone).__name__
    folder = os.path.basename(report.directory)
    count, height, width, _ = report.images_shape
    lines = [
        "---", "library_name: keras-hub", f"license: {licence}",
        "pipeline_tag: image-classification",
        "tags: [keras, keras-hub, keras-senet, squeeze-and-excitation, image-classification]",
        "---", "", f"# {title} (keras-hub preset)", "",
        f"`{report.model_name}` ({spec.family} family) from keras_senet {package_version()}, as "
        "keras-hub classes: "
        f"`{backbone}` (a `FeaturePyramidBackbone`, pyramid levels "
        f"{', '.join(classifier.backbone.pyramid_levels)}) and "
        f"`{type(classifier).__name__}` ({classifier.num_classes} classes, logits).", "",
        "## Use", "", "```python",
        "import keras_senet  # registers the keras_senet classes with keras-hub",
        "import keras_hub", "",
        f'preset = "{folder}"  # this folder, or "hf://<user>/<repo>" once uploaded',
        "classifier = keras_hub.models.ImageClassifier.from_preset(preset)",
        "logits = classifier.predict(images)  # RGB 0..255, any size: the preset resizes",
        "backbone = keras_hub.models.Backbone.from_preset(preset)",
        "finetuned = keras_hub.models.ImageClassifier.from_preset(preset, num_classes=10)",
        "```", "", "## Weights", "",
        *[f"- {line}" for line in weights_lines(report.source, report.weights)], "",
        "## Evaluation transform (the preprocessor)", "",
        f"Resize the shorter side to {t.resize_size} px ({t.interpolation}, antialiased), "
        f"centre crop {t.input_size} x {t.input_size} (crop_pct {t.crop_pct}), then "
        + ("the pixels unchanged: the network normalises 0..255 RGB itself." if
           t.mean == IN_MODEL_TRANSFORM.mean and t.std == IN_MODEL_TRANSFORM.std else
           f"x / 255, minus mean {tuple(round(m, 4) for m in t.mean)}, divided by std "
           f"{tuple(round(s, 4) for s in t.std)}."), "",
        "## Parity", "",
        f"Loaded back with `keras_hub.models.ImageClassifier.from_preset`, this preset's "
        f"logits differ from `keras_senet.create_model({report.model_name!r}, ...)`'s (same "
        "resize and crop, then `preprocess_input`) by at most "
        f"{report.max_abs_logit_diff:.2e} (largest logit {report.logit_scale:.3g}) on "
        f"{count} random {height} x {width} images, measured when the preset was "
        f"written ({datetime.date.today().isoformat()}; keras {keras.version()}, keras-hub "
        f"{keras_hub.__version__}).",
        "keras_senet's test suite checks the conversion from timm on every architecture "
        "timm has: logits within 1e-4 of timm's on real photographs.", "",
    ]
    return "\n".join(lines)


def write_preset(model_name, directory, weights="imagenet", overwrite=False):
    """Writes the keras-hub preset of a registered network, checked, atomically.

    Args:
        model_name: a registry name, optionally with a pretrained tag.
        directory: the preset directory to write.
        weights: "imagenet" (the tag in the name, else the default checkpoint), a tag, a
            weights file, or None (random).
        overwrite: replace an existing, non-empty `directory`.

    Returns:
        A `PresetReport`.

    Raises:
        ValueError: an unknown name or tag (with the registry's suggestions), bad weights,
            an existing destination without `overwrite`, or a preset whose reloaded logits
            differ from the model's by more than `PARITY_TOLERANCE` (nothing is written).
    """
    import keras_hub

    directory = os.path.abspath(os.fspath(directory))
    check_request(model_name, weights)
    check_destination(directory, overwrite)
    classifier, reference = build_classifier(model_name, weights)
    source = reference.pretrained_cfg
    transform = classifier.preprocessor.image_converter.transform
    with atomic.staging_dir(directory) as stage:
        staged = os.path.join(stage.path, "preset")
        classifier.save_to_preset(staged)
        reloaded = keras_hub.models.ImageClassifier.from_preset(staged)
        images = parity_images(transform.input_size)
        difference, scale = logit_difference(reloaded, reference, images, transform)
        if difference > PARITY_TOLERANCE * max(1.0, scale):
            raise ValueError(
                f"The preset of {model_name}, loaded back, differs from the keras_senet model "
                f"by {difference:.3g} in its logits (tolerance {PARITY_TOLERANCE:g} x "
                f"{max(1.0, scale):.3g}); nothing was written to {directory}.")
        report = PresetReport(directory, registry.get_spec(model_name).name, source, weights,
                              transform, difference, scale, images.shape)
        with open(os.path.join(staged, "README.md"), "w") as f:
            f.write(model_card(report, reloaded))
        stage.publish(staged, overwrite=overwrite)
    return report
