"""Export a model for TensorFlow Serving and show the requests a client sends to it.

    PYTHONPATH=. python applications/export_serving.py --model seresnet18 --image-size 64 \
        --out /tmp/serving/seresnet18 tests/data/chelsea.jpg tests/data/coffee.jpg

Writes `OUT/1/` (the layout `tensorflow_model_server --model_base_path=OUT` serves), prints
the REST bodies for both signatures and the gRPC `PredictRequest`, then answers them with the
SavedModel loaded in this process (no model server is needed to check the bodies):

    POST http://HOST:8501/v1/models/NAME:predict
      {"signature_name": "serving_default", "instances": [[[[r, g, b], ...]]]}
      {"signature_name": "predict_image_bytes", "instances": [{"b64": "<base64 JPEG>"}]}
    gRPC PredictionService.Predict (port 8500): PredictRequest(model_spec, inputs)

The gRPC request uses `tensorflow-serving-api` (the `export` extra); the REST bodies are
plain JSON.
"""

import argparse
import base64
import json
import sys

import numpy as np

SIGNATURE_INPUTS = {"serving_default": "images", "predict_image_bytes": "image_bytes"}


def rest_body_images(images):
    """REST body for `serving_default`: float32 RGB 0..255 images, row format."""
    return json.dumps({"signature_name": "serving_default",
                       "instances": np.asarray(images, "float32").tolist()})


def rest_body_image_bytes(encoded_images):
    """REST body for `predict_image_bytes`: binary inputs travel as {"b64": ...}."""
    return json.dumps({"signature_name": "predict_image_bytes",
                       "instances": [{"b64": base64.b64encode(b).decode("ascii")}
                                     for b in encoded_images]})


def decode_rest_body(body):
    """What TF Serving does with a row-format body: (signature name, {input: value})."""
    request = json.loads(body)
    name = request.get("signature_name", "serving_default")
    instances = request["instances"]
    if instances and isinstance(instances[0], dict) and "b64" in instances[0]:
        value = [base64.b64decode(i["b64"]) for i in instances]
    else:
        value = np.asarray(instances, "float32")
    return name, {SIGNATURE_INPUTS[name]: value}


def grpc_request(model_name, signature_name, value):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for one signature."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    dtype = tf.string if signature_name == "predict_image_bytes" else tf.float32
    request.inputs[SIGNATURE_INPUTS[signature_name]].CopyFrom(
        tf.make_tensor_proto(value, dtype=dtype))
    return request


def decode_grpc_request(request):
    """What the server does with a PredictRequest: (signature name, {input: value})."""
    import tensorflow as tf

    inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
    return request.model_spec.signature_name, inputs


def answer(loaded, signature_name, inputs):
    """Runs a decoded request on a loaded SavedModel: {output: ndarray}."""
    import tensorflow as tf

    fn = loaded.signatures[signature_name]
    key, value = next(iter(inputs.items()))
    if signature_name == "predict_image_bytes":
        tensor = tf.constant([bytes(v) for v in value], tf.string)
    else:
        tensor = tf.constant(value, tf.float32)
    return {k: v.numpy() for k, v in fn(**{key: tensor}).items()}


def main(argv=None):
    from keras_senet.commands import _args

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=_args.HelpFormatter)
    parser.add_argument("images", nargs="+", help="JPEG / PNG files to classify")
    parser.add_argument("--model", default="seresnet18", help="registry name")
    _args.add_weights_argument(parser, None)
    parser.add_argument("--image-size", type=int, default=None,
                        help="input height = width (default: the weights' or the model's)")
    parser.add_argument("--out", default="serving/model",
                        help="model base path: the SavedModel goes to OUT/1/")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/1/")
    args = parser.parse_args(argv)

    from keras_senet import export

    try:
        export.check_output(args.out, "saved_model", overwrite=args.overwrite, version=1)
    except ValueError as e:
        parser.error(str(e))

    import tensorflow as tf

    import keras_senet

    shape = (args.image_size, args.image_size, 3) if args.image_size else None
    model = keras_senet.create_model(args.model, weights=args.weights, input_shape=shape)
    report = export.export_saved_model(model, args.out, version=1, overwrite=args.overwrite)
    loaded = tf.saved_model.load(report.path)
    size = tuple(model.inputs[0].shape[1:3])
    encoded = [open(path, "rb").read() for path in args.images]
    transform = export.input_transform(model)
    pixels = np.stack([export.decode_and_crop(tf.constant(b), size, transform).numpy()
                       for b in encoded])

    bodies = [rest_body_images(pixels), rest_body_image_bytes(encoded)]
    for body in bodies:
        shown = body if len(body) < 300 else body[:150] + " ... " + body[-60:]
        print(f"\nPOST /v1/models/{args.model}:predict\n{shown}")
        name, inputs = decode_rest_body(body)
        print(" ->", answer(loaded, name, inputs)["top_k_labels"].astype(str).tolist())
    for name, value in (("serving_default", pixels), ("predict_image_bytes", encoded)):
        request = grpc_request(args.model, name, value)
        print(f"\ngRPC PredictRequest ({request.ByteSize()} bytes): model_spec "
              f"{{name: {request.model_spec.name!r}, signature_name: {name!r}}}, inputs "
              f"{{{SIGNATURE_INPUTS[name]!r}: {request.inputs[SIGNATURE_INPUTS[name]].dtype} "
              f"{[d.size for d in request.inputs[SIGNATURE_INPUTS[name]].tensor_shape.dim]}}}")
        print(" ->", answer(loaded, *decode_grpc_request(request))["top_k_labels"]
              .astype(str).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
