"""`keras-senet export NAME DST`: a TF Serving SavedModel, a TFLite or an ONNX file, or an
OpenVINO IR (DST, a .xml, and the .bin beside it).

    keras-senet export seresnext50_32x4d ./serving/seresnext50 --weights imagenet --version 1
    keras-senet export seresnet50 out.tflite --format tflite [--quantize float16|dynamic]
    keras-senet export seresnet50 int8.tflite --format tflite --quantize int8 \
        --calibration-data photos/ [--calibration-steps 128]
    keras-senet export seresnet50 out.onnx --format onnx
    keras-senet export seresnet50 out.xml --format openvino      # out.xml + out.bin
    keras-senet export seresnet50 logits.tflite --format tflite --classifier-activation none

Each export is verified against the Keras model unless --no-verify (see keras_senet.export).
"""

import sys

from keras_senet import export
from keras_senet.commands import _args


def add_arguments(parser):
    parser.add_argument("name", help="registry name, optionally with a weight tag "
                        "(seresnext50_32x4d.gluon_in1k)")
    parser.add_argument("dst", help="export directory (saved_model) or file (tflite, onnx; "
                        "openvino: the .xml, its .bin is written beside it)")
    _args.add_weights_argument(parser, None)
    parser.add_argument("--format", default="saved_model", choices=export.FORMATS,
                        help="a TF Serving SavedModel directory, a .tflite or an .onnx file, "
                        "or an OpenVINO IR (.xml + .bin)")
    parser.add_argument("--version", type=int, default=None,
                        help="SavedModel version: writes DST/<version>/ for TF Serving")
    parser.add_argument("--quantize", default=None, choices=[q for q in export.QUANTIZE if q],
                        help="TFLite: float16 weights, int8 weights (dynamic), or full-integer "
                        "int8 calibrated on --calibration-data (float32 input and output "
                        "every time)")
    parser.add_argument("--calibration-data", default=None, metavar="DIR",
                        help="--quantize int8: a folder of images like those the model will "
                        "classify (sub-folders included), or tfds:NAME:SPLIT; at least "
                        f"{export.MIN_CALIBRATION_IMAGES} images, read through the model's "
                        "evaluation transform")
    parser.add_argument("--calibration-steps", type=int, default=None, metavar="N",
                        help="--quantize int8: calibrate on N of those images (default: "
                        f"{export.DEFAULT_CALIBRATION_IMAGES}, or all if fewer)")
    parser.add_argument("--from-onnx", default=None, metavar="FILE",
                        help="openvino: convert this ONNX file (an `--format onnx` export of the "
                             "same model) instead of tracing the model again")
    parser.add_argument("--classifier-activation", default="softmax",
                        choices=("softmax", "none"),
                        help="the classifier's output: probabilities, or 'none' for logits "
                        "(SavedModel signatures still report probabilities)")
    parser.add_argument("--top-k", type=int, default=None,
                        help="k of the SavedModel's top-k outputs (default: 5)")
    parser.add_argument("--max-image-pixels", type=int, default=None,
                        help="predict_image_bytes refuses images with more pixels, read from "
                        f"their headers before decoding (default: {export.MAX_IMAGE_PIXELS})")
    parser.add_argument("--max-aspect-ratio", type=float, default=None,
                        help="... and images whose long side exceeds this times the short "
                        f"side (default: {export.MAX_ASPECT_RATIO:g})")
    parser.add_argument("--image-size", type=int, default=None,
                        help="input height = width (default: the weights' or the model's)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip reloading and comparing with the Keras model")
    parser.add_argument("--no-fold-bn", action="store_true",
                        help="keep the BatchNorm layers (default: folded into the convolutions)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DST")


def export_options(args):
    """The keyword arguments of `keras_senet.export.export` the command line gives: those of
    the options set on it, and verify / overwrite / fold_bn."""
    options = dict(verify=not args.no_verify, overwrite=args.overwrite,
                   fold_bn=not args.no_fold_bn)
    for name in ("version", "top_k", "quantize", "calibration_data", "calibration_steps",
                 "max_image_pixels", "max_aspect_ratio", "from_onnx"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return options


def run(args):
    options = export_options(args)
    # Options of another format, a missing or too small calibration folder and an existing
    # DST are refused before the model is built.
    export.check_export(args.dst, args.format, **options)

    import keras_senet

    input_shape = (args.image_size, args.image_size, 3) if args.image_size else None
    activation = None if args.classifier_activation == "none" else args.classifier_activation
    model = keras_senet.create_model(args.name, weights=args.weights, input_shape=input_shape,
                                     classifier_activation=activation)
    try:
        export.export(model, args.dst, format=args.format, **options)
    except export.ExportError as e:
        print(f"keras-senet export: failed: {e}", file=sys.stderr)
        return 1
    return 0
