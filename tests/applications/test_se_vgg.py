"""SEVGG16: registry, its fully connected head, the contract, and torchvision's counts."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from keras_senet import create_model, get_spec
from keras_senet.applications import SEVGG16
from keras_senet.flops import count_params
from keras_senet.models.vgg import VGGArch
from keras_senet.stats import load_stats
from tests.applications.tiny import build_tiny

TINY = VGGArch(stages=((4,), (8,), (8,), (8,), (8,)), fc_width=16)


def test_registry_rows():
    assert get_spec("se_vgg16_bn").constructor == "SEVGG16"
    assert not get_spec("vgg16_bn").config.se


def test_head_is_flatten_fc1_fc2():
    model = build_tiny("se_vgg16_bn", TINY, 32)
    names = [l.name for l in model.layers]
    assert names[-6:] == ["flatten", "fc1", "fc1_dropout", "fc2", "fc2_dropout", "predictions"]
    assert model.get_layer("fc1").kernel.shape == (8, 16)  # 1 x 1 x 8 at 32 px


def test_the_full_size_head_and_the_headless_feature_map():
    """The rest of the keras.applications contract is tests/applications/test_contract.py."""
    model = SEVGG16(weights=None, input_shape=(32, 32, 3), classes=5)
    assert model.get_layer("fc1").kernel.shape == (512, 4096)  # 1 x 1 x 512 at 32 px
    free = SEVGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    assert free(np.zeros((1, 64, 96, 3), "float32")).shape == (1, 2, 3, 512)


@pytest.mark.slow
def test_vgg16_bn_parameter_count_equals_torchvision():
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is in the [test] extra")
    # torch imported after TensorFlow in one process can crash: count in a fresh one.
    script = ("import torchvision; m = torchvision.models.vgg16_bn(weights=None); "
              "print(sum(p.numel() for p in m.parameters()))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    expected = int(run.stdout.split()[-1])
    assert count_params(create_model("vgg16_bn")) == expected  # 138,365,992


def test_vgg_overhead_from_the_stats_table():
    # SENet paper Table 2: VGG-16 15.47 -> SE-VGG-16 15.48 GFLOPs.
    stats = load_stats()
    assert stats["vgg16_bn"]["gmacs"] == pytest.approx(15.47, abs=0.005)
    assert stats["se_vgg16_bn"]["gmacs"] == pytest.approx(15.48, rel=0.002)  # ours 15.498
