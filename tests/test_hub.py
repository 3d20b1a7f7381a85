"""The keras-hub face: every family as keras-hub backbone, image classifier and preset.

    keras-senet preset seresnet50.a1_in1k DIR          # or keras_senet.hub.presets.write_preset
    keras_hub.models.ImageClassifier.from_preset(DIR)  # after `import keras_senet`

The round trips run on tiny rows of the registry (tests/harness.py); the full-size checks
convert timm-layout checkpoints (random weights, BatchNorm statistics of real photos) and
compare the preset's `predict` on raw photographs with `keras_senet.create_model`.
"""

import dataclasses
import json
import os
import pathlib
import shutil

import keras
import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

import keras_senet  # noqa: E402
import keras_senet.hub  # noqa: E402
from keras_senet import registry  # noqa: E402
from keras_senet.applications.imagenet_utils import preprocess_input  # noqa: E402
from keras_senet.cli import main  # noqa: E402
from keras_senet.hub import presets, resize_and_crop  # noqa: E402
from tests.batch_norm_utils import randomise_batch_norm  # noqa: E402
from tests.conftest import DATA, PHOTOS  # noqa: E402
from tests.harness import tiny_config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CIFAR_SAMPLE = ROOT / "applications" / "data" / "cifar10-sample"
PRESET_FILES = ["README.md", "config.json", "image_converter.json", "metadata.json",
                "model.weights.h5", "preprocessor.json", "task.json", "task.weights.h5"]
# One architecture per family, with its classes' prefix.
FAMILIES = {
    "se_resnet": ("seresnext26d_32x4d", "SEResNet"),
    "sknet": ("skresnet18", "SKNet"),
    "se_inception": ("se_bn_inception", "SEInception"),
    "se_mobile": ("se_shufflenet_g3", "SEMobile"),
    "se_vgg": ("se_vgg16_bn", "SEVGG"),
    "cifar": ("se_resnet164_cifar", "CifarResNet"),
}


@pytest.fixture
def tiny(monkeypatch):
    """`tiny(name)`: the registry row of `name` swapped for its tiny config (one block per
    stage), without checkpoints, its default size 64 px (CIFAR: 32) for the test."""

    def swap(name):
        spec = registry.get_spec(name)
        size = max(min(64, spec.default_size), spec.min_size)
        row = dataclasses.replace(spec, config=tiny_config(spec.config), checkpoints=(),
                                  default_size=size)
        monkeypatch.setitem(registry._REGISTRY, spec.name, row)
        return row

    return swap


def raw_images(shapes, seed=0):
    """uint8 RGB images of the given (H, W) sizes."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape + (3,), dtype="uint8") for shape in shapes]


def trained_looking_weights(name, path, seed=0):
    """A `create_model(name)` with random weights and BatchNorm statistics off their initial
    values, saved as `.weights.h5` at `path`; returns the model (logits)."""
    model = keras_senet.create_model(name, classifier_activation=None)
    randomise_batch_norm(model, seed=seed)
    model.save_weights(path)
    return model


def weights_by_layer(layers):
    return {layer.name: [keras.ops.convert_to_numpy(w) for w in layer.weights]
            for layer in layers if layer.weights}


# ------------------------------------------------------------------------- the image converter


def test_converter_resizes_the_shorter_side_and_crops_the_centre_like_torchvision():
    """A 100 x 60 image, S = 32, crop_pct 0.5: shorter side 60 -> 64, longer
    int(64 * 100 / 60) = 106; centre crop at round((106 - 32) / 2) = 37, round(16) = 16."""
    image = np.arange(100 * 60 * 3, dtype="float32").reshape(100, 60, 3) % 256
    crop = resize_and_crop(image, 32, crop_pct=0.5, interpolation="nearest").numpy()
    rows = np.floor((np.arange(37, 69) + 0.5) * 100 / 106).astype(int)
    cols = np.floor((np.arange(16, 48) + 0.5) * 60 / 64).astype(int)
    np.testing.assert_array_equal(crop, image[rows][:, cols])


def test_converter_normalises_like_preprocess_input_and_keeps_cifar_pixels():
    transform = keras_senet.get_spec("skresnet18").checkpoints[0].transform
    converter = keras_senet.hub.SKNetImageConverter.from_transform(transform)
    images = raw_images([(300, 240), (300, 240)])
    expected = preprocess_input(resize_and_crop(images, 224, 0.875, "bicubic").numpy())
    np.testing.assert_allclose(converter(np.stack(images)), expected, atol=1e-5)
    assert converter.transform == transform
    cifar = keras_senet.hub.CifarResNetImageConverter.from_transform(
        keras_senet.checkpoints.IN_MODEL_TRANSFORM)
    pixels = raw_images([(32, 32)])[0]
    np.testing.assert_array_equal(cifar(pixels), pixels.astype("float32"))
    # images of different sizes, as a list: one batch of crops
    assert tuple(converter(raw_images([(250, 300), (224, 500)])).shape) == (2, 224, 224, 3)


# ---------------------------------------------------------------- every family, through a preset


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_round_trips_through_a_preset(family, tiny, tmp_path):
    """`write_preset` loads the preset back through `ImageClassifier.from_preset` and
    compares its `predict` on raw non-square images with `create_model`'s on the same
    transform; here: the classes, the layers and weights by name, the backbone alone."""
    name, prefix = FAMILIES[family]
    tiny(name)
    reference = trained_looking_weights(name, tmp_path / "model.weights.h5")
    preset = tmp_path / "preset"
    report = presets.write_preset(name, preset, weights=str(tmp_path / "model.weights.h5"))
    assert sorted(os.listdir(preset)) == PRESET_FILES
    assert report.logit_scale > 1e-3  # the comparison is not one of zeros
    assert report.max_abs_logit_diff <= 1e-4 * max(1.0, report.logit_scale)
    card = (preset / "README.md").read_text()
    assert "model.weights.h5` (sha256" in card and f"{report.max_abs_logit_diff:.2e}" in card

    classifier = keras_hub.models.ImageClassifier.from_preset(str(preset))
    assert type(classifier).__name__ == f"{prefix}ImageClassifier"
    assert type(classifier.backbone).__name__ == f"{prefix}Backbone"
    assert type(classifier.preprocessor.image_converter).__name__ == f"{prefix}ImageConverter"
    assert classifier.preprocessor.image_converter.transform == report.transform
    # the layers and weights of keras_senet's functional model, by name
    ours, theirs = weights_by_layer(classifier.backbone.layers), weights_by_layer(reference.layers)
    head = ["fc1", "fc2", "predictions"] if family == "se_vgg" else ["predictions"]
    assert list(ours) == [name for name in theirs if name not in head]
    ours.update(weights_by_layer(classifier.get_layer(name) for name in head))
    for layer_name, arrays in theirs.items():
        for a, b in zip(ours[layer_name], arrays, strict=True):
            np.testing.assert_array_equal(a, b)

    backbone = keras_hub.models.Backbone.from_preset(str(preset))
    assert isinstance(backbone, keras_hub.models.FeaturePyramidBackbone)
    levels = ("P0", "P1", "P2") if family == "cifar" else ("P2", "P3", "P4", "P5")
    assert tuple(backbone.pyramid_outputs) == levels
    assert backbone.pyramid_outputs[levels[-1]] is backbone.output


# --------------------------------------------------------------------- fine-tuning through hub


def test_shipped_cifar_weights_classify_and_fine_tune_through_a_preset(tmp_path):
    """The CIFAR-10 weights the project trained, as a preset: the same predictions as
    `create_model` on the shipped images; `from_preset(DIR, num_classes=10)` puts a new head
    on them, and `fit` on the image folder lowers its loss."""
    preset = str(tmp_path / "se_resnet20_cifar")
    report = presets.write_preset("se_resnet20_cifar.cifar10", preset)
    assert report.source.full_name == "se_resnet20_cifar.cifar10"
    assert "85.2%" in (tmp_path / "se_resnet20_cifar" / "README.md").read_text()

    val = keras.utils.image_dataset_from_directory(
        CIFAR_SAMPLE / "val", image_size=(32, 32), batch_size=40, shuffle=False, verbose=False)
    images, labels = next(iter(val))
    classifier = keras_hub.models.ImageClassifier.from_preset(preset)
    predicted = np.argmax(classifier.predict(images, verbose=0), axis=1)
    model = keras_senet.create_model("se_resnet20_cifar", weights="cifar10")
    np.testing.assert_array_equal(predicted, np.argmax(model.predict(images, verbose=0), 1))
    assert np.mean(predicted == labels.numpy()) >= 0.6  # 85 % on CIFAR-10's hold-out

    train = keras.utils.image_dataset_from_directory(
        CIFAR_SAMPLE / "train", image_size=(32, 32), batch_size=16, seed=0, verbose=False)
    keras.utils.set_random_seed(0)
    tuned = keras_hub.models.ImageClassifier.from_preset(preset, num_classes=10)
    assert not np.allclose(tuned.get_layer("predictions").get_weights()[0],
                           classifier.get_layer("predictions").get_weights()[0])
    tuned.backbone.trainable = False
    tuned.compile(optimizer=keras.optimizers.Adam(1e-2))  # keras-hub's loss and metric
    losses = tuned.fit(train, epochs=3, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


# ------------------------------------------------------------------------ a task beyond classes


@pytest.mark.parametrize("name", ["seresnet18", "skresnet18"])
def test_backbone_is_the_image_encoder_of_deeplab_v3(name, tiny):
    """DeepLabV3+ on the P5 (spatial pyramid pooling) and P2 (decoder) maps: six steps of
    segmenting bright squares from a dark background, the loss finite and falling."""
    tiny(name)
    keras.utils.set_random_seed(0)
    encoder = keras_senet.hub.backbone_class(name)(name)
    deeplab = keras_hub.models.DeepLabV3Backbone(
        image_encoder=encoder, spatial_pyramid_pooling_key="P5", upsampling_size=8,
        dilation_rates=[1, 2], low_level_feature_key="P2", projection_filters=8)
    segmenter = keras_hub.models.DeepLabV3ImageSegmenter(backbone=deeplab, num_classes=2)
    rng = np.random.default_rng(0)
    masks = np.zeros((8, 32, 32, 1), "int32")
    for mask, (top, left) in zip(masks, rng.integers(0, 16, (8, 2))):
        mask[top:top + 16, left:left + 16] = 1
    images = (masks * 0.8 + rng.uniform(0, 0.2, (8, 32, 32, 3))).astype("float32")
    # Six steps run faster eagerly than the train step takes to trace.
    segmenter.compile(optimizer=keras.optimizers.Adam(3e-4), run_eagerly=True,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = segmenter.fit(images, masks, batch_size=8, epochs=6, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert segmenter.predict(images[:1], verbose=0).shape == (1, 32, 32, 2)


# ------------------------------------------------------------------------------- the command


def test_preset_command_writes_refuses_an_existing_dir_and_overwrites(tiny, tmp_path, capsys):
    tiny("resnet20_cifar")
    target = str(tmp_path / "resnet20_cifar")
    assert main(["preset", "resnet20_cifar", target, "--weights", "none"]) == 0
    assert "max abs logit difference" in capsys.readouterr().out
    assert sorted(os.listdir(target)) == PRESET_FILES
    assert "Random initialisation" in pathlib.Path(target, "README.md").read_text()
    assert main(["preset", "resnet20_cifar", target, "--weights", "none"]) == 2
    assert "exists and is not empty; pass overwrite=True (--overwrite)" in capsys.readouterr().err
    assert main(["preset", "resnet20_cifar", target, "--weights", "none", "--overwrite"]) == 0
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no staging left


@pytest.mark.parametrize("argv, message", [
    (["seresnet5O"], "Did you mean one of ['seresnet50'"),
    (["seresnet50.a1_in1kk"], "Did you mean 'a1_in1k'?"),
    (["seresnet18", "--weights", "imagenet"], "seresnet18 has no pretrained checkpoint"),
])
def test_preset_command_names_unknown_names_and_tags(argv, message, tmp_path, capsys):
    assert main(["preset", argv[0], str(tmp_path / "out"), *argv[1:]]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def written_preset(tmp_path_factory):
    """A tiny seresnet18 preset, written once for the bad-input tests (which copy it)."""
    preset = tmp_path_factory.mktemp("written") / "seresnet18"
    with pytest.MonkeyPatch.context() as patch:
        spec = registry.get_spec("seresnet18")
        patch.setitem(registry._REGISTRY, "seresnet18", dataclasses.replace(
            spec, config=tiny_config(spec.config), default_size=64))
        presets.write_preset("seresnet18", preset, weights=None)
    return preset


@pytest.fixture
def seresnet18_preset(written_preset, tiny, tmp_path):
    tiny("seresnet18")
    return pathlib.Path(shutil.copytree(written_preset, tmp_path / "seresnet18"))


def edit_backbone_config(preset, edit):
    """Applies `edit` to the backbone's config in config.json and in task.json (the
    classifier reads the copy in task.json, the backbone the one in config.json)."""
    for file_name, backbone_of in (("config.json", lambda c: c),
                                   ("task.json", lambda c: c["config"]["backbone"])):
        path = preset / file_name
        config = json.loads(path.read_text())
        edit(backbone_of(config))
        path.write_text(json.dumps(config))


def set_model_name(name):
    return lambda p: edit_backbone_config(p, lambda c: c["config"].update(model_name=name))


@pytest.mark.parametrize("damage, error, message", [
    (lambda p: os.remove(p / "model.weights.h5"), FileNotFoundError,
     "doesn't exist in preset directory"),  # keras-hub's message names the sharded index
    (lambda p: (p / "model.weights.h5").write_bytes(b"not hdf5"), ValueError,
     "is not a readable .weights.h5 file"),
    (set_model_name("seresnet81"), ValueError, "Unknown model name 'seresnet81'. Did you mean"),
    (set_model_name("skresnet18"), ValueError,
     "'skresnet18' is a 'sknet' network; SEResNetBackbone builds the 'se_resnet' family"),
    (lambda p: edit_backbone_config(p, lambda c: c.update(config={"depth": 18})), ValueError,
     "Not a SEResNetBackbone config: it needs 'model_name'"),
    (lambda p: edit_backbone_config(p, lambda c: c.update(registered_name="keras_senet>Nope")),
     ValueError, "no class registered with Keras for keras_senet>Nope"),
], ids=["no weights file", "not hdf5", "unknown name", "other family", "not our config",
        "unregistered class"])
def test_a_damaged_preset_is_a_named_error(seresnet18_preset, damage, error, message):
    damage(seresnet18_preset)
    for load in (keras_hub.models.ImageClassifier.from_preset,
                 keras_hub.models.Backbone.from_preset):
        with pytest.raises(error) as caught:
            load(str(seresnet18_preset))
        assert message in str(caught.value)


def test_weights_of_another_architecture_are_refused_not_half_loaded(
        seresnet18_preset, tiny):
    tiny("skresnet18")
    keras_senet.hub.SKNetBackbone("skresnet18").save_weights(
        seresnet18_preset / "model.weights.h5")
    with pytest.raises(ValueError, match="does not match the architecture of 'seresnet18'"):
        keras_hub.models.Backbone.from_preset(str(seresnet18_preset))


def test_presets_of_other_libraries_are_named_errors(tmp_path):
    resnet = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block")
    resnet.save_to_preset(str(tmp_path / "keras_hub_resnet"))
    with pytest.raises(ValueError, match="Unable to find a subclass of SEResNetImageClassifier"):
        keras_senet.hub.SEResNetImageClassifier.from_preset(str(tmp_path / "keras_hub_resnet"))
    with pytest.raises(ValueError, match="not a subclass of calling class `SENetBackbone`"):
        keras_senet.hub.SENetBackbone.from_preset(str(tmp_path / "keras_hub_resnet"))
    timm_dir = tmp_path / "timm_seresnet50"
    timm_dir.mkdir()
    (timm_dir / "config.json").write_text(json.dumps(
        {"architecture": "seresnet50", "num_classes": 1000, "pretrained_cfg": {}}))
    with pytest.raises(ValueError, match="KerasHub has no converter for timm models"):
        keras_hub.models.ImageClassifier.from_preset(str(timm_dir))
    with pytest.raises(ValueError, match="has no config.json"):
        keras_hub.models.ImageClassifier.from_preset(str(tmp_path))


# ------------------------------------------------------------- full size, timm-layout weights


def raw_photos():
    """The shipped photographs, uint8 RGB at their own sizes (320 x 213 ... 320 x 320)."""
    from PIL import Image

    return [np.asarray(Image.open(DATA / f"{name}.jpg").convert("RGB")) for name in PHOTOS]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["legacy_seresnet18", "skresnet18"])
def test_preset_predicts_like_create_model_on_raw_photos(name, photos, tmp_path):
    """A timm-layout checkpoint converted into a preset: `predict` on raw photographs of
    their own sizes equals `create_model(name, weights=...)` after the same resize and crop
    and `preprocess_input`, within 1e-4 in the logits."""
    from tests.parity.test_timm_parity import randomised_timm_model, save_state_dict

    checkpoint = str(tmp_path / f"{name}.safetensors")
    save_state_dict(randomised_timm_model(name, photos), checkpoint)
    preset = str(tmp_path / name)
    report = presets.write_preset(name, preset, weights=checkpoint)
    assert report.transform == keras_senet.get_spec(name).checkpoints[0].transform
    classifier = keras_hub.models.ImageClassifier.from_preset(preset)
    images = raw_photos()
    logits = np.concatenate([classifier.predict(image[None], verbose=0) for image in images])
    model = keras_senet.create_model(name, weights=checkpoint, classifier_activation=None)
    expected = presets.reference_logits(model, images, report.transform)
    difference = float(np.abs(logits - expected).max())
    print(f"{name}: max abs logit difference {difference:.2e} "
          f"(largest logit {np.abs(expected).max():.3g})")
    assert difference <= 1e-4
    np.testing.assert_array_equal(np.argmax(logits, 1), np.argmax(expected, 1))
