"""applications/export_serving.py: the TF Serving REST and gRPC requests, answered by the
SavedModel loaded in-process (no model server binary here: the bodies are decoded the way
the server decodes them and fed to the signatures)."""

import json
import pathlib

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from keras_senet import export  # noqa: E402
from keras_senet.applications.imagenet_utils import preprocess_input  # noqa: E402
from keras_senet.checkpoints import EvalTransform  # noqa: E402
from tests.programs import load_application  # noqa: E402

ROOT = pathlib.Path(__file__).parent.parent
DATA = ROOT / "tests" / "data"
LABELS = ["a", "b", "c", "d"]


def load_example():
    return load_application("export_serving")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    keras.utils.set_random_seed(2)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    report = export.export_saved_model(model, tmp_path_factory.mktemp("s") / "m", version=1,
                                       labels=LABELS, top_k=2, verify=False, log=None)
    return model, tf.saved_model.load(report.path)


def expected_for(model, pixels):
    return model.predict(preprocess_input(np.asarray(pixels, "float32")), verbose=0)


def test_rest_instances_body_for_serving_default(served):
    model, loaded = served
    example = load_example()
    pixels = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    body = example.rest_body_images(pixels)
    request = json.loads(body)
    assert request["signature_name"] == "serving_default"
    assert np.asarray(request["instances"]).shape == (2, 32, 32, 3)
    out = example.answer(loaded, *example.decode_rest_body(body))
    np.testing.assert_allclose(out["probabilities"], expected_for(model, pixels), atol=1e-6)
    assert out["top_k_labels"].shape == (2, 2)


def test_rest_b64_body_for_predict_image_bytes(served):
    model, loaded = served
    example = load_example()
    encoded = [(DATA / "chelsea.jpg").read_bytes(), (DATA / "rocket.jpg").read_bytes()]
    body = example.rest_body_image_bytes(encoded)
    assert set(json.loads(body)["instances"][0]) == {"b64"}
    out = example.answer(loaded, *example.decode_rest_body(body))
    pixels = [export.decode_and_crop(tf.constant(b), (32, 32), EvalTransform()).numpy()
              for b in encoded]
    expected = expected_for(model, pixels)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-6)
    top = np.argsort(-expected, axis=1)[:, :2]
    assert out["top_k_labels"].astype(str).tolist() == [[LABELS[i] for i in r] for r in top]


@pytest.mark.parametrize("signature", ["serving_default", "predict_image_bytes"])
def test_grpc_predict_request(served, signature):
    pytest.importorskip("tensorflow_serving")
    model, loaded = served
    example = load_example()
    encoded = [(DATA / "coffee.jpg").read_bytes()]
    pixels = np.stack([export.decode_and_crop(tf.constant(encoded[0]), (32, 32),
                                              EvalTransform()).numpy()])
    value = pixels if signature == "serving_default" else encoded
    request = example.grpc_request("tiny", signature, value)
    assert request.model_spec.signature_name == signature
    # Through the wire format and back, as the server receives it.
    wire = type(request).FromString(request.SerializeToString())
    out = example.answer(loaded, *example.decode_grpc_request(wire))
    np.testing.assert_allclose(out["probabilities"], expected_for(model, pixels), atol=1e-6)
