"""Same logits as the reference timm models, for every architecture timm has.

Each timm model gets random weights and randomised BatchNorm statistics, its state dict is
saved as safetensors, loaded through `keras_senet.create_model(name, weights=path)`, and both
classify the same real photographs.
"""

import keras
import numpy as np
import pytest

import keras_senet
from keras_senet.applications.imagenet_utils import preprocess_input
from keras_senet.weights.checkpoint_io import write_safetensors

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

HEAVY = {"legacy_senet154", "senet154", "legacy_seresnet152", "seresnet152", "seresnet152d",
         "seresnext101_32x8d", "seresnext101d_32x8d", "seresnext101_64x4d",
         "seresnextaa101d_32x8d", "seresnextaa201d_32x8d"}


# The families whose checkpoints convert from timm; the plain twins of the other families
# (vgg16_bn, inception_v3, ...) share timm's names but not its layouts, and have no weights.
CONVERTIBLE_FAMILIES = ("se_resnet", "sknet")


def reference_architectures():
    for name in keras_senet.list_models():
        family = keras_senet.get_spec(name).family
        if family in CONVERTIBLE_FAMILIES and name in timm.list_models():
            yield pytest.param(name, marks=[pytest.mark.slow] if name in HEAVY else [])


def randomised_timm_model(name, calibration_images, seed=0):
    """A timm model with random weights and BatchNorm statistics measured on real photos.

    Random running statistics make deep residual stacks blow up (logits of 1e4 at 152
    layers), and float32 rounding then decides the answer; statistics measured on the
    images keep every layer's activations near unit scale, as in a trained network.
    """
    torch.manual_seed(seed)
    model = timm.create_model(name)
    batch_norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in batch_norms:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: one batch sets the statistics
        model.train()
        model(to_torch(preprocess_input(calibration_images)))
    return model.eval()


def to_torch(images):
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)


def save_state_dict(model, path):
    write_safetensors(path, {k: v.detach().numpy() for k, v in model.state_dict().items()})


@pytest.mark.parametrize("name", reference_architectures())
def test_logits_match_timm_on_real_photos(name, photos, tmp_path):
    reference = randomised_timm_model(name, photos)
    checkpoint = tmp_path / f"{name}.safetensors"
    save_state_dict(reference, checkpoint)
    # The heavy networks (60-150M parameters) are compared on two of the photos; their
    # BatchNorm statistics still come from all four.
    x = preprocess_input(photos[:2] if name in HEAVY else photos)
    with torch.no_grad():
        expected = reference(to_torch(x)).numpy()
    model = keras_senet.create_model(name, weights=str(checkpoint), classifier_activation=None)
    # Called eagerly: `predict` would first trace the whole network into a graph (SENet-154:
    # 4.3 s against 1.9 s for the call); the contract tests cover `predict`.
    logits = keras.ops.convert_to_numpy(model(x, training=False))
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(logits - expected).max() <= 1e-4 * scale
    top5 = np.argsort(-logits, axis=1)[:, :5]
    np.testing.assert_array_equal(top5, np.argsort(-expected, axis=1)[:, :5])


def test_headless_backbone_matches_timm_features(photos, tmp_path):
    """include_top=False loads the same checkpoint minus the classifier."""
    reference = randomised_timm_model("seresnext26d_32x4d", photos)
    checkpoint = tmp_path / "model.safetensors"
    save_state_dict(reference, checkpoint)
    x = preprocess_input(photos[:2])
    with torch.no_grad():
        expected = reference.forward_features(to_torch(x))
    backbone = keras_senet.create_model("seresnext26d_32x4d", weights=str(checkpoint),
                                        include_top=False, input_shape=(None, None, 3))
    features = backbone.predict(x, verbose=0)
    np.testing.assert_allclose(features, expected.permute(0, 2, 3, 1).numpy(), atol=1e-4)


def test_feature_maps_match_timm_feature_extractor(photos, tmp_path):
    reference = randomised_timm_model("legacy_seresnet50", photos)
    checkpoint = tmp_path / "model.safetensors"
    save_state_dict(reference, checkpoint)
    extractor = timm.create_model("legacy_seresnet50", features_only=True, out_indices=(1, 2, 3, 4))
    extractor.load_state_dict(reference.state_dict(), strict=False)
    extractor.eval()
    x = preprocess_input(photos[:1])
    with torch.no_grad():
        expected = extractor(to_torch(x))
    model = keras_senet.create_model("legacy_seresnet50", weights=str(checkpoint),
                                     features_only=True, input_shape=(None, None, 3))
    maps = model.predict(x, verbose=0)
    assert [m.shape[1] for m in maps] == [56, 28, 14, 7]
    for ours, theirs in zip(maps, expected):
        np.testing.assert_allclose(ours, theirs.permute(0, 2, 3, 1).numpy(), atol=1e-4)


def test_official_pth_release_file_loads_like_its_safetensors(photos, tmp_path):
    """The legacy_* checkpoints are torch .pth files; with torch installed they load directly."""
    reference = randomised_timm_model("legacy_seresnet18", photos)
    checkpoint = tmp_path / "seresnet18-4bb0ce65.pth"
    torch.save(reference.state_dict(), checkpoint)
    x = preprocess_input(photos[:2])
    with torch.no_grad():
        expected = reference(to_torch(x)).numpy()
    model = keras_senet.create_model("legacy_seresnet18", weights=str(checkpoint),
                                     classifier_activation=None)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
