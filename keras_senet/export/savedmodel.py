"""A TF Serving SavedModel with two signatures, verified in a fresh process.

    export_saved_model(model, "serving/seresnext50", version=1)   # serving/seresnext50/1/

Signatures (the names are the contract clients code against):

    serving_default(images: float32 [batch, H, W, 3], RGB 0..255)
    predict_image_bytes(image_bytes: string [batch], encoded JPEG / PNG / GIF / BMP)
      -> probabilities  float32 [batch, classes]
         top_k_indices  int32   [batch, k]
         top_k_scores   float32 [batch, k]
         top_k_labels   string  [batch, k]   (from assets/labels.txt, one label a line)

`serving_default` normalises with the evaluation transform's mean / std inside the graph;
`predict_image_bytes` first decodes each image, resizes its shorter side to
`floor(input_size / crop_pct)` with the transform's interpolation (antialiased, rounded to
uint8 like PIL) and centre-crops `H x W` (`serving_graph.decode_batch`). A batch with an
undecodable element fails with an InvalidArgumentError naming the element's index; nothing
else in the server is affected.
"""

import os
import time

import numpy as np

from keras_senet import atomic
from keras_senet.export import model_facts, verification
from keras_senet.export.output import check_output
from keras_senet.export.report import ExportError, ExportReport
from keras_senet.export.serving_graph import (MAX_ASPECT_RATIO, MAX_IMAGE_PIXELS, check_limits,
                                              decode_batch)
from keras_senet.export.tracing import (concrete_functions, inference_model,
                                        tensorflow_backend, trace_error)

SIGNATURE_IMAGES = "serving_default"
SIGNATURE_BYTES = "predict_image_bytes"
OUTPUT_KEYS = ("probabilities", "top_k_indices", "top_k_scores", "top_k_labels")


def serving_module(model, size, transform, labels, top_k, outputs_are_probabilities, work_dir,
                 max_pixels=MAX_IMAGE_PIXELS, max_aspect_ratio=MAX_ASPECT_RATIO):
    """A tf.Module with the two serving functions `serve_images` and `serve_bytes` (see
    the module docstring); the model's variables tracked once, by the module. The labels
    file is written into `work_dir` (the SavedModel copies it as an asset)."""
    tf = tensorflow_backend()
    height, width = size
    mean = tf.constant(np.asarray(transform.mean, "float32") * 255.0)
    std = tf.constant(np.asarray(transform.std, "float32") * 255.0)
    dtype = model.inputs[0].dtype

    module = tf.Module()
    # The tf.Variables behind the Keras variables, each tracked exactly once (Keras' own
    # `model.export()` tracks the Keras wrappers as well and stores every variable twice).
    module.model_variables = [v.value for v in model.weights]
    labels_file = os.path.join(work_dir, "labels.txt")
    with open(labels_file, "w", encoding="utf-8") as f:
        f.write("\n".join(labels) + "\n")
    module.labels_asset = tf.saved_model.Asset(labels_file)
    module.labels_table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            module.labels_asset, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE),
        default_value="")

    def classify(images):
        x = (tf.cast(images, tf.float32) - mean) / std
        y = model(tf.cast(x, dtype), training=False)
        y = tf.cast(y, tf.float32)
        probabilities = y if outputs_are_probabilities else tf.nn.softmax(y, axis=-1)
        scores, indices = tf.math.top_k(probabilities, k=top_k)
        return {
            "probabilities": probabilities,
            "top_k_indices": indices,
            "top_k_scores": scores,
            "top_k_labels": module.labels_table.lookup(tf.cast(indices, tf.int64)),
        }

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32, "images")])
    def serve_images(images):
        return classify(images)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, "image_bytes")])
    def serve_bytes(image_bytes):
        return classify(decode_batch(image_bytes, size, transform, max_pixels,
                                     max_aspect_ratio))

    module.serve_images = serve_images
    module.serve_bytes = serve_bytes
    return module


def export_saved_model(model, path, *, version=None, top_k=5, labels=None, image_size=None,
                       transform=None, verify=True, overwrite=False, atol=verification.VERIFY_ATOL,
                       fold_bn=True, max_image_pixels=MAX_IMAGE_PIXELS,
                       max_aspect_ratio=MAX_ASPECT_RATIO, log=print):
    """Writes a TF Serving SavedModel with the `serving_default` and `predict_image_bytes`
    signatures (see the module docstring), then reloads and checks it in a fresh process.

    Everything is written in a staging directory `.NAME.tmp-XXXX` beside the target and
    renamed into place once verified, with the umask's modes (0755 / 0644 under umask 022,
    readable by TF Serving's user). A process killed meanwhile leaves only that directory
    (TF Serving ignores it: not a number), swept by the next export beside it; TensorFlow's
    own temporary files go there too, and the verifying process dies with its parent.

    Args:
        model: a keras_senet classifier (include_top=True), TensorFlow backend.
        path: the export directory; with `version`, the model base path of TF Serving.
        version: write `path/<version>/saved_model.pb` (the layout TF Serving expects).
        top_k: k of the top-k outputs, 1..classes.
        labels: class names (one per class); default: the ImageNet names for 1000-class
            models, else "0", "1", ...; written to `assets/labels.txt`.
        image_size: the fixed H (or (H, W)) when the model takes any size; must equal the
            model's input size when that is fixed. Default: the model's, else the transform's.
        transform: an `EvalTransform` overriding `model.pretrained_cfg.transform` (default:
            that, else ImageNet mean / std, crop 0.875, bilinear).
        verify: reload in a subprocess and compare with the Keras model (raises `ExportError`
            beyond `atol`); also logs the signatures, as `saved_model_cli show --all` would.
        overwrite: replace an existing non-empty export directory.
        fold_bn: trace the model with its BatchNorms folded into the convolutions.
        max_image_pixels: `predict_image_bytes` rejects (InvalidArgumentError: HTTP 400)
            images with more pixels, read from their headers before decoding.
        max_aspect_ratio: ... and images whose long side exceeds this times the short side.
        log: a callable taking one string, or None for silence.

    Returns:
        An `ExportReport`.

    Raises:
        ValueError: bad arguments, a non-classifier model, or an existing export directory.
        ExportError: tracing failed or the reloaded SavedModel disagrees with the model.
    """
    tf = tensorflow_backend()
    start = time.perf_counter()
    log = log or (lambda message: None)
    num_classes, outputs_are_probabilities = model_facts.classifier(model)
    if not isinstance(top_k, int) or not 1 <= top_k <= num_classes:
        raise ValueError(f"`top_k` must be an int in [1, {num_classes}]; got {top_k!r}.")
    transform = model_facts.serving_transform(model, transform)
    size = model_facts.input_hw(model, image_size, transform)
    labels = model_facts.class_labels(num_classes, labels)
    check_limits(max_image_pixels, max_aspect_ratio)
    target = check_output(path, "saved_model", overwrite=overwrite, version=version)

    with atomic.staging_dir(target, temporary_files=True) as stage:
        traced = inference_model(model, fold_bn, log)
        module = serving_module(traced, size, transform, labels, top_k,
                              outputs_are_probabilities, stage.path, max_image_pixels,
                              max_aspect_ratio)
        try:
            images_fn, bytes_fn = concrete_functions(module.serve_images, module.serve_bytes)
        except ExportError:
            raise
        except Exception as e:
            raise trace_error(model, e) from e
        saved = os.path.join(stage.path, "saved_model")
        tf.saved_model.save(
            module, saved,
            signatures={SIGNATURE_IMAGES: images_fn, SIGNATURE_BYTES: bytes_fn},
            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
        diff, summary = None, ""
        if verify:
            diff, summary = verification.verify_saved_model(
                saved, model, size, transform, labels, outputs_are_probabilities, atol)
        stage.publish(saved, overwrite=overwrite)
    report = ExportReport(target, "saved_model", _dir_size(target),
                          model_facts.weights_bytes(traced), time.perf_counter() - start, diff,
                          summary)
    log(f"SavedModel written to {target} ({report.size_bytes / 1e6:.1f} MB; variables "
        f"{report.weights_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s")
    if verify:
        log(f"verified in a fresh process: max |SavedModel - Keras| = {diff:.2g}\n{summary}")
    return report




def _dir_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)
