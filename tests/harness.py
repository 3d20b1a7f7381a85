"""Tiny configurations of every family, and the one harness the model checks run through.

Every registered architecture is a row of `keras_senet.registry`: a builder and a frozen
config dataclass. A tiny row is the same builder with the config shrunk to one block per
stage (and narrow widths where the family has a width field): every argument check, the head,
pooling, `input_tensor`, `features_only`, mixed precision and the `.keras` round trip go
through the same code as the full-size model, in a fraction of the time.

    with tiny_registry():                       # or the `tiny_models` fixture in a test
        model = SEResNet50(weights=None, input_shape=(64, 64, 3))   # 1 block per stage
        run_backbone_test("legacy_seresnet50", tmp_path)

Full-size models are built only where a reference must be matched: parity with timm
(tests/parity) and the exact parameter counts of the papers' networks.

`tests/test_backends.py` rebuilds these tiny rows in JAX and PyTorch subprocesses, which
import this module: it must not import TensorFlow or anything of the test session.
"""

import contextlib
import dataclasses
import inspect
import math
import warnings

import keras
import numpy as np

import keras_senet
import keras_senet.applications as applications
from keras_senet import registry
from keras_senet.layers import SelectiveKernel, SqueezeExcite
from tests.batch_norm_utils import randomise_batch_norm

# BN-Inception modules kept by the tiny row: the stride-8/16/32 feature modules (avg and max
# pool branches) and the two strided reduction modules.
TINY_BN_INCEPTION = ("inception_3b", "inception_3c", "inception_4d", "inception_4e",
                     "inception_5b")
# MobileNet: the stride-1 first block and one block per stride-2 step, at a quarter width.
TINY_MOBILENET_BLOCKS = ((64, 1), (128, 2), (256, 2), (512, 2), (1024, 2))


def _tiny_shufflenet(config):
    """Stage widths 8 g, 16 g, 32 g (bottlenecks stay divisible by the g groups); stage 2
    keeps a second, stride-1 unit (the identity addition)."""
    groups = config.groups
    return dataclasses.replace(config, widths=(8 * groups, 16 * groups, 32 * groups),
                               depths=(2, 1, 1), stem_filters=12)


# Config class name -> its tiny version.
_SHRINK = {
    "ResNetArch": lambda config: dataclasses.replace(config, depths=(1, 1, 1, 1)),
    "CifarArch": lambda config: dataclasses.replace(config, depth=1),
    "BNInceptionArch": lambda config: dataclasses.replace(config, modules=tuple(
        row for row in config.modules if row.name in TINY_BN_INCEPTION)),
    # No depth or width field: keras.applications' Inception-v3 layout, built at 75 px.
    "InceptionV3Arch": lambda config: config,
    "InceptionResNetV2Arch": lambda config: dataclasses.replace(config, depths=(1, 1, 1)),
    "MobileNetArch": lambda config: dataclasses.replace(
        config, alpha=0.25, blocks=TINY_MOBILENET_BLOCKS),
    "ShuffleNetArch": _tiny_shufflenet,
    "VGGArch": lambda config: dataclasses.replace(
        config, stages=((8, 8), (8,), (16,), (16,), (16,)), fc_width=16),
}


def tiny_config(config):
    """`config` (a registered row's frozen dataclass) with one block per stage."""
    kind = type(config).__name__
    if kind not in _SHRINK:
        raise LookupError(f"No tiny version of {kind} in tests/harness.py `_SHRINK`: add one "
                          "(one block per stage, narrow widths where the family allows).")
    return _SHRINK[kind](config)


def tiny_spec(spec):
    return dataclasses.replace(spec, config=tiny_config(spec.config))


@contextlib.contextmanager
def tiny_registry():
    """Every registered row swapped for its tiny config while the block runs; the public
    constructors and `create_model` build from the registry, so they build tiny models."""
    saved = dict(registry._REGISTRY)
    try:
        for name, spec in saved.items():
            registry._REGISTRY[name] = tiny_spec(spec)
        yield
    finally:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(saved)


# One row per code path of the families: the backend and feature-extraction checks build all
# of them (registry name: what it exercises).
TINY_VARIANTS = {
    "legacy_seresnet50": "official bottleneck: stride on the first 1x1, Caffe ceil-mode max pool",
    "legacy_seresnet18": "official basic block: ReLU before SE, SE width C // 16",
    "seresnet18": "timm basic block: SE width make_divisible(C / 16, 8)",
    "seresnext26d_32x4d": "grouped strided 3x3 (ResNeXt, GroupedConv2D); 'd': deep stem, "
                          "average-pool projection shortcut",
    "seresnextaa101d_32x8d": "'aa': anti-aliased strided 3x3, average-pool stem",
    "legacy_senet154": "SENet-154: 3x3 projection shortcut, halved first 1x1, 64 groups",
    "skresnet18": "SK basic block, paths on split input channels",
    "skresnext50_32x4d": "SK bottleneck with grouped paths (SKNet-50)",
    "se_bn_inception": "BN-Inception, SE after every module",
    "se_inception_v3": "Inception-v3, SE after every mixed module",
    "se_inception_resnet_v2": "Inception-ResNet-v2, SE before the scaled addition",
    "se_mobilenet": "MobileNet v1, depthwise convolutions",
    "se_shufflenet_g3": "ShuffleNet v1: grouped 1x1, channel shuffle, concat shortcut",
    "se_vgg16_bn": "VGG-16-BN: flatten -> fc1 -> fc2 head",
    "se_resnet20_cifar": "CIFAR post-activation basic block, in-model normalisation",
    "se_resnet164_cifar": "CIFAR pre-activation bottleneck",
    "se_wrn16_8_cifar": "CIFAR pre-activation wide basic block",
}


def tiny_input_size(name):
    """64 px, or the architecture's minimum where that is larger (Inception: 75), or its
    default where that is smaller (CIFAR: 32)."""
    spec = keras_senet.get_spec(name)
    return max(min(64, spec.default_size), spec.min_size)


def feature_strides(name):
    """The strides `create_model(features_only=True)` documents for `name`."""
    return (1, 2, 4) if keras_senet.get_spec(name).family == "cifar" else (4, 8, 16, 32)


def build_function(name):
    """(builder, default model name): the public constructor of `name`, or `create_model`."""
    spec = keras_senet.get_spec(name)
    if spec.constructor:
        constructor = getattr(applications, spec.constructor)
        return constructor, inspect.signature(constructor).parameters["name"].default

    def build(**kwargs):
        return keras_senet.create_model(name, **kwargs)
    return build, name


def random_images(size, batch=2, seed=0, low=0.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, (batch, size, size, 3)).astype(
        "float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------------------- the backbone checks


def check_headless_backbone(build, default_name, size):
    """include_top=False: variable input size with `avg` pooling (run in graph mode by
    `predict`), fixed size with `max` pooling."""
    model = build(weights=None, include_top=False, input_shape=(None, None, 3), pooling="avg")
    assert model.name == default_name
    assert model.layers[-1].name == "avg_pool"
    features = model.predict(np.zeros((1, size, size, 3), "float32"), verbose=0)
    assert features.shape == (1, model.output_shape[-1])
    max_pooled = build(weights=None, include_top=False, pooling="max",
                       input_shape=(size, size, 3))
    assert max_pooled.layers[-1].name == "max_pool"
    assert max_pooled.output_shape == (None, model.output_shape[-1])


def check_logits_classifier_and_keras_file(build, size, directory):
    """`input_tensor`, `classes`, `name` and `classifier_activation=None` (logits); then the
    `.keras` round trip: `model.save` / `keras.saving.load_model` give the same outputs (BN
    statistics included) and the same layers."""
    image = keras.Input((size, size, 3), name="image")
    model = build(weights=None, input_tensor=image, classes=7, classifier_activation=None,
                  name="custom")
    assert model.inputs[0] is image and model.name == "custom"
    assert model.layers[-1].name == "predictions" and model.output_shape == (None, 7)
    randomise_batch_norm(model, seed=2)
    x = random_images(size, low=-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # keras.applications' models warn here: ours do not
        logits = to_numpy(model(x))
    assert not np.allclose(logits.sum(axis=1), 1.0)  # no softmax was applied
    path = directory / "custom.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(reloaded(x)), logits)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]


def check_mixed_bfloat16_softmax(build, size):
    """The default classifier under `mixed_bfloat16`: the SE / SK blocks compute in
    bfloat16, the probabilities come out float32 and sum to 1."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build(weights=None, classes=5, input_shape=(size, size, 3))
        blocks = [layer for layer in model.layers
                  if isinstance(layer, (SqueezeExcite, SelectiveKernel))]
        assert blocks and all(block.compute_dtype == "bfloat16" for block in blocks)
        probabilities = model(random_images(size))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
    np.testing.assert_allclose(to_numpy(probabilities).sum(axis=1), 1.0, atol=1e-5)


def check_features_only(name, size):
    """`create_model(features_only=True)`: one map per documented stride, shallowest first,
    the last one the end of the trunk."""
    model = keras_senet.create_model(name, features_only=True, input_shape=(size, size, 3))
    shapes = [tuple(output.shape) for output in model.outputs]
    strides = feature_strides(name)
    assert len(shapes) == len(strides), shapes
    for (batch, height, width, _), stride in zip(shapes, strides):
        assert batch is None and height == width
        if keras_senet.get_spec(name).family == "se_inception":
            # unpadded convolutions: a little under size / stride
            assert 0 < height <= math.ceil(size / stride), (shapes, stride)
        else:
            assert height == math.ceil(size / stride), (shapes, stride)
    assert model.outputs[-1] is model.layers[-1].output


def run_backbone_test(name, directory, size=None):
    """Every keras.applications contract check on the registered architecture `name`, through
    its public constructor (`create_model` where it has none), with whatever config the
    registry holds: run it inside `tiny_registry()` (the `tiny_models` fixture).

    Args:
        name: registry name ("legacy_seresnet50").
        directory: a folder for the `.keras` file.
        size: input height and width; `tiny_input_size(name)` by default.
    """
    size = size or tiny_input_size(name)
    build, default_name = build_function(name)
    check_headless_backbone(build, default_name, size)
    check_logits_classifier_and_keras_file(build, size, directory)
    check_mixed_bfloat16_softmax(build, size)
