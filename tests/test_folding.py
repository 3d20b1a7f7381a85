"""BatchNorm folded into the preceding convolution: same outputs, fewer layers."""

import keras
import numpy as np
import pytest

from keras_senet import create_model
from keras_senet.folding import fold_batch_norm
from tests.batch_norm_utils import randomise_batch_norm
from tests.programs import load_application


def _batch_norms(model):
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.parametrize("name, folded_count", [
    ("seresnet18", 20),            # Conv2D: every BN of the trunk follows a convolution
    ("seresnext26d_32x4d", 31),    # grouped 3x3 (GroupedConv2D) and a deep stem
    ("se_mobilenet", 27),          # DepthwiseConv2D, kernel (k, k, C_in, 1)
    ("skresnet18", 12),            # SelectiveKernel keeps its own BNs inside the layer
    ("se_resnet20_cifar", 21),     # conv -> BN -> ReLU (He et al.'s CIFAR ResNet)
    ("se_resnet164_cifar", 109),   # pre-activation: a BN that comes before its conv stays
])
def test_folded_model_computes_the_same_logits(name, folded_count):
    model = create_model(name, input_shape=(64, 64, 3) if "cifar" not in name else None,
                         classifier_activation=None)
    randomise_batch_norm(model)
    folded, count = fold_batch_norm(model)

    assert count == folded_count
    assert len(_batch_norms(folded)) == len(_batch_norms(model)) - count
    assert folded.count_params() < model.count_params()
    size = model.input_shape[1]
    x = np.random.default_rng(1).uniform(0, 255, (2, size, size, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected,
                               rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_folded_convolutions_keep_their_names_and_gain_a_bias():
    model = create_model("seresnet18", input_shape=(64, 64, 3))
    folded, _ = fold_batch_norm(model)
    stem = folded.get_layer("conv1_conv")
    assert stem.use_bias
    assert [w.name for w in stem.weights] == ["kernel", "bias"]
    assert folded.pretrained_cfg == model.pretrained_cfg
    # the original model is untouched and still trainable
    assert len(_batch_norms(model)) > 0
    assert not model.get_layer(stem.name).use_bias


def test_folding_needs_a_functional_model():
    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="functional Keras model"):
        fold_batch_norm(Subclassed())


def test_folding_removes_the_batch_norm_arithmetic_from_the_tensorflow_graph():
    """applications/inspect_folded_graph.py: after Grappler, each unfolded BN still costs an
    rsqrt, a subtraction, three multiplies and two adds per call; folded, one bias add."""
    kept, folded = load_application("inspect_folded_graph").main(["seresnet18", "--size", "32"])
    assert (kept["Rsqrt"], kept["Sub"], folded["Rsqrt"], folded["Sub"]) == (20, 20, 0, 0)
    assert kept["Mul"] - folded["Mul"] == 3 * 20
    assert kept["AddV2"] - folded["AddV2"] == 2 * 20
    assert folded["BiasAdd"] - kept["BiasAdd"] == 20
    assert folded["Conv2D"] == kept["Conv2D"] == 20
