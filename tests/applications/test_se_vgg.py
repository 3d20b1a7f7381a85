"""SEVGG16: registry, its fully connected head, and torchvision's counts.

The head is checked on the tiny row (tests/harness.py) through the public constructor, the
parameter count on the full-size network (never run); the rest of the keras.applications
contract is tests/applications/test_contract.py.
"""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from keras_senet import create_model, get_spec
from keras_senet.applications import SEVGG16
from keras_senet.flops import count_params
from keras_senet.stats import load_stats
from tests.applications.family_checks import se_parameters


def test_registry_rows():
    assert get_spec("se_vgg16_bn").constructor == "SEVGG16"
    assert not get_spec("vgg16_bn").config.se


def test_head_is_flatten_fc1_fc2_and_the_headless_map_is_free(tiny_models):
    model = SEVGG16(weights=None, input_shape=(32, 32, 3), classes=5)
    names = [layer.name for layer in model.layers]
    assert names[-6:] == ["flatten", "fc1", "fc1_dropout", "fc2", "fc2_dropout", "predictions"]
    tiny = get_spec("se_vgg16_bn").config
    last_width = tiny.stages[-1][-1]  # 1 x 1 x last_width at 32 px
    assert model.get_layer("fc1").kernel.shape == (last_width, tiny.fc_width)
    free = SEVGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    assert free(np.zeros((1, 64, 96, 3), "float32")).shape == (1, 2, 3, last_width)


@pytest.mark.slow
def test_parameter_counts_are_torchvision_vgg16_bn_plus_se():
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is in the [test] extra")
    # torch imported after TensorFlow in one process can crash: count in a fresh one.
    script = ("import torchvision; m = torchvision.models.vgg16_bn(weights=None); "
              "print(sum(p.numel() for p in m.parameters()))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    expected = int(run.stdout.split()[-1])
    model = create_model("vgg16_bn")  # built, never run
    assert count_params(model) == expected  # 138,365,992
    assert model.get_layer("fc1").kernel.shape == (7 * 7 * 512, 4096)
    se_model = SEVGG16(weights=None)
    assert count_params(se_model) == expected + se_parameters(  # after each of the 13 convs
        (64, 64, 128, 128, 256, 256, 256, *[512] * 6))


def test_vgg_overhead_from_the_stats_table():
    # SENet paper Table 2: VGG-16 15.47 -> SE-VGG-16 15.48 GFLOPs.
    stats = load_stats()
    assert stats["vgg16_bn"]["gmacs"] == pytest.approx(15.47, abs=0.005)
    assert stats["se_vgg16_bn"]["gmacs"] == pytest.approx(15.48, rel=0.002)  # ours 15.498
