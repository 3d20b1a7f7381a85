"""Parameter and multiply-add counts, and the shipped table `keras-senet list` reads."""

import keras
import pytest

import keras_senet
from keras_senet.flops import count_macs, count_params
from keras_senet.stats import compute_stats, load_stats


def test_se_costs_what_the_paper_says_on_resnet50():
    """SENet paper: ResNet-50 3.86 GFLOPs, SE-ResNet-50 3.87 (+0.26%)."""
    plain = count_macs(keras.applications.ResNet50(weights=None))
    se = count_macs(keras_senet.create_model("legacy_seresnet50"))
    assert round(plain / 1e9, 2) == 3.86
    assert round(se / 1e9, 2) == 3.87
    assert 0.002 < se / plain - 1 < 0.004


def test_sknet50_matches_the_sknet_paper():
    """SKNet paper, Table 2: SKNet-50 27.5M parameters, 4.47 GFLOPs."""
    model = keras_senet.create_model("skresnext50_32x4d")
    assert round(count_params(model) / 1e6, 1) == 27.5
    assert round(count_macs(model) / 1e9, 2) == 4.47


def test_variable_input_size_is_refused():
    model = keras_senet.create_model("seresnet18", include_top=False, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="static input size"):
        count_macs(model)


def test_shipped_table_covers_every_model():
    assert set(load_stats()) == set(keras_senet.list_models())


@pytest.mark.parametrize("name", ["legacy_seresnet18", "skresnet34", "seresnext26t_32x4d"])
def test_shipped_table_equals_freshly_built_models(name):
    assert compute_stats(name) == load_stats()[name]
