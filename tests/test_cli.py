"""`keras-senet` subcommands, run in-process through `keras_senet.cli.main`."""

import numpy as np
import pytest

import keras_senet
from keras_senet.cli import main


def test_list_shows_size_and_weights(capsys):
    assert main(["list", "--family", "sknet"]) == 0
    out = capsys.readouterr().out
    assert "skresnext50_32x4d" in out and "27.48M" in out and "4.47" in out and "ra_in1k" in out
    assert "seresnet50" not in out


def test_list_weights_shows_sources_transforms_and_top1(capsys):
    assert main(["list", "--weights", "--family", "se_resnet"]) == 0
    out = capsys.readouterr().out
    assert "legacy_seresnet50.in1k" in out and "ce0d4300" in out and "bicubic" in out
    assert "huggingface.co/timm/seresnext50_32x4d.gluon_in1k" in out


def test_unknown_family_is_an_error(capsys):
    assert main(["list", "--family", "vit"]) == 2
    assert "No architecture of family 'vit'" in capsys.readouterr().err


def test_summary(capsys):
    assert main(["summary", "legacy_seresnet18", "--input-size", "64"]) == 0
    assert "11,778,592 trainable parameters" in capsys.readouterr().out


def test_convert_timm_checkpoint_to_keras_weights(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    from keras_senet.weights.checkpoint_io import write_safetensors

    torch.manual_seed(0)
    reference = timm.create_model("skresnet18", num_classes=5).eval()
    src = tmp_path / "sk.safetensors"
    write_safetensors(src, {k: v.numpy() for k, v in reference.state_dict().items()})
    dst = tmp_path / "sk.weights.h5"
    assert main(["convert", str(src), str(dst), "--model", "skresnet18"]) == 0
    out = capsys.readouterr().out
    assert "got exactly one tensor of the right shape" in out and "classifier: 5 classes" in out
    model = keras_senet.create_model("skresnet18", weights=str(dst), classes=5,
                                     classifier_activation=None)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
    assert main(["convert", str(src), str(dst), "--model", "skresnet18"]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_convert_refuses_the_wrong_architecture(tmp_path, capsys):
    pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    from keras_senet.weights.checkpoint_io import write_safetensors

    src = tmp_path / "sk.safetensors"
    write_safetensors(src, {k: v.numpy() for k, v in
                            timm.create_model("skresnet18").state_dict().items()})
    assert main(["convert", str(src), str(tmp_path / "x.keras"), "--model", "seresnet18"]) == 2
    assert "does not match the architecture" in capsys.readouterr().err
