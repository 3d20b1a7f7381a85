"""keras_senet.export: SavedModel serving signatures, TFLite, ONNX and OpenVINO, and their
failure modes.

Small models only: a 4-layer classifier with a grouped convolution for the signature
behaviour, and three zoo architectures (SE-ResNeXt and SK-ResNet, which have grouped
convolutions, and SE-ResNet, which has none) at 32-64 px for every format.
"""

import argparse
import contextlib
import io
import json
import math
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import keras_senet  # noqa: E402
from keras_senet import export  # noqa: E402
from keras_senet.applications.imagenet_utils import preprocess_input  # noqa: E402
from keras_senet.checkpoints import EvalTransform  # noqa: E402
from keras_senet.folding import set_batch_norm_statistics  # noqa: E402
from tests.batch_norm_utils import randomise_batch_norm  # noqa: E402
from tests.programs import load_application  # noqa: E402

DATA = pathlib.Path(__file__).parent / "data"
LABELS = ["cat", "coffee", "rocket"]


def tiny_classifier(classes=3, activation="softmax", size=32):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inputs)
    x = keras.layers.Conv2D(8, 3, groups=4, padding="same", activation="relu", name="grouped")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(classes, activation=activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny")


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(1)
    return tiny_classifier()


@pytest.fixture(scope="module")
def tiny_export(tiny, tmp_path_factory):
    base = tmp_path_factory.mktemp("serving") / "tiny"
    report = export.export_saved_model(tiny, base, version=3, labels=LABELS, top_k=2, log=None)
    return report, tf.saved_model.load(report.path)


def test_layout_is_what_tf_serving_expects(tiny_export):
    report, _ = tiny_export
    path = pathlib.Path(report.path)
    assert path.name == "3"
    assert (path / "saved_model.pb").is_file()
    assert (path / "variables" / "variables.index").is_file()
    assert (path / "assets" / "labels.txt").read_text().splitlines() == LABELS
    # No staging directories left beside the version directory.
    assert [p.name for p in path.parent.iterdir()] == ["3"]


def test_export_verifies_in_a_fresh_process_and_logs_the_signatures(tiny_export):
    report, _ = tiny_export
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-5
    assert "signature_def['serving_default']" in report.summary
    assert "inputs['images'] dtype: float32 shape: [None, 32, 32, 3]" in report.summary
    assert "signature_def['predict_image_bytes']" in report.summary
    assert "inputs['image_bytes'] dtype: string shape: [None]" in report.summary
    assert "outputs['top_k_labels'] dtype: string shape: [None, 2]" in report.summary


def test_serving_default_normalises_inside_the_graph(tiny, tiny_export):
    _, loaded = tiny_export
    serve = loaded.signatures["serving_default"]
    assert set(serve.structured_outputs) == set(export.OUTPUT_KEYS)
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    out = serve(images=tf.constant(pixels))
    expected = tiny.predict(preprocess_input(pixels), verbose=0)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-6)
    top = np.argsort(-expected, axis=1)[:, :2]
    np.testing.assert_array_equal(out["top_k_indices"].numpy(), top)
    np.testing.assert_allclose(out["top_k_scores"].numpy(),
                               np.take_along_axis(expected, top, 1), atol=1e-6)
    labels = out["top_k_labels"].numpy().astype(str)
    assert labels.tolist() == [[LABELS[i] for i in row] for row in top]


def pil_eval_crop(path, size, transform):
    """The timm / torchvision evaluation transform with PIL, for comparison."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    w, h = image.size
    target = math.floor(size / transform.crop_pct)  # timm: floor(size / crop_pct)
    nw, nh = (target, int(target * h / w)) if w <= h else (int(target * w / h), target)
    image = image.resize((nw, nh), {"bilinear": Image.BILINEAR,
                                    "bicubic": Image.BICUBIC}[transform.interpolation])
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    return np.asarray(image.crop((left, top, left + size, top + size)), "float32")


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_decode_and_crop_matches_the_pil_evaluation_transform(interpolation):
    transform = EvalTransform(crop_pct=0.875, interpolation=interpolation)
    for name in ("chelsea", "astronaut"):
        path = DATA / f"{name}.jpg"
        ours = export.decode_and_crop(tf.io.read_file(str(path)), (64, 64), transform).numpy()
        reference = pil_eval_crop(path, 64, transform)
        assert ours.shape == (64, 64, 3)
        # Same JPEG decoder settings; the resampling kernels differ by rounding only.
        assert np.abs(ours - reference).mean() < 0.5
        assert np.abs(ours - reference).max() <= 8


def test_predict_image_bytes_on_real_jpegs_and_png(tiny, tiny_export):
    _, loaded = tiny_export
    jpegs = [(DATA / f"{n}.jpg").read_bytes() for n in ("chelsea", "coffee")]
    png = tf.io.encode_png(tf.io.decode_jpeg(jpegs[1], dct_method="INTEGER_ACCURATE")).numpy()
    out = loaded.signatures["predict_image_bytes"](image_bytes=tf.constant(jpegs + [png]))
    pixels = np.stack([export.decode_and_crop(tf.constant(b), (32, 32), EvalTransform()).numpy()
                       for b in jpegs + [png]])
    expected = tiny.predict(preprocess_input(pixels), verbose=0)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-6)
    # The PNG re-encoding of the second JPEG decodes to the same pixels.
    np.testing.assert_allclose(out["probabilities"][1], out["probabilities"][2], atol=1e-6)


def test_corrupted_image_bytes_fail_naming_the_elements(tiny_export):
    _, loaded = tiny_export
    serve = loaded.signatures["predict_image_bytes"]
    good = (DATA / "rocket.jpg").read_bytes()
    batch = [good, b"definitely not an image", good[: len(good) // 3]]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"by index.*\[1 2\]"):
        serve(image_bytes=tf.constant(batch))
    # The loaded model keeps serving good batches afterwards.
    assert serve(image_bytes=tf.constant([good]))["probabilities"].shape == (1, 3)


# A black 1-bit greyscale PNG of any size: 20000 x 20000 takes ~50 KB.
blank_png = load_application("serving_limits").blank_png


# Tiny requests that decode to huge images: 1 x 2000 cost 1.5 GB and 11 s before the limits.
HOSTILE = {"1x2000": (1, 2000), "1x100000": (1, 100_000), "20000x20000": (20_000, 20_000)}


def test_image_header_size_is_read_without_decoding():
    from PIL import Image

    for fmt in ("PNG", "JPEG", "GIF", "BMP"):
        buffer = io.BytesIO()
        Image.new("RGB", (7, 300)).save(buffer, fmt)
        assert export.image_header_size(tf.constant(buffer.getvalue())).numpy().tolist() == \
            [300, 7], fmt
    assert export.image_header_size(tf.constant(blank_png(20_000, 30))).numpy().tolist() == \
        [20_000, 30]
    assert export.image_header_size(tf.constant(b"RIFF....WEBP")).numpy().tolist() == [-1, -1]


def test_predict_image_bytes_refuses_huge_images_before_decoding_them(tiny_export):
    _, loaded = tiny_export
    serve = loaded.signatures["predict_image_bytes"]
    good = (DATA / "rocket.jpg").read_bytes()
    hostile = [blank_png(*hw) for hw in HOSTILE.values()]
    assert max(len(b) for b in hostile) < 100_000
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"(?s)at most 16777216 pixels.*32 times the short side.*"
                             r"max_image_pixels.*by index.*\[1 2 3\]"):
        serve(image_bytes=tf.constant([good, *hostile]))
    # The same limits hold for one image decoded eagerly.
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"An image of 1 x 2000 pixels"):
        export.decode_and_crop(tf.constant(hostile[0]), (32, 32), EvalTransform())
    assert serve(image_bytes=tf.constant([good]))["probabilities"].shape == (1, 3)


def test_image_limits_are_set_at_export(tiny, tmp_path):
    report = export.export_saved_model(tiny, tmp_path / "m", top_k=1, verify=False, log=None,
                                       max_image_pixels=64 * 64, max_aspect_ratio=2)
    serve = tf.saved_model.load(report.path).signatures["predict_image_bytes"]
    fits = [blank_png(64, 64), blank_png(32, 64), blank_png(40, 80)]
    assert serve(image_bytes=tf.constant(fits))["probabilities"].shape == (3, 3)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"(?s)at most 4096 pixels.*2 times.*by index.*\[0 1\]"):
        serve(image_bytes=tf.constant([blank_png(65, 65), blank_png(10, 21), fits[0]]))
    with pytest.raises(ValueError, match="max_image_pixels"):
        export.export_saved_model(tiny, tmp_path / "n", top_k=1, max_image_pixels=0)
    with pytest.raises(ValueError, match="max_aspect_ratio"):
        export.export_saved_model(tiny, tmp_path / "n", top_k=1, max_aspect_ratio=0.5)


def test_fresh_process_reload(tiny, tmp_path):
    path = export.export_saved_model(tiny, tmp_path / "m", labels=LABELS, top_k=3,
                                     verify=False, log=None).path
    pixels = np.random.default_rng(3).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "x.npy", pixels)
    script = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.signatures['serving_default'](images=tf.constant(np.load(sys.argv[2])))\n"
        "print(json.dumps({'p': out['probabilities'].numpy().tolist(),\n"
        "                  'labels': out['top_k_labels'].numpy().astype(str).tolist()}))\n")
    proc = subprocess.run([sys.executable, "-c", script, path, str(tmp_path / "x.npy")],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = tiny.predict(preprocess_input(pixels), verbose=0)
    np.testing.assert_allclose(np.array(got["p"]), expected, atol=1e-5)
    assert got["labels"] == [[LABELS[i] for i in np.argsort(-row)] for row in expected]


def test_logits_model_gets_softmax_and_default_labels(tmp_path):
    model = tiny_classifier(classes=6, activation=None)
    report = export.export_saved_model(model, tmp_path / "m", top_k=3, log=None)
    loaded = tf.saved_model.load(report.path)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    out = loaded.signatures["serving_default"](images=tf.constant(pixels))
    expected = softmax(model.predict(preprocess_input(pixels), verbose=0))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-6)
    assert (tmp_path / "m" / "assets" / "labels.txt").read_text().split() == list("012345")


def test_1000_class_models_get_the_imagenet_labels(tmp_path):
    model = tiny_classifier(classes=1000)
    export.export_saved_model(model, tmp_path / "m", verify=False, log=None)
    labels = (tmp_path / "m" / "assets" / "labels.txt").read_text().splitlines()
    assert labels[1] == "goldfish" and labels[386] == "African_elephant"


def test_existing_non_empty_path_is_refused_unless_overwrite(tiny, tmp_path):
    target = tmp_path / "m"
    target.mkdir()
    (target / "keep.txt").write_text("user data")
    with pytest.raises(ValueError, match="exists and is not empty.*overwrite"):
        export.export_saved_model(tiny, target, top_k=3, verify=False, log=None)
    assert (target / "keep.txt").exists()
    export.export_saved_model(tiny, target, top_k=3, verify=False, overwrite=True,
                              log=None)
    assert (target / "saved_model.pb").exists() and not (target / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    # A file path is refused for every format without overwrite.
    (tmp_path / "model.tflite").write_bytes(b"old")
    with pytest.raises(ValueError, match="exists"):
        export.export_tflite(tiny, tmp_path / "model.tflite", log=None)
    assert (tmp_path / "model.tflite").read_bytes() == b"old"


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root):
    """{path relative to root's parent: permission bits} of root and everything under it."""
    root = pathlib.Path(root)
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    return {str(p.relative_to(root.parent)): p.stat().st_mode & 0o777 for p in paths}


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_exports_are_readable_by_whom_the_umask_allows(tiny, tmp_path, mask):
    """TF Serving runs as its own user: under umask 022 it must be able to read the model."""
    with umask(mask):
        saved = export.export_saved_model(tiny, tmp_path / "serving", version=1, top_k=1,
                                          verify=False, log=None)
        export.export_tflite(tiny, tmp_path / "m.tflite", verify=False, log=None)
    found = {**modes(saved.path), **modes(tmp_path / "m.tflite")}
    assert "1/saved_model.pb" in found and "1/variables/variables.index" in found
    want = {path: (0o777 if (pathlib.Path(saved.path).parent / path).is_dir() else 0o666)
            & ~mask for path in found}
    assert {p: oct(m) for p, m in found.items()} == {p: oct(m) for p, m in want.items()}


def children_of(pid):
    """Live child processes of `pid` (from /proc; zombies count as gone)."""
    children = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return children


def alive(pid):
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


EXPORT_SCRIPT = """
import sys
import keras
from keras_senet import export
inputs = keras.Input((32, 32, 3))
x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
export.export_saved_model(model, sys.argv[1], version=1, top_k=1, log=None)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_export_killed_while_verifying_leaves_nothing_that_lasts(tiny, tmp_path):
    """SIGKILL the exporter once its verifying process runs: the verifier dies with it, its
    TMPDIR stays empty, no version 1 appears, and the next export sweeps the leftovers."""
    base, tmpdir = tmp_path / "serving", tmp_path / "tmpdir"
    tmpdir.mkdir()
    root = pathlib.Path(__file__).parent.parent
    env = dict(os.environ, TMPDIR=str(tmpdir), TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", EXPORT_SCRIPT, str(base)], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        # The verifier is the child that runs once the SavedModel is staged (an import may
        # start short-lived helper processes before that).
        while not (children_of(proc.pid) and base.exists() and any(base.iterdir())):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the export never started verifying"
            time.sleep(0.2)
        verifier = children_of(proc.pid)[0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while alive(verifier) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(verifier), "the verifying process outlived the killed export"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the test found, leave no process
        proc.stderr.close()
    assert list(tmpdir.iterdir()) == []
    leftovers = [p.name for p in base.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".1.tmp-"), leftovers

    export.export_saved_model(tiny, base, version=2, top_k=1, verify=False, log=None)
    assert [p.name for p in base.iterdir()] == ["2"]  # what TF Serving sees: one version


class NumpyInCall(keras.layers.Layer):
    """A layer that only runs eagerly: it converts its input to NumPy."""

    def call(self, x):
        return keras.ops.convert_to_tensor(np.asarray(x) * 2.0)

    def compute_output_shape(self, input_shape):
        return input_shape


def test_untraceable_model_fails_clearly_and_leaves_no_directory(tmp_path):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(5, activation="softmax")(NumpyInCall()(x))
    model = keras.Model(inputs, outputs)
    with pytest.raises(export.ExportError, match="Could not trace"):
        export.export_saved_model(model, tmp_path / "base", version=1, log=None)
    assert not (tmp_path / "base" / "1").exists()
    assert list((tmp_path / "base").iterdir()) == []  # no staging directory left behind


def test_failed_verification_leaves_no_directory(tiny, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise export.ExportError("outputs differ")

    monkeypatch.setattr(export.verification, "verify_saved_model", fail)
    with pytest.raises(export.ExportError, match="outputs differ"):
        export.export_saved_model(tiny, tmp_path / "m", top_k=3, log=None)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tiny, tmp_path):
    with pytest.raises(ValueError, match="Unknown export format 'pb'"):
        export.export(tiny, tmp_path / "m", format="pb")
    with pytest.raises(ValueError, match="quantize"):
        export.export_tflite(tiny, tmp_path / "m.tflite", quantize="int4")
    with pytest.raises(ValueError, match="top_k"):
        export.export_saved_model(tiny, tmp_path / "m", top_k=4)
    with pytest.raises(ValueError, match="2 labels for a model with 3 classes"):
        export.export_saved_model(tiny, tmp_path / "m", labels=["a", "b"], top_k=3)
    with pytest.raises(ValueError, match="version"):
        export.export_saved_model(tiny, tmp_path / "m", version="v1", top_k=3)
    with pytest.raises(ValueError, match="does not match the model's fixed input size"):
        export.export_saved_model(tiny, tmp_path / "m", image_size=64, top_k=3)
    features = keras.Model(tiny.inputs, tiny.get_layer("grouped").output)
    with pytest.raises(ValueError, match="include_top=True"):
        export.export_saved_model(features, tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_export_takes_the_options_of_its_format_only(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"`version` \(--version\) applies to format "
                                         r"'saved_model' only, not to 'onnx'"):
        export.export(tiny, tmp_path / "m.onnx", format="onnx", version=1)
    with pytest.raises(ValueError, match=r"Unknown export option\(s\) \['quantise'\]"):
        export.export(tiny, tmp_path / "m.tflite", format="tflite", quantise="dynamic")
    assert list(tmp_path.iterdir()) == []
    report = export.export(tiny, tmp_path / "m.tflite", format="tflite", verify=False,
                           log=None)
    assert report.format == "tflite" and report.path == str(tmp_path / "m.tflite")
    # What the command line checks before it builds a model: options, then the output.
    assert export.check_export(tmp_path / "serving", version=2) == \
        str(tmp_path / "serving" / "2")
    with pytest.raises(ValueError, match="m.tflite exists; pass overwrite=True"):
        export.check_export(tmp_path / "m.tflite", "tflite", verify=False)


def test_an_output_that_appears_while_exporting_is_not_replaced(tiny, tmp_path, monkeypatch):
    target = tmp_path / "m.tflite"
    run = export.run_tflite

    def someone_else_writes_the_target(interpreter, x):
        target.write_bytes(b"theirs")
        return run(interpreter, x)

    monkeypatch.setattr(export.tflite, "run_tflite", someone_else_writes_the_target)
    with pytest.raises(FileExistsError, match="appeared while it was being written"):
        export.export_tflite(tiny, target, log=None)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]  # no staging directory left


# --- the one patch of private Keras code (keras_senet/export/keras_compat.py) ---------------

def test_the_private_keras_code_the_export_patches_is_still_there():
    """Fails when a Keras upgrade moves or changes the private functions that
    keras_compat.plain_grouped_convolutions replaces: update keras_compat.py (and its
    WRITTEN_FOR_KERAS) for the new Keras."""
    tf_nn, base_conv = export.check_keras_internals()
    assert callable(tf_nn.conv) and callable(base_conv.convolution_op)


def has_xla(concrete_function):
    try:
        export.tracing.check_no_xla(concrete_function)
    except export.ExportError:
        return True
    return False


@pytest.mark.parametrize("use_bias,activation", [(False, None), (True, "relu")],
                         ids=["one grouped op", "one op per group"])
def test_grouped_convolutions_trace_without_xla_only_through_the_patch(use_bias, activation):
    layer = keras.layers.Conv2D(8, 3, groups=4, padding="same", use_bias=use_bias,
                                activation=activation)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 8)).astype("float32")
    expected = layer(x).numpy()
    spec = [tf.TensorSpec([None, 8, 8, 8], tf.float32)]
    unpatched = tf.function(layer.__call__, input_signature=spec).get_concrete_function()
    assert has_xla(unpatched), (
        f"Keras {keras.__version__} no longer compiles grouped convolutions with XLA: the "
        "patch in keras_senet/export/keras_compat.py may not be needed any more")
    (patched,) = export.tracing.concrete_functions(tf.function(layer.__call__,
                                                               input_signature=spec))
    assert not has_xla(patched)
    np.testing.assert_allclose(patched(tf.constant(x)).numpy(), expected, atol=1e-5)


def test_a_keras_whose_private_code_changed_fails_loudly_naming_its_version(
        tiny, tmp_path, monkeypatch):
    from keras.src.backend.tensorflow import nn as tf_nn
    from keras.src.layers.convolutional.base_conv import BaseConv

    changed = (rf"written for Keras {re.escape(export.WRITTEN_FOR_KERAS)}; the installed "
               rf"Keras {re.escape(keras.__version__)} changed it: ")
    original_conv = tf_nn.conv

    def conv_with_groups(inputs, kernel, strides=1, padding="valid", data_format=None,
                         dilation_rate=1, groups=1):
        return original_conv(inputs, kernel, strides, padding, data_format, dilation_rate)

    monkeypatch.setattr(tf_nn, "conv", conv_with_groups)
    with pytest.raises(export.ExportError, match=changed + r".*nn\.conv is \(.*'groups'\)"):
        export.check_keras_internals()
    monkeypatch.undo()
    monkeypatch.delattr(BaseConv, "convolution_op")
    with pytest.raises(export.ExportError, match=changed + "BaseConv.convolution_op is gone"):
        export.export_tflite(tiny, tmp_path / "m.tflite", log=None)
    assert list(tmp_path.iterdir()) == []


def cli_args(argv):
    from keras_senet.commands import export as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command, parser.parse_args(argv)


def test_cli_rejects_an_unknown_format():
    with pytest.raises(SystemExit):
        cli_args(["seresnet18", "out", "--format", "pb"])
    command, args = cli_args(["seresnet18", "out.onnx", "--format", "onnx", "--version", "1"])
    with pytest.raises(ValueError, match="--version"):
        command.run(args)


def test_cli_exports_a_versioned_saved_model(tmp_path):
    command, args = cli_args(["seresnet18", str(tmp_path / "serving"), "--version", "1",
                              "--image-size", "32", "--top-k", "3", "--no-verify"])
    assert command.run(args) == 0
    assert (tmp_path / "serving" / "1" / "saved_model.pb").is_file()
    loaded = tf.saved_model.load(str(tmp_path / "serving" / "1"))
    out = loaded.signatures["serving_default"](images=tf.zeros([1, 32, 32, 3]))
    assert out["top_k_labels"].shape == (1, 3)
    assert out["probabilities"].shape == (1, 1000)


# --- the zoo, to every format ---------------------------------------------------------------

ZOO = [  # name, input size, OpenVINO GroupConvolution ops
    ("seresnext26d_32x4d", 64, 8),  # grouped 3x3 convolutions (32 groups)
    ("skresnet18", 64, 0),          # Selective Kernel: paths and attention
    ("seresnet18", 32, 0),          # no grouped convolution
]


@pytest.mark.slow
@pytest.mark.parametrize("name,size,group_convolutions", ZOO)
def test_zoo_model_to_every_format(name, size, group_convolutions, tmp_path):
    keras.utils.set_random_seed(0)
    # Logits out: the TFLite / ONNX comparisons then see values of order 1, not 1e-3.
    model = keras_senet.create_model(name, weights=None, input_shape=(size, size, 3),
                                     classes=10, classifier_activation=None)
    randomise_batch_norm(model)  # the exporters fold BN: make that fold do something
    saved = export.export_saved_model(model, tmp_path / "saved", log=None)
    assert saved.max_abs_diff <= 1e-5  # checked in a fresh process
    assert saved.size_bytes <= 1.1 * saved.weights_bytes
    tflite = export.export_tflite(model, tmp_path / "m.tflite", log=None)
    assert tflite.max_abs_diff <= 1e-4
    quantized = export.export_tflite(model, tmp_path / "q.tflite", quantize="dynamic",
                                     atol=1.0, log=None)
    assert quantized.size_bytes < 0.35 * tflite.size_bytes
    pytest.importorskip("onnxruntime")
    onnx = export.export_onnx(model, tmp_path / "m.onnx", log=None)
    assert onnx.max_abs_diff <= 1e-4
    openvino = pytest.importorskip("openvino")
    # Converted from the ONNX file just written (tracing again would double the ONNX time).
    ir = export.export(model, tmp_path / "m.xml", format="openvino", from_onnx=onnx.path,
                       log=None)
    assert ir.relative_diff <= export.VERIFY_RTOL
    # float32 weights in the .bin (OpenVINO's own default would halve them)
    assert (tmp_path / "m.bin").stat().st_size >= 0.99 * ir.weights_bytes
    core = openvino.Core()
    ops = [op.get_type_name() for op in core.read_model(tmp_path / "m.xml").get_ops()]
    assert ops.count("GroupConvolution") == group_convolutions

    # Independently of the exporters' own checks: same logits on a real image.
    pixels = export.decode_and_crop(tf.io.read_file(str(DATA / "chelsea.jpg")), (size, size),
                                    EvalTransform()).numpy()[None]
    x = preprocess_input(pixels)
    logits = model.predict(x, verbose=0)
    interpreter = export.tflite_interpreter(str(tmp_path / "m.tflite"))
    np.testing.assert_allclose(export.run_tflite(interpreter, x), logits, atol=1e-4)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"),
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: x})[0], logits,
                               atol=1e-4)
    compiled = core.compile_model(tmp_path / "m.xml", "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    np.testing.assert_allclose(compiled(x)[compiled.outputs[0]], logits, atol=1e-4)
    loaded = tf.saved_model.load(saved.path)
    out = loaded.signatures["serving_default"](images=tf.constant(pixels))
    np.testing.assert_allclose(out["probabilities"].numpy(), softmax(logits), atol=1e-5)


def _saved_op_counts(export_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((pathlib.Path(export_dir) / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    ops = [node.op for function in graph.library.function for node in function.node_def]
    return {op: ops.count(op) for op in set(ops)}


def test_batch_norm_is_folded_into_the_exported_convolutions(tmp_path):
    """Each inference BatchNorm traces as rsqrt(var + eps) * gamma, ...: one Rsqrt per BN.
    Folded (the default), the served graph has none left and one bias add per conv."""
    model = keras_senet.create_model("seresnet18", input_shape=(32, 32, 3), classes=10)
    randomise_batch_norm(model)
    folded = export.export_saved_model(model, tmp_path / "folded", log=None)
    assert _saved_op_counts(folded.path).get("Rsqrt", 0) == 0
    assert folded.max_abs_diff <= 1e-5  # against the Keras model with its BatchNorms
    assert folded.weights_bytes < export.weights_bytes(model)

    command, args = cli_args(["seresnet18", str(tmp_path / "kept"), "--image-size", "32",
                              "--no-fold-bn", "--no-verify"])
    assert command.run(args) == 0
    assert _saved_op_counts(tmp_path / "kept").get("Rsqrt", 0) >= 20  # seresnet18's 20 BNs



# --- TFLite / ONNX verification: natural inputs, errors relative to the outputs' scale ------

def photo_crops(photos, size, per_photo=8, seed=0):
    """Random `size` x `size` crops (half of them mirrored) of the photos shrunk to 2 x size."""
    rng = np.random.default_rng(seed)
    small = tf.image.resize(photos, (2 * size, 2 * size), antialias=True).numpy()
    crops = []
    for image in small:
        for _ in range(per_photo):
            top, left = rng.integers(0, size + 1, 2)
            crop = image[top:top + size, left:left + size]
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return np.stack(crops)


def uniform_noise(batch=2, size=32):
    """What the verification fed before: uniform noise, ImageNet-normalised."""
    pixels = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3))
    return preprocess_input(pixels.astype("float32"))


@pytest.fixture(scope="module")
def photo_statistics_logits(photos):
    """A logits model (`classifier_activation=None`) in the state training leaves it: stem
    filters that respond to edges, not to flat colour (zero-mean kernels), and BatchNorm
    statistics of real photos. Its logits are a few units on photos and hundreds on
    uniform noise, which it never saw."""
    keras.utils.set_random_seed(0)
    model = keras_senet.create_model("se_shufflenet_g3", input_shape=(32, 32, 3), classes=10,
                                     classifier_activation=None)
    randomise_batch_norm(model)
    stem = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    kernel = stem.kernel.numpy()
    stem.kernel.assign(kernel - kernel.mean(axis=(0, 1), keepdims=True))
    set_batch_norm_statistics(model, preprocess_input(photo_crops(photos, 32)))
    return model


def test_float_exports_of_a_logits_model_with_photo_statistics_pass_their_verification(
        photo_statistics_logits, tmp_path):
    model = photo_statistics_logits
    # On noise its float32 TFLite file differed by 0.3 out of |1000|: an absolute 1e-4 failed.
    assert np.abs(model.predict(uniform_noise(), verbose=0)).max() > 100
    messages = []
    tflite = export.export_tflite(model, tmp_path / "m.tflite", log=messages.append)
    assert tflite.relative_diff <= export.VERIFY_RTOL
    assert tflite.top1_agreement is None  # a figure of quantised exports only
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    onnx = export.export_onnx(model, tmp_path / "m.onnx", log=messages.append)
    assert onnx.relative_diff <= export.VERIFY_RTOL
    figures = [m for m in messages if "vs Keras on 4 synthetic images: max abs diff" in m]
    assert len(figures) == 2 and all("(relative " in m for m in figures), messages


def test_saved_model_of_a_logits_model_is_judged_by_what_its_logits_may_differ():
    """The SavedModel returns probabilities (softmax in its graph). For logits of scale 50,
    a float32 retrace may move them by 1e-4 of that (the rule of TFLite / ONNX), and the
    probabilities by up to half as much: SE-ResNeXt-50 at 224 px with realistic BatchNorm
    statistics differed by 7.8e-5 and failed a fixed 1e-5."""
    from keras_senet.export.verification import probability_tolerance

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 15, (64, 1000))
    scale = np.abs(logits).max()
    moved = logits + rng.choice([-1, 1], logits.shape) * export.VERIFY_RTOL * scale
    worst = np.abs(softmax(moved) - softmax(logits)).max()
    assert 1e-5 < worst <= probability_tolerance(export.VERIFY_ATOL, scale)
    # a model that outputs probabilities keeps the fixed bound
    assert probability_tolerance(export.VERIFY_ATOL, None) == export.VERIFY_ATOL


@pytest.fixture(scope="module")
def cifar_logits():
    """SE-ResNet-20 with the packaged CIFAR-10 weights (trained BatchNorm statistics), its
    classifier giving logits. It normalises 0..255 pixels itself."""
    return keras_senet.create_model("se_resnet20_cifar", weights="cifar10",
                                    classifier_activation=None)


def test_the_trained_cifar_network_exports_as_logits_to_every_format(cifar_logits, tmp_path):
    messages = []
    quantized = export.export_tflite(cifar_logits, tmp_path / "q.tflite", quantize="dynamic",
                                     log=messages.append)
    assert quantized.top1_agreement == 1.0
    assert quantized.relative_diff <= export.QUANTIZED_RTOL / 3  # measured 0.014
    assert any("top-1 agreement 4/4, relative error" in m for m in messages), messages
    tflite = export.export_tflite(cifar_logits, tmp_path / "m.tflite", log=None)
    assert tflite.relative_diff <= export.VERIFY_RTOL
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    onnx = export.export_onnx(cifar_logits, tmp_path / "m.onnx", log=None)
    assert onnx.relative_diff <= export.VERIFY_RTOL
    # The Normalization layer's mean / variance are stored in the file, not extra inputs.
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"),
                                           providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["inputs"]


def test_verification_images_are_natural_looking_and_deterministic():
    images = export.natural_images((32, 48))
    assert images.shape == (4, 32, 48, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, export.natural_images((32, 48)))
    # Smooth: neighbouring pixels differ by a few levels (uniform noise: 85 on average).
    assert np.abs(np.diff(images.astype(int), axis=2)).mean() < 10
    assert images.std() > 40  # but not flat


@pytest.mark.parametrize("quantize,bound", [(None, "0.0001"), ("dynamic", "0.1")])
def test_verification_fails_naming_the_relative_error_of_outputs_that_are_off(
        tiny, tmp_path, monkeypatch, quantize, bound):
    run = export.run_tflite
    monkeypatch.setattr(export.tflite, "run_tflite",
                        lambda interpreter, x: run(interpreter, x) + 5.0)
    with pytest.raises(export.ExportError, match=rf"TFLite.* by more than {bound} of their "
                       r"scale: relative error [0-9.]+ \(max abs diff 5"):
        export.export_tflite(tiny, tmp_path / "m.tflite", quantize=quantize, log=None)
    assert list(tmp_path.iterdir()) == []
    # `atol`, when given, is an absolute bound, as it always was.
    report = export.export_tflite(tiny, tmp_path / "m.tflite", quantize=quantize, atol=6.0,
                                  log=None)
    assert report.max_abs_diff == pytest.approx(5.0, abs=0.1)


def test_a_quantised_export_whose_top_1_classes_moved_fails(tiny, tmp_path, monkeypatch):
    run = export.run_tflite
    monkeypatch.setattr(export.tflite, "run_tflite",
                        lambda interpreter, x: np.roll(run(interpreter, x), 1, axis=-1))
    with pytest.raises(export.ExportError, match=r"top-1 agreement 0/4|on only 0/4"):
        export.export_tflite(tiny, tmp_path / "q.tflite", quantize="dynamic", log=None)


# --- running TFLite files ------------------------------------------------------------------

class CountingInterpreter:
    """Forwards to an interpreter, recording its resizes and allocations."""

    def __init__(self, interpreter):
        self.interpreter = interpreter
        self.calls = []

    def resize_tensor_input(self, *args, **kwargs):
        self.calls.append("resize")
        return self.interpreter.resize_tensor_input(*args, **kwargs)

    def allocate_tensors(self):
        self.calls.append("allocate")
        return self.interpreter.allocate_tensors()

    def __getattr__(self, name):
        return getattr(self.interpreter, name)


def test_run_tflite_reallocates_only_when_the_batch_shape_changes(tiny, tmp_path):
    path = tmp_path / "m.tflite"
    export.export_tflite(tiny, path, verify=False, log=None)
    x = preprocess_input(export.natural_images((32, 32)).astype("float32"))
    interpreter = CountingInterpreter(export.tflite_interpreter(path))
    first = export.run_tflite(interpreter, x)
    np.testing.assert_array_equal(export.run_tflite(interpreter, x), first)
    assert interpreter.calls == ["resize", "allocate"]
    np.testing.assert_allclose(first, tiny.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(export.run_tflite(interpreter, x[:2]), first[:2], atol=1e-6)
    assert interpreter.calls == ["resize", "allocate"] * 2
    # A fresh interpreter's input already has batch 1: it is allocated, not resized.
    fresh = CountingInterpreter(export.tflite_interpreter(path.read_bytes()))
    export.run_tflite(fresh, x[:1])
    export.run_tflite(fresh, x[:1])
    assert fresh.calls == ["allocate"]


def test_tflite_interpreter_uses_every_cpu_unless_told_otherwise(tiny, tmp_path, monkeypatch):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    threads = []

    class RecordingInterpreter(litert.Interpreter):
        def __init__(self, *args, **kwargs):
            threads.append(kwargs.get("num_threads"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(litert, "Interpreter", RecordingInterpreter)
    path = tmp_path / "m.tflite"
    export.export_tflite(tiny, path, verify=False, log=None)
    threads.clear()  # the export's own check that the file loads
    export.tflite_interpreter(path)
    export.tflite_interpreter(path, num_threads=1)
    assert threads == [os.cpu_count(), 1]


def test_cli_exports_logits_with_classifier_activation_none(tmp_path, capsys):
    from keras_senet.cli import main

    keras.utils.set_random_seed(0)
    dst = tmp_path / "logits.tflite"
    assert main(["export", "se_resnet20_cifar", str(dst), "--format", "tflite",
                 "--classifier-activation", "none"]) == 0, capsys.readouterr().err
    assert "TFLite vs Keras on 4 synthetic images: max abs diff" in capsys.readouterr().out
    pixels = export.natural_images((32, 32)).astype("float32")  # it takes 0..255 pixels
    logits = export.run_tflite(export.tflite_interpreter(dst), pixels)
    assert logits.shape == (4, 10)
    assert not np.allclose(logits.sum(axis=-1), 1.0, atol=1e-2)  # not probabilities


def test_a_saved_model_of_a_network_that_normalises_itself_is_fed_raw_pixels(tmp_path):
    """The CIFAR networks normalise 0..255 pixels inside the model: with random weights or a
    weights file (no `pretrained_cfg`), serving_default must not normalise them first."""
    model = keras_senet.create_model("se_resnet20_cifar", weights=None)
    report = export.export_saved_model(model, tmp_path / "m", top_k=1, verify=False, log=None)
    serve = tf.saved_model.load(report.path).signatures["serving_default"]
    pixels = export.natural_images((32, 32), 2, 0).astype("float32")
    np.testing.assert_allclose(serve(images=tf.constant(pixels))["probabilities"],
                               model.predict(pixels, verbose=0), atol=1e-6)


# --- TFLite float16 and full-integer int8 ----------------------------------------------------

def image_folder(root, count, size=(40, 48), classes=("cat", "dog"), seed=0):
    """`count` natural-looking images (H x W = `size`) in class folders, PNG and JPEG."""
    from PIL import Image

    pixels = export.natural_images(size, count, seed)
    for index, image in enumerate(pixels):
        folder = root / classes[index % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:03d}.{'png' if index % 2 else 'jpg'}")
    return root


def photo_folder(root, photos, size, per_photo=8):
    """`photo_crops` of the photos, `size` x `size`, as PNG files in one folder per photo."""
    from PIL import Image

    crops = np.clip(np.round(photo_crops(photos, size, per_photo)), 0, 255).astype("uint8")
    for index, crop in enumerate(crops):
        folder = root / f"photo{index // per_photo}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(crop).save(folder / f"{index:03d}.png")
    return root


def tiny_zoo_network(block, size=32):
    """One block per stage of the zoo's ResNet family with 32-group convolutions:
    SE-ResNeXt ("bottleneck") or SK-ResNeXt ("sk_bottleneck"), logits, BatchNorms off
    their initial values."""
    from keras_senet.models.resnet import ResNetArch, build_resnet

    arch = ResNetArch(block, (1, 1, 1, 1), groups=32, width_per_group=4,
                      **({"se": None, "lineage": "sknet"} if block == "sk_bottleneck" else {}))
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    features = build_resnet(inputs, arch)[-1]
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, outputs, name=f"tiny_{block}")
    randomise_batch_norm(model)
    return model


def test_float16_weights_halve_the_file_within_the_float16_tolerance(cifar_logits, tmp_path):
    messages = []
    half = export.export_tflite(cifar_logits, tmp_path / "f16.tflite", quantize="float16",
                                log=messages.append)
    full = export.export_tflite(cifar_logits, tmp_path / "f32.tflite", log=None)
    assert half.quantize == "float16" and full.quantize is None
    assert half.size_bytes < 0.55 * full.size_bytes
    # Measured 1.1e-3 on these trained weights: far above float32's 1e-4, far below the bound.
    assert export.VERIFY_RTOL < half.relative_diff <= 5e-3
    assert half.top1_agreement is None
    assert any(m.startswith("TFLite (float16 weights) vs Keras on 4 synthetic images")
               for m in messages), messages


@pytest.mark.parametrize("block", ["bottleneck", "sk_bottleneck"],
                         ids=["SE-ResNeXt", "SK-ResNeXt"])
def test_full_integer_int8_of_grouped_networks_loads_and_keeps_the_top_1(
        block, tmp_path, monkeypatch):
    # The form Keras traces grouped convolutions in on CPUs; the export must not use it.
    monkeypatch.setenv("KERAS_SENET_GROUPED_CONV", "split")
    model = tiny_zoo_network(block)
    messages = []
    report = export.export_tflite(model, tmp_path / "m.tflite", quantize="int8",
                                  calibration_data=export.natural_images((32, 32), 40, seed=1),
                                  log=messages.append)
    assert os.environ["KERAS_SENET_GROUPED_CONV"] == "split"  # restored after tracing
    assert report.calibration_images == 40
    assert report.top1_agreement >= export.QUANTIZED_TOP1
    assert report.relative_diff <= export.QUANTIZED_RTOL
    assert any("(full-integer int8) vs Keras on 4 synthetic images" in m
               and "top-1 agreement" in m for m in messages), messages
    # One grouped CONV_2D per grouped convolution, its filter a constant int8 tensor (not
    # computed at run time: no op writes it).
    interpreter = export.tflite_interpreter(tmp_path / "m.tflite")
    interpreter.allocate_tensors()
    tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    computed = {index for op in ops for index in op["outputs"]}
    convs = [op for op in ops if op["op_name"] == "CONV_2D"]
    assert [op["op_name"] for op in ops].count("DEQUANTIZE") == 1  # the float32 output
    for op in convs:
        assert op["inputs"][1] not in computed
        assert tensors[op["inputs"][1]]["dtype"] == np.int8
    grouped = [op for op in convs
               if tensors[op["inputs"][1]]["shape"][-1] != tensors[op["inputs"][0]]["shape"][-1]]
    assert len(grouped) >= 4  # one a stage


def test_an_int8_file_that_cannot_load_is_never_written(tmp_path, monkeypatch):
    """Traced in the split form, the grouped filters are computed at run time and quantised
    like activations (zero point != 0), which TFLite's int8 CONV_2D refuses."""
    model_function = export.tflite.model_function
    monkeypatch.setattr(export.tflite, "model_function",
                        lambda model, grouped_convolutions: model_function(model, "split"))
    with pytest.raises(export.ExportError, match=r"does not load in the TFLite interpreter: "
                       r".*zero_point.*CONV_2D"):
        export.export_tflite(tiny_zoo_network("bottleneck"), tmp_path / "m.tflite",
                             quantize="int8", verify=False, log=None,
                             calibration_data=export.natural_images((32, 32), 32))
    assert list(tmp_path.iterdir()) == []


def test_int8_calibrated_on_images_that_never_fire_a_layer_is_refused(cifar_logits, tmp_path):
    """Smooth synthetic images never activate the ReLU of one SE squeeze of the trained
    CIFAR network: its int8 range is all but empty, and XNNPACK refuses the file."""
    with pytest.raises(export.ExportError, match=r"does not load in the TFLite interpreter .*"
                       r"the calibrated range of 1 tensor\(s\) is all but empty .*"
                       r"conv3_block2_se.*Calibrate on more, and more varied, images"):
        export.export_tflite(cifar_logits, tmp_path / "q.tflite", quantize="int8",
                             calibration_data=export.natural_images((32, 32), 32),
                             verify=False, log=None)
    assert list(tmp_path.iterdir()) == []


def test_int8_calibrates_on_an_image_folder_through_the_eval_transform(tiny, tmp_path):
    from keras_senet.array_pipeline import decode_image

    folder = image_folder(tmp_path / "photos", 32)
    images = export.calibration_images(tiny, folder)
    assert images.shape == (32, 32, 32, 3) and images.dtype == np.float32
    # The ImageNet evaluation transform at the model's 32 px: shorter side to 37, centre
    # crop, normalised. All 32 images, in file order (cat/000.jpg first).
    transform = EvalTransform(input_size=32)
    first = decode_image(str(folder / "cat" / "000.jpg"), 32, transform, training=False)
    np.testing.assert_allclose(images[0], preprocess_input(first.astype("float32")), atol=1e-6)

    messages = []
    report = export.export_tflite(tiny, tmp_path / "q.tflite", quantize="int8",
                                  calibration_data=folder, log=messages.append)
    assert report.calibration_images == 32
    assert "calibrating the int8 ranges on 32 images" in messages


def test_int8_calibrates_on_a_tfds_split(tiny):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):  # random 32 x 32 images, offline
        images = export.calibration_images(tiny, "tfds:cifar10:train", 32)
    assert images.shape == (32, 32, 32, 3)


def corrupt_folder(root):
    image_folder(root, 32)
    (root / "cat" / "broken.jpg").write_bytes(b"not a JPEG")
    return root


@pytest.mark.parametrize("options,message", [
    (dict(quantize="int4"), r"Unknown quantize='int4' \(--quantize\); expected one of "
                            r"\(None, 'float16', 'dynamic', 'int8'\)"),
    (dict(quantize="int8"), r"quantize='int8' \(full-integer\) needs calibration_data "
                            r"\(--calibration-data\)"),
    (dict(quantize="dynamic", calibration_data="photos"),
     r"calibration_data apply to quantize='int8' \(full-integer\) only"),
    (dict(quantize="int8", calibration_data="missing"), r"Calibration folder .*missing' does "
                                                        r"not exist"),
    (dict(quantize="int8", calibration_data="empty"), r"'.*empty' holds no images"),
    (dict(quantize="int8", calibration_data="few"),
     r"'.*few' holds 10 images; full-integer int8 needs at least 32 to calibrate on"),
    (dict(quantize="int8", calibration_data="photos", calibration_steps=8),
     r"calibration_steps \(--calibration-steps\) is the number of images to calibrate on, "
     r"an int >= 32; got 8"),
    (dict(quantize="int8", calibration_data="photos", calibration_steps=64),
     r"calibration_steps=64 \(--calibration-steps\) but .* holds only 32 images"),
    (dict(quantize="int8", calibration_data="tfds:cifar10"), r"written 'tfds:NAME:SPLIT'"),
    (dict(quantize="int8", calibration_data="broken"),
     r"Calibration image .*broken.jpg is not a readable image"),
    (dict(quantize="int8", calibration_data="small"),
     r"Calibration image .* is 12 x 8 pixels; it would be enlarged to a shorter side of 36 "
     r"for a model of input size 32. Calibration images need a shorter side of at least 18 "),
    (dict(quantize="int8", calibration_data=np.zeros((40, 64, 64, 3), "uint8")),
     r"shape \(N, 32, 32, 3\); got \(40, 64, 64, 3\)"),
    (dict(quantize="int8", calibration_data=preprocess_input(
        export.natural_images((32, 32), 40).astype("float32"))),
     r"holds RGB pixels 0..255 before normalisation .* got values in \[-2"),
    (dict(quantize="int8", calibration_data=export.natural_images((32, 32), 40) / 255.0),
     r"values are all within 0..1: pass pixels 0..255"),
], ids=["unknown mode", "no data", "data without int8", "missing folder", "empty folder",
        "too few", "too few steps", "more steps than images", "tfds without split",
        "unreadable image", "images too small", "array of another size",
        "normalised array", "0..1 array"])
def test_bad_quantisation_input_is_refused_before_any_conversion_work(
        tiny, tmp_path, monkeypatch, options, message):
    image_folder(tmp_path / "photos", 32)
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    image_folder(tmp_path / "few", 10)
    corrupt_folder(tmp_path / "broken")
    image_folder(tmp_path / "small", 32, size=(8, 12))
    data = options.get("calibration_data")
    if isinstance(data, str) and not data.startswith("tfds:"):
        options = dict(options, calibration_data=str(tmp_path / data))

    def no_conversion(*args, **kwargs):
        raise AssertionError("the model was traced for conversion")

    monkeypatch.setattr(export.tflite, "model_function", no_conversion)
    with pytest.raises(ValueError, match=message):
        export.export(tiny, tmp_path / "m.tflite", format="tflite", log=None, **options)
    assert not (tmp_path / "m.tflite").exists()


def test_a_missing_runtime_package_is_named_with_its_install_command(tiny, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # not installed
    with pytest.raises(ValueError, match=r"'tfds:cifar10:train' needs tensorflow-datasets: "
                                         r"pip install tensorflow-datasets"):
        export.check_export(tmp_path / "q.tflite", "tflite", quantize="int8",
                            calibration_data="tfds:cifar10:train")
    path = tmp_path / "m.tflite"
    export.export_tflite(tiny, path, verify=False, log=None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setattr(tf, "lite", None)  # a TensorFlow without its own interpreter
    with pytest.raises(ImportError, match=r"needs the LiteRT interpreter: pip install "
                                          r"ai-edge-litert"):
        export.tflite_interpreter(path)
