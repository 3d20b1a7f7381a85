"""`keras-senet` subcommands, run in-process through `keras_senet.cli.main`."""

import argparse
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_senet
from keras_senet import cli
from keras_senet.cli import main
from keras_senet.commands.finetune import describe_phases, phase_epochs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


# --- --weights none, the defaults in --help, finetune's epochs, refusing an existing output ---

def _subparsers():
    """{name: the subcommand's parser} of `keras-senet`."""
    parser = cli.build_parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return subcommands.choices


@pytest.mark.parametrize("command", ["train", "finetune", "evaluate", "export"])
@pytest.mark.parametrize("spelling", ["none", "None", "random"])
def test_weights_none_means_random_weights_in_every_command(command, spelling):
    dst = ["out.tflite"] if command == "export" else []
    args = cli.build_parser().parse_args([command, "se_resnet20_cifar", *dst,
                                          "--weights", spelling])
    assert args.weights is None
    args = cli.build_parser().parse_args([command, "se_resnet20_cifar", *dst,
                                          "--weights", "cifar10"])
    assert args.weights == "cifar10"


def test_export_with_weights_none_writes_a_tflite_file(tmp_path, capsys):
    dst = tmp_path / "se_resnet20.tflite"
    assert main(["export", "se_resnet20_cifar", str(dst), "--weights", "none",
                 "--format", "tflite", "--no-verify"]) == 0, capsys.readouterr().err
    assert dst.read_bytes()[4:8] == b"TFL3"  # the TFLite flatbuffer's file identifier


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_help_shows_the_defaults(command):
    sub = _subparsers()[command]
    text = " ".join(sub.format_help().split())  # argparse wraps lines anywhere
    for action in sub._actions:
        default = action.default
        if (not action.option_strings or default is None or default is False
                or default is argparse.SUPPRESS):
            continue
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default)) or "none"
        assert f"(default: {default})" in text, (action.option_strings, text)


def test_application_programs_have_the_commands_help():
    """applications/finetune.py goes through keras_senet.cli.run_command: the same help."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "applications", "finetune.py"),
                           "--help"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    assert text.startswith("usage: finetune.py")
    assert "--lr LR learning rate of phase 1 (default: 0.001)" in text
    assert "--epochs EPOCHS epochs in total" in text and "(default: 4)" in text


def test_finetune_epochs_count_both_phases():
    assert phase_epochs(5) == (3, 2)  # half of them, rounded down, unfrozen
    assert phase_epochs(4, 0) == (4, 0)
    assert phase_epochs(1, 1) == (0, 1)
    defaults = cli.build_parser().parse_args(["finetune", "se_resnet20_cifar"])
    assert phase_epochs(defaults.epochs, defaults.unfrozen_epochs) == (2, 2)
    with pytest.raises(ValueError, match="--unfrozen-epochs 4 must be between 0 and --epochs"):
        phase_epochs(3, 4)
    with pytest.raises(ValueError, match="--epochs must be a positive number"):
        phase_epochs(0)


def test_finetune_describes_what_each_epoch_trains():
    line = describe_phases(3, 2, 1e-3, 1e-4)
    assert line.startswith("5 epochs: ")
    assert "epochs 1..3: the classifier only, backbone frozen (lr 0.001)" in line
    assert "epochs 4..5: the whole network (lr 0.0001)" in line
    line = describe_phases(4, 0, 1e-3, 1e-4)
    assert "epochs 1..4: the classifier only" in line and "whole network" not in line


def _saved_model_dir(path):
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"old")
    return path


def _file(path):
    path.write_bytes(b"old")
    return path


@pytest.fixture
def no_model_building(monkeypatch):
    """keras_senet.create_model fails the test if called."""
    def must_not_build(*args, **kwargs):
        raise AssertionError("the model was built before the output was checked")

    monkeypatch.setattr(keras_senet, "create_model", must_not_build)


@pytest.mark.parametrize("make,flags,message", [
    (_file, ["--format", "tflite"], "{} exists; pass overwrite=True (--overwrite) to replace it"),
    (_saved_model_dir, [],
     "{} exists and is not empty; pass overwrite=True (--overwrite) to replace it"),
    (_saved_model_dir, ["--format", "tflite", "--overwrite"],
     "{} is a directory; format 'tflite' writes a file"),
    (_file, ["--overwrite"], "{} is a file; a SavedModel is a directory"),
], ids=["tflite file", "saved_model dir", "dir for tflite", "file for saved_model"])
def test_export_refuses_an_existing_output_before_building_the_model(
        make, flags, message, tmp_path, capsys, no_model_building):
    existing = make(tmp_path / "m")
    assert main(["export", "se_resnet20_cifar", str(existing), *flags]) == 2
    err = capsys.readouterr().err
    assert "keras-senet export: error: " + message.format(existing) in err
    assert (existing / "saved_model.pb" if existing.is_dir() else existing).read_bytes() == b"old"


def test_export_refuses_an_existing_saved_model_version(tmp_path, capsys, no_model_building):
    _saved_model_dir(tmp_path / "serving")
    _saved_model_dir(tmp_path / "serving" / "1")
    assert main(["export", "se_resnet20_cifar", str(tmp_path / "serving"),
                 "--version", "1"]) == 2
    assert (f"{tmp_path / 'serving' / '1'} exists and is not empty; pass overwrite=True "
            "(--overwrite) to replace it, or give another path or version.") in \
        capsys.readouterr().err


def test_export_sets_the_image_limits_of_predict_image_bytes(tmp_path, capsys):
    import tensorflow as tf

    from tests.test_export import blank_png

    dst = tmp_path / "served"
    assert main(["export", "se_resnet20_cifar", str(dst), "--no-verify", "--top-k", "1",
                 "--max-image-pixels", "4096", "--max-aspect-ratio", "2"]) == 0
    serve = tf.saved_model.load(str(dst)).signatures["predict_image_bytes"]
    assert serve(image_bytes=tf.constant([blank_png(64, 64)]))["probabilities"].shape == (1, 10)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 4096 pixels"):
        serve(image_bytes=tf.constant([blank_png(65, 65)]))


def test_image_limits_apply_to_saved_models_only(tmp_path, capsys, no_model_building):
    assert main(["export", "se_resnet20_cifar", str(tmp_path / "m.tflite"), "--format",
                 "tflite", "--max-image-pixels", "4096"]) == 2
    assert ("`max_image_pixels` (--max-image-pixels) applies to format 'saved_model' only, "
            "not to 'tflite'") in capsys.readouterr().err


def test_export_full_integer_int8_calibrated_on_an_image_folder(photos, tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from tests.test_export import photo_folder

    # 40 crops of the photographs at the 32 x 32 the CIFAR network classifies.
    folder = photo_folder(tmp_path / "photos", photos, 32, per_photo=10)
    dst = tmp_path / "int8.tflite"
    assert main(["export", "se_resnet20_cifar", str(dst), "--weights", "cifar10",
                 "--format", "tflite", "--classifier-activation", "none", "--quantize", "int8",
                 "--calibration-data", str(folder), "--calibration-steps", "32"]) == 0, \
        capsys.readouterr().err
    out = capsys.readouterr().out
    assert "calibrating the int8 ranges on 32 images" in out
    assert "TFLite (full-integer int8) vs Keras on 4 synthetic images" in out
    assert "top-1 agreement" in out
    assert dst.read_bytes()[4:8] == b"TFL3"


@pytest.mark.parametrize("flags,message", [
    (["--quantize", "int8"], "quantize='int8' (full-integer) needs calibration_data "
                             "(--calibration-data)"),
    (["--quantize", "int8", "--calibration-data", "{few}"],
     "holds 3 images; full-integer int8 needs at least 32 to calibrate on"),
    (["--quantize", "int8", "--calibration-data", "{missing}"], "does not exist"),
    (["--quantize", "float16", "--calibration-data", "{few}"],
     "calibration_data apply to quantize='int8' (full-integer) only"),
], ids=["no data", "too few images", "missing folder", "data without int8"])
def test_export_refuses_bad_calibration_before_building_the_model(
        flags, message, tmp_path, capsys, no_model_building):
    few = tmp_path / "few"
    few.mkdir()
    for index in range(3):
        (few / f"{index}.png").write_bytes(b"")  # counted, never read
    flags = [f.format(few=few, missing=tmp_path / "missing") for f in flags]
    assert main(["export", "se_resnet20_cifar", str(tmp_path / "m.tflite"), "--format",
                 "tflite", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.tflite").exists()


def test_calibration_data_applies_to_tflite_only(tmp_path, capsys, no_model_building):
    assert main(["export", "se_resnet20_cifar", str(tmp_path / "m.onnx"), "--format", "onnx",
                 "--calibration-data", str(tmp_path)]) == 2
    assert ("`calibration_data` (--calibration-data) applies to format 'tflite' only, not to "
            "'onnx'") in capsys.readouterr().err
