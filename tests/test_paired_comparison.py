"""Comparing two models image by image on one validation set (the exact McNemar test), as
`applications/cifar_pair.py` compares a network with its SE twin."""

import numpy as np
import pytest

from keras_senet.training import paired_comparison


def test_only_the_images_one_model_gets_right_count():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    plain = np.array([0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 9])  # right on 0-3 and 10
    se = np.array([0, 1, 2, 0, 4, 5, 6, 7, 8, 9, 9, 9])  # right on 0-2 and 4-9
    result = paired_comparison(labels, plain, se)
    assert result["images"] == 12 and result["both_right"] == 3
    assert (result["only_a"], result["only_b"]) == (2, 6)
    # Two-sided exact binomial: 2 * P(X <= 2), X ~ Binomial(8, 1/2) = 2 * (1 + 8 + 28) / 256.
    assert result["p_value"] == pytest.approx(74 / 256)
    assert paired_comparison(labels, se, plain)["p_value"] == result["p_value"]


def test_a_lopsided_split_is_significant_and_identical_models_are_not():
    labels = np.zeros(1000, int)
    a, b = labels.copy(), labels.copy()
    b[:20] = 1  # b wrong on 20 images a gets right, and never the other way round
    assert paired_comparison(labels, a, b)["p_value"] == pytest.approx(2 * 0.5 ** 20)
    assert paired_comparison(labels, a, a)["p_value"] == 1.0


def test_predictions_must_cover_the_same_images():
    with pytest.raises(ValueError, match="one prediction per image"):
        paired_comparison(np.zeros(5), np.zeros(5), np.zeros(4))


def test_cifar_pair_refuses_runs_validated_on_different_images(tmp_path):
    """cifar_pair's summary compares the two runs' val_predictions.npz; runs with different
    --data-dir / --holdout have different labels and no image-by-image comparison."""
    from keras_senet.training import save_predictions
    from tests.programs import load_application

    pair = load_application("cifar_pair")
    models = ("resnet20_cifar", "se_resnet20_cifar")
    top5 = np.tile(np.arange(5), (4, 1))
    for name, labels in zip(models, ([0, 0, 1, 1], [0, 0, 1, 1])):
        (tmp_path / name).mkdir()
        save_predictions(str(tmp_path / name / "val_predictions.npz"), np.array(labels), top5,
                         [str(c) for c in range(10)])
    assert pair.paired(models, str(tmp_path)) == {
        "images": 4, "both_right": 2, "only_plain": 0, "only_se": 0, "p_value": 1.0}

    save_predictions(str(tmp_path / models[1] / "val_predictions.npz"), np.array([0, 1, 0, 1]),
                     top5, [str(c) for c in range(10)])
    with pytest.raises(ValueError, match="validated on different images.*same --data-dir"):
        pair.paired(models, str(tmp_path))
