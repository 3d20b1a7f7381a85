"""Every constructor exported from keras_senet.applications keeps keras.applications' contract.

One parametrised suite for all families, on tiny configs (tests/harness.py: the registered
rows with one block per stage, built by the same constructors): signature, every ValueError
(raised before any layer is built), include_top / pooling / input_tensor / classes /
classifier_activation, mixed precision (the SE / SK blocks compute in bfloat16, logits come
out float32), the `.keras` round trip (BN statistics included) and `features_only`.
"""

import dataclasses
import inspect

import keras
import pytest

import keras_senet.applications as applications
from keras_senet import get_spec, list_models, registry
from tests.harness import TINY_VARIANTS, check_features_only, run_backbone_test, tiny_input_size

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
    """Fails the test if a constructor gets as far as building its input or its network."""
    def refuse(*args, **kwargs):
        raise AssertionError("a layer was built before the arguments were checked")
    monkeypatch.setattr(keras.layers, "Input", refuse)
    monkeypatch.setattr(keras, "Input", refuse)
    for name, spec in list(registry._REGISTRY.items()):
        monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(spec, builder=refuse))


def _error_cases(constructor, tmp_path):
    spec = spec_of(constructor)
    size = spec.default_size
    pretrained = bool(spec.checkpoints)
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


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=ids)
def test_tiny_model_keeps_the_contract(constructor, tiny_models, tmp_path):
    run_backbone_test(ARCH_OF[constructor.__name__], tmp_path)


@pytest.mark.parametrize("name", TINY_VARIANTS)
def test_features_only_gives_the_documented_stages(name, tiny_models):
    check_features_only(name, tiny_input_size(name))


