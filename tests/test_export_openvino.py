"""keras_senet.export.export_openvino: an OpenVINO IR (.xml + .bin) of plain and grouped
networks, verified against Keras, published as a pair, and its failure modes.

A tiny SE-ResNet-18 (32 px, 10 classes, logits, randomised BatchNorm statistics so that
folding them does something); the grouped networks (SE-ResNeXt-26d, SK-ResNet-18) go to
every format, OpenVINO included, in tests/test_export.py::test_zoo_model_to_every_format.
"""

import argparse
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
ov = pytest.importorskip("openvino")
pytest.importorskip("tf2onnx")
import keras  # noqa: E402

import keras_senet  # noqa: E402
from keras_senet import export  # noqa: E402
from tests.batch_norm_utils import randomise_batch_norm  # noqa: E402

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def zoo_logits(name, size):
    keras.utils.set_random_seed(0)
    model = keras_senet.create_model(name, weights=None, input_shape=(size, size, 3),
                                     classes=10, classifier_activation=None)
    randomise_batch_norm(model)
    return model


def names(directory):
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(scope="module")
def seresnet18():
    return zoo_logits("seresnet18", 32)


@pytest.fixture(scope="module")
def seresnet18_onnx(seresnet18, tmp_path_factory):
    """The model's ONNX export: OpenVINO converts it without tracing the model again."""
    path = tmp_path_factory.mktemp("onnx") / "seresnet18.onnx"
    export.export_onnx(seresnet18, path, verify=False, log=None)
    return path


def test_export_writes_a_verified_ir_pair(seresnet18, tmp_path):
    """(The grouped networks go to every format, OpenVINO included, in
    tests/test_export.py::test_zoo_model_to_every_format.)"""
    model, size = seresnet18, 32
    messages = []
    report = export.export(model, tmp_path / "m.xml", format="openvino", log=messages.append)
    assert names(tmp_path) == ["m.bin", "m.xml"]  # nothing else: no staging directory left
    assert report.format == "openvino" and report.path == str(tmp_path / "m.xml")
    assert report.relative_diff <= export.VERIFY_RTOL
    assert any(m.startswith("OpenVINO vs Keras on 4 synthetic images") for m in messages)
    # float32 weights: the .bin holds the folded model's weights, not half of them
    assert (tmp_path / "m.bin").stat().st_size >= 0.99 * report.weights_bytes

    core = ov.Core()
    ir = core.read_model(tmp_path / "m.xml")
    assert ir.inputs[0].get_names() >= {"inputs"}
    assert [str(d) for d in ir.inputs[0].get_partial_shape()] == ["?", str(size), str(size), "3"]

    # Independently of the exporter's check: a batch of another size and other images.
    x = export.verification.sample_batch(model, batch=3, seed=7)
    compiled = core.compile_model(tmp_path / "m.xml", "CPU", F32)
    got = compiled(x)[compiled.outputs[0]]
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


def cli_args(argv):
    from keras_senet.commands import export as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command, parser.parse_args(argv)


def test_cli_exports_openvino(tmp_path):
    command, args = cli_args(["seresnet18", str(tmp_path / "out.xml"), "--format", "openvino",
                              "--image-size", "32"])
    assert command.run(args) == 0
    assert names(tmp_path) == ["out.bin", "out.xml"]
    compiled = ov.Core().compile_model(tmp_path / "out.xml", "CPU", F32)
    probabilities = compiled(np.zeros((2, 32, 32, 3), "float32"))[compiled.outputs[0]]
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def test_existing_outputs_are_refused_before_any_work(seresnet18, tmp_path):
    (tmp_path / "m.xml").write_bytes(b"theirs")
    with pytest.raises(ValueError, match=r"m\.xml exists; pass overwrite=True"):
        export.export(seresnet18, tmp_path / "m.xml", format="openvino")
    (tmp_path / "m.xml").unlink()
    (tmp_path / "m.bin").write_bytes(b"theirs")  # another export's weights, alone
    with pytest.raises(ValueError, match=r"m\.bin exists; pass overwrite=True"):
        export.export(seresnet18, tmp_path / "m.xml", format="openvino")
    with pytest.raises(ValueError, match=r"writes a \.xml file; got .*m\.ir"):
        export.export(seresnet18, tmp_path / "m.ir", format="openvino")
    assert names(tmp_path) == ["m.bin"]
    assert (tmp_path / "m.bin").read_bytes() == b"theirs"


def test_an_onnx_export_converts_without_tracing_the_model_again(seresnet18, seresnet18_onnx,
                                                                  tmp_path, monkeypatch):
    def no_tracing(*args, **kwargs):
        raise AssertionError("traced again")

    monkeypatch.setattr(export.openvino, "onnx_model", no_tracing)
    report = export.export(seresnet18, tmp_path / "m.xml", format="openvino",
                           from_onnx=seresnet18_onnx, log=None)
    assert names(tmp_path) == ["m.bin", "m.xml"]
    assert report.relative_diff <= export.VERIFY_RTOL  # verified against the Keras model
    assert (tmp_path / "m.bin").stat().st_size >= 0.99 * report.weights_bytes


def test_an_onnx_file_of_another_input_size_or_no_onnx_file_is_refused(seresnet18_onnx,
                                                                       tmp_path):
    larger = zoo_logits("seresnet18", 64)
    with pytest.raises(export.ExportError,
                       match=r"input of the ONNX file .* is \[None, 32, 32, 3\] .*; "
                             r"the model 'seresnet18' has \[None, 64, 64, 3\]"):
        export.export(larger, tmp_path / "m.xml", format="openvino", from_onnx=seresnet18_onnx,
                      verify=False, log=None)
    assert names(tmp_path) == []
    for source in (tmp_path / "missing.onnx", seresnet18_onnx.with_suffix(".xml")):
        with pytest.raises(ValueError, match=r"from_onnx \(--from-onnx\) must be an existing "
                                             r"\.onnx file"):
            export.check_export(tmp_path / "m.xml", "openvino", from_onnx=source)
    command, args = cli_args(["seresnet18", str(tmp_path / "m.xml"), "--format", "openvino",
                              "--from-onnx", str(tmp_path / "missing.onnx")])
    with pytest.raises(ValueError, match="--from-onnx"):
        command.run(args)  # before the model is built
    with pytest.raises(ValueError, match="applies to format 'openvino' only"):
        export.check_export(tmp_path / "m.onnx", "onnx", from_onnx=seresnet18_onnx)
    assert names(tmp_path) == []


def test_an_onnx_file_cut_short_or_of_another_head_is_refused(seresnet18_onnx, tmp_path):
    """A file that lies: half of a real ONNX file, and a real one whose classifier is not
    the model's. Neither publishes anything, even unverified."""
    model = zoo_logits("seresnet18", 32)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(seresnet18_onnx.read_bytes()[:seresnet18_onnx.stat().st_size // 2])
    with pytest.raises(export.ExportError, match=r"could not read the ONNX file .*cut\.onnx"
                                                 r".*cut short. Export the model to ONNX again"):
        export.export(model, tmp_path / "m.xml", format="openvino", from_onnx=cut, log=None)
    five_classes = keras_senet.create_model("seresnet18", weights=None, input_shape=(32, 32, 3),
                                            classes=5, classifier_activation=None)
    with pytest.raises(export.ExportError, match=r"output of the ONNX file .* is \[None, 10\] "
                                                 r".*'seresnet18' has \[None, 5\]"):
        export.export(five_classes, tmp_path / "m.xml", format="openvino",
                      from_onnx=seresnet18_onnx, verify=False, log=None)
    assert names(tmp_path) == ["cut.onnx"]


def test_overwrite_replaces_both_files(seresnet18, seresnet18_onnx, tmp_path):
    for suffix in (".xml", ".bin"):
        (tmp_path / f"m{suffix}").write_bytes(b"old")
    export.export(seresnet18, tmp_path / "m.xml", format="openvino", overwrite=True,
                  from_onnx=seresnet18_onnx, verify=False, log=None)
    assert names(tmp_path) == ["m.bin", "m.xml"]
    compiled = ov.Core().compile_model(tmp_path / "m.xml", "CPU", F32)  # the new pair
    x = export.verification.sample_batch(seresnet18, batch=2)
    np.testing.assert_allclose(compiled(x)[compiled.outputs[0]],
                               seresnet18.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_failed_verification_publishes_nothing(seresnet18, seresnet18_onnx, tmp_path,
                                              monkeypatch):
    def fail(*args, **kwargs):
        raise export.ExportError("outputs differ")

    monkeypatch.setattr(export.openvino.verification, "compare", fail)
    with pytest.raises(export.ExportError, match="outputs differ"):
        export.export(seresnet18, tmp_path / "m.xml", format="openvino",
                      from_onnx=seresnet18_onnx, log=None)
    assert names(tmp_path) == []


def test_missing_openvino_names_the_install(seresnet18, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises
    with pytest.raises(ImportError, match=r"pip install 'keras-senet\[export\]'"):
        export.export(seresnet18, tmp_path / "m.xml", format="openvino")
    assert names(tmp_path) == []
