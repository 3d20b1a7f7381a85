"""SEMobileNet and SEShuffleNet: registry, parameter counts and MFLOPs vs the paper.

The counts build the full-size networks (never run); the keras.applications contract is
tests/applications/test_contract.py, on tiny configs.
"""

import keras
import pytest

from keras_senet import get_spec, list_models
from keras_senet.flops import count_params
from tests.applications.family_checks import macs_and_params, se_parameters


def test_registry_rows_and_plain_twins():
    assert set(list_models("se_mobile")) == {"se_mobilenet", "mobilenet", "se_shufflenet_g3",
                                             "shufflenet_g3"}
    assert not get_spec("mobilenet").config.se and get_spec("se_mobilenet").config.se
    assert get_spec("se_shufflenet_g3").constructor == "SEShuffleNet"


def _truncate_m(params):
    """The paper's one-decimal millions truncate: 4,231,976 -> 4.2, 1,865,728 -> 1.8."""
    return int(params / 1e5) / 10


def test_mobilenet_counts_against_keras_applications_and_the_paper():
    # SENet paper Table 16: MobileNet 4.2M params, 569 MFLOPs; SE-MobileNet 4.7M, 572.
    plain, plain_params = macs_and_params("mobilenet", 224)
    se, se_params = macs_and_params("se_mobilenet", 224)
    reference = keras.applications.MobileNet(weights=None)
    assert plain_params == count_params(reference)  # 4,231,976 trainable
    assert se_params - plain_params == se_parameters(  # after each of the 13 blocks
        (64, 128, 128, 256, 256, *[512] * 6, 1024, 1024))
    assert (_truncate_m(plain_params), _truncate_m(se_params)) == (4.2, 4.7)
    assert plain / 1e6 == pytest.approx(569, rel=0.002)
    # we count the squeeze (an add) and the scale (a multiply) per element; the paper's
    # +3 MFLOPs counts about one op per element: ours is +5.9 M.
    assert se / 1e6 == pytest.approx(572, rel=0.01)


def test_shufflenet_counts_against_the_paper():
    # SENet paper Table 16: ShuffleNet 1x (g=3) 1.8M, 140 MFLOPs; SE 2.4M, 142 MFLOPs.
    plain, plain_params = macs_and_params("shufflenet_g3", 224)
    se, se_params = macs_and_params("se_shufflenet_g3", 224)
    # on the residual branch of every unit: a strided unit's branch makes out - in channels
    branches = [240 - 24] + [240] * 3 + [480 - 240] + [480] * 7 + [960 - 480] + [960] * 3
    assert se_params - plain_params == se_parameters(branches)
    assert (_truncate_m(plain_params), _truncate_m(se_params)) == (1.8, 2.4)
    assert plain / 1e6 == pytest.approx(140, rel=0.03)  # ours 137.5 M
    assert se / 1e6 == pytest.approx(142, rel=0.01)
