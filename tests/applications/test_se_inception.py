"""SEBNInception, SEInceptionV3, SEInceptionResNetV2: registry and counts vs the papers.

The counts build the full-size networks (never run); the keras.applications contract is
tests/applications/test_contract.py, on tiny configs.
"""

import dataclasses

import keras
import pytest

from keras_senet import get_spec, list_models
from keras_senet.applications import SEBNInception
from keras_senet.applications import se_inception
from keras_senet.flops import count_params
from keras_senet.layers import SqueezeExcite
from keras_senet.stats import load_stats
from tests.applications.family_checks import macs_and_params, se_parameters

SE_NAMES = ("se_bn_inception", "se_inception_v3", "se_inception_resnet_v2")


def test_registry_rows_and_plain_twins():
    assert set(list_models("se_inception")) == {
        "se_bn_inception", "bn_inception", "se_inception_v3", "inception_v3",
        "se_inception_resnet_v2", "inception_resnet_v2"}
    for se_name in SE_NAMES:
        se, plain = get_spec(se_name), get_spec(se_name.removeprefix("se_"))
        assert se.config.se and not plain.config.se
        assert dataclasses.replace(plain.config, se=se.config.se) == se.config  # SE only
        assert plain.constructor is None
    assert get_spec("se_inception_v3").default_size == 299
    assert get_spec("se_inception_resnet_v2").min_size == 75
    assert get_spec("se_bn_inception").default_size == 224
    assert SEBNInception.__module__ == "keras_senet.applications.se_inception"
    assert se_inception.preprocess_input and se_inception.decode_predictions


@pytest.mark.slow
@pytest.mark.parametrize("ours, theirs, last_layer", [
    ("inception_v3", "InceptionV3", "mixed10"),
    ("inception_resnet_v2", "InceptionResNetV2", "conv_7b_relu")])
def test_plain_twins_are_keras_applications_networks(ours, theirs, last_layer):
    from keras_senet import create_model

    reference = getattr(keras.applications, theirs)(weights=None, input_shape=(75, 75, 3),
                                                    include_top=False)
    model = create_model(ours, include_top=False, input_shape=(75, 75, 3))
    assert count_params(model) == count_params(reference)
    assert model.count_params() == reference.count_params()
    assert not any(isinstance(layer, SqueezeExcite) for layer in model.layers)
    assert model.output is model.get_layer(last_layer).output


def test_bn_inception_gflops_match_the_paper():
    # SENet paper Table 2: BN-Inception 2.03 -> SE-BN-Inception 2.04 GFLOPs at 224.
    plain, plain_params = macs_and_params("bn_inception", 224)
    se, se_params = macs_and_params("se_bn_inception", 224)
    assert plain / 1e9 == pytest.approx(2.03, rel=0.01)
    assert se / 1e9 == pytest.approx(2.04, rel=0.01)
    assert plain_params == 11_285_224  # conv + BN + fc; the Caffe model's layout
    assert se_params - plain_params == se_parameters(
        (256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024))


def test_inception_resnet_v2_overhead_from_the_stats_table():
    # Built at 299 these take ~30 s each: the shipped table (checked against fresh builds
    # elsewhere) holds the counts. The paper's 11.75 GFLOPs baseline is lower than
    # keras.applications' layout (13.16 G); the SE overhead is what we compare.
    stats = load_stats()
    plain, se = stats["inception_resnet_v2"], stats["se_inception_resnet_v2"]
    assert plain["params"] == 55_813_192  # keras.applications InceptionResNetV2, trainable
    # SE on the residual branch of 10 block35 (320 channels), 20 block17 (1088), 10 block8
    assert se["params"] - plain["params"] == se_parameters([320] * 10 + [1088] * 20 + [2080] * 10)
    assert 0 < se["gmacs"] - plain["gmacs"] < 0.005 * plain["gmacs"]
