"""Every constructor exported from keras_senet.applications keeps keras.applications' contract.

One parametrised suite for all families: signature, every ValueError (raised before any
layer is built), include_top / pooling / input_tensor / classes / classifier_activation,
mixed precision (the SE / SK blocks compute in bfloat16, logits come out float32) and the
`.keras` round trip (BN statistics included). `predict` (graph mode) runs in the headless
test; the others call the model eagerly, which gives the same numbers in a fraction of the
time for these deep graphs.
"""

import inspect
import warnings

import keras
import numpy as np
import pytest

import keras_senet.applications as applications
from keras_senet import get_spec, list_models
from keras_senet.applications import _common
from keras_senet.layers import SelectiveKernel, SqueezeExcite
from keras_senet.weights.sources import sources_for
from tests.batch_norm_utils import randomise_batch_norm

CONSTRUCTORS = [getattr(applications, name) for name in applications.__all__]


ARCH_OF = {get_spec(name).constructor: name for name in list_models()
           if get_spec(name).constructor}


def spec_of(constructor):
    return get_spec(ARCH_OF[constructor.__name__])


def ids(constructor):
    return constructor.__name__


def test_every_registered_constructor_is_exported():
    assert set(ARCH_OF) == {c.__name__ for c in CONSTRUCTORS}


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=ids)
def test_signature_is_keras_applications(constructor):
    reference = inspect.signature(keras.applications.ResNet50).parameters
    ours = inspect.signature(constructor).parameters
    assert list(ours) == list(reference)
    for name, parameter in reference.items():
        if name != "name":
            assert ours[name].default == parameter.default, name
    default_name = ours["name"].default
    assert default_name.islower() and default_name.replace("_", "").isalnum()


@pytest.fixture
def no_build(monkeypatch):
    """Fails the test if the constructor gets as far as building a layer."""
    def refuse(*args, **kwargs):
        raise AssertionError("a layer was built before the arguments were checked")
    monkeypatch.setattr(_common.layers, "Input", refuse)


def _error_cases(constructor, tmp_path):
    spec = spec_of(constructor)
    size = spec.default_size
    pretrained = bool(sources_for(spec.name))
    weights_file = tmp_path / "some.weights.h5"
    weights_file.write_bytes(b"not used: the checks fail first")
    cases = [
        (dict(weights="instagram"), "The `weights` argument should be either"),
        (dict(weights=str(tmp_path / "missing.weights.h5")),
         "Checkpoint file not found: .*missing.weights.h5' does not exist"),
        (dict(weights=str(tmp_path)), "is a directory, not a checkpoint file"),
        (dict(weights=None, include_top=False, input_shape=(16, 16, 3)),
         f"Input size must be at least {spec.min_size}x{spec.min_size}"),
        (dict(weights=None, include_top=False, input_shape=(size, size)),
         "`input_shape` must be a tuple of three integers"),
        (dict(weights=None, include_top=True, input_shape=(None, None, 3)),
         "you should specify a static `input_shape`"),
        (dict(weights=str(weights_file), classifier_activation="relu"),
         "Only `None` and `softmax` activations are allowed"),
        (dict(weights=None, include_top=False, pooling="mean"), "`pooling` must be one of"),
        (dict(weights=None, include_top=False, input_shape=(size, size, 0)),
         r"The channels in `input_shape` must be a positive integer.*\(\d+, \d+, 0\)"),
        (dict(weights=None, include_top=False, input_shape=(size, -1, 3)),
         "The width in `input_shape` must be a positive integer"),
        (dict(weights=None, input_shape=f"{size},{size},3"),
         "`input_shape` must be a tuple of three integers.*Received: input_shape='"),
        (dict(weights=None, input_shape=size), "`input_shape` must be a tuple of three integers"),
    ]
    if pretrained:
        cases += [
            (dict(weights="imagenet", classes=10), "`classes` should be 1000"),
            (dict(weights="imagenet", include_top=False, input_shape=(size, size, 1)),
             "The input must have 3 channels"),
            (dict(weights="imagenet", input_shape=(size + 32, size + 32, 3)),
             f"`input_shape` should be \\({size}, {size}, 3\\)"),
        ]
    else:
        cases.append((dict(weights="imagenet"), "has no pretrained checkpoint"))
    return cases


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=ids)
def test_bad_arguments_raise_before_anything_is_built(constructor, tmp_path, no_build):
    for kwargs, message in _error_cases(constructor, tmp_path):
        with pytest.raises(ValueError, match=message):
            constructor(**kwargs)


def _small_size(constructor):
    return max(64, spec_of(constructor).min_size)


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=ids)
def test_headless_backbone_with_variable_input_size(constructor):
    model = constructor(weights=None, include_top=False, input_shape=(None, None, 3),
                        pooling="avg")
    assert model.name == inspect.signature(constructor).parameters["name"].default
    assert model.layers[-1].name == "avg_pool"
    size = _small_size(constructor)
    features = model.predict(np.zeros((1, size, size, 3), "float32"), verbose=0)
    assert features.shape == (1, model.output_shape[-1])
    max_pooled = constructor(weights=None, include_top=False, pooling="max",
                             input_shape=(size, size, 3))
    assert max_pooled.layers[-1].name == "max_pool"
    assert max_pooled.output_shape == (None, model.output_shape[-1])


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=ids)
def test_classifier_with_input_tensor_classes_and_logits(constructor):
    size = _small_size(constructor)
    image = keras.Input((size, size, 3), name="image")
    model = constructor(weights=None, input_tensor=image, classes=7,
                        classifier_activation=None, name="custom")
    assert model.inputs[0] is image and model.name == "custom"
    assert model.layers[-1].name == "predictions" and model.output_shape == (None, 7)
    x = np.random.default_rng(0).uniform(0, 1, (2, size, size, 3)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # keras.applications' models warn here: ours do not
        logits = keras.ops.convert_to_numpy(model(x))
    assert not np.allclose(logits.sum(axis=1), 1.0)  # no softmax was applied
    probabilities = constructor(weights=None, classes=7, input_shape=(size, size, 3))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probabilities(x)).sum(axis=1), 1.0,
                               atol=1e-5)


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=ids)
def test_mixed_bfloat16_gives_float32_logits(constructor):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    size = _small_size(constructor)
    model = constructor(weights=None, classes=5, input_shape=(size, size, 3))
    blocks = [layer for layer in model.layers
              if isinstance(layer, (SqueezeExcite, SelectiveKernel))]
    assert blocks and all(block.compute_dtype == "bfloat16" for block in blocks)
    out = model(np.ones((1, size, size, 3), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert np.isfinite(keras.ops.convert_to_numpy(out)).all()


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=ids)
def test_keras_file_round_trip_gives_identical_outputs(constructor, tmp_path):
    size = _small_size(constructor)
    model = constructor(weights=None, classes=3, input_shape=(size, size, 3))
    x = np.random.default_rng(1).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    randomise_batch_norm(model, seed=2)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reloaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
