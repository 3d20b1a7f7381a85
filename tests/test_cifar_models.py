"""The SENet paper's CIFAR networks: shapes, sizes, SE placement, in-model normalisation.

Parameter counts build the full-size networks (no forward pass); everything else builds the
tiny rows (one block per stage: tests/harness.py).
"""

import numpy as np
import pytest

import keras_senet
from tests.harness import run_backbone_test

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # the training set's RGB mean in [0, 1]

NAMES = [f"{se}{base}" for base in ("resnet20_cifar", "resnet32_cifar", "resnet56_cifar",
                                   "resnet110_cifar", "resnet164_cifar", "wrn16_8_cifar")
         for se in ("", "se_")]


def test_every_cifar_network_is_registered():
    assert sorted(NAMES) == keras_senet.list_models("cifar")
    spec = keras_senet.get_spec("se_resnet20_cifar")
    assert (spec.default_size, spec.min_size, spec.preprocessing, spec.num_classes) == (
        32, 32, "in_model", 10)


@pytest.mark.parametrize("name, low, high", [
    ("resnet20_cifar", 0.26e6, 0.28e6),     # He et al. 2016: 0.27M
    ("resnet110_cifar", 1.70e6, 1.76e6),    # 1.7M
    ("resnet164_cifar", 1.70e6, 1.76e6),    # He et al. (identity mappings): 1.7M
    ("wrn16_8_cifar", 10.9e6, 11.1e6),      # Zagoruyko & Komodakis: 11.0M
])
def test_parameter_counts_match_the_papers(name, low, high):
    model = keras_senet.create_model(name)  # built, never run
    assert low < model.count_params() < high
    assert model.output_shape == (None, 10)
    twin = keras_senet.create_model(f"se_{name}")
    # SE adds 2 C^2 / 16 + biases per block: a small fraction of the network.
    assert 0 < twin.count_params() - model.count_params() < 0.2 * model.count_params()


def test_features_only_gives_three_stages_as_documented(tiny_models):
    model = keras_senet.create_model("se_resnet20_cifar", features_only=True,
                                     input_shape=(32, 32, 3))
    assert [tuple(o.shape) for o in model.outputs] == [
        (None, 32, 32, 16), (None, 16, 16, 32), (None, 8, 8, 64)]
    # Strides 1, 2, 4, as create_model's documentation says for the CIFAR networks.
    documentation = " ".join(keras_senet.create_model.__doc__.split())
    assert "three for the CIFAR networks (strides 1, 2, 4" in documentation
    wide = keras_senet.create_model("wrn16_8_cifar", include_top=False, pooling="avg")
    assert wide.output_shape == (None, 512)


def _producer(layer, index=0):
    return layer._inbound_nodes[0].input_tensors[index]._keras_history.operation


def test_se_sits_on_the_residual_branch_before_the_add(tiny_models):
    model = keras_senet.create_model("se_resnet20_cifar")
    se_layers = [l for l in model.layers if l.name.endswith("_se")]
    assert len(se_layers) == 3 * keras_senet.get_spec("se_resnet20_cifar").config.depth
    for se in se_layers:
        block = se.name.removesuffix("_se")
        assert _producer(se).name == f"{block}_2_bn"  # after the last BN of the branch
        add = model.get_layer(f"{block}_add")
        assert se.name in {_producer(add, i).name for i in range(2)}
        # C // 16 (the paper's r = 16): 16 -> 1, 32 -> 2, 64 -> 4.
        assert se.width == se.input.shape[-1] // 16
    bottleneck = keras_senet.create_model("se_resnet164_cifar")
    se = bottleneck.get_layer("conv4_block1_se")
    assert _producer(se).name == "conv4_block1_3_conv"  # pre-activation: after the last conv
    assert not [l for l in keras_senet.create_model("resnet20_cifar").layers
                if l.name.endswith("_se")]


def test_the_model_normalises_0_255_pixels_itself(tiny_models):
    model = keras_senet.create_model("resnet20_cifar")
    normalize = model.get_layer("normalize")
    mean_image = np.broadcast_to(np.array(CIFAR10_MEAN) * 255, (1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(normalize(mean_image)), 0.0, atol=1e-4)
    probs = np.asarray(model(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_cifar_contract_errors():
    with pytest.raises(ValueError, match="at least 32x32"):
        keras_senet.create_model("resnet20_cifar", include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="has no pretrained checkpoint|Pretrained tags"):
        keras_senet.create_model("resnet56_cifar", weights="imagenet")


def test_tiny_se_resnet20_keeps_the_contract(tiny_models, tmp_path):
    """include_top / pooling / input_tensor / classes / logits, mixed precision and the `.keras`
    round trip, as the keras.applications constructors (tests/applications/test_contract.py)."""
    run_backbone_test("se_resnet20_cifar", tmp_path)
