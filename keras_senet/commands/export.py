"""`keras-senet export NAME DST`: a TF Serving SavedModel, a TFLite or an ONNX file.

    keras-senet export seresnext50_32x4d ./serving/seresnext50 --weights imagenet --version 1
    keras-senet export seresnet50 out.tflite --format tflite [--quantize dynamic]
    keras-senet export seresnet50 out.onnx --format onnx
    keras-senet export seresnet50 logits.tflite --format tflite --classifier-activation none

Each export is verified against the Keras model unless --no-verify (see keras_senet.export).
"""

import os
import sys

from keras_senet.commands import _args

FORMATS = ("saved_model", "tflite", "onnx")


def add_arguments(parser):
    parser.add_argument("name", help="registry name, optionally with a weight tag "
                        "(seresnext50_32x4d.gluon_in1k)")
    parser.add_argument("dst", help="export directory (saved_model) or file (tflite, onnx)")
    _args.add_weights_argument(parser, None)
    parser.add_argument("--format", default="saved_model", choices=FORMATS,
                        help="a TF Serving SavedModel directory, a .tflite or an .onnx file")
    parser.add_argument("--version", type=int, default=None,
                        help="SavedModel version: writes DST/<version>/ for TF Serving")
    parser.add_argument("--quantize", default=None, choices=("dynamic",),
                        help="TFLite dynamic-range quantisation")
    parser.add_argument("--classifier-activation", default="softmax",
                        choices=("softmax", "none"),
                        help="the classifier's output: probabilities, or 'none' for logits "
                        "(SavedModel signatures still report probabilities)")
    parser.add_argument("--top-k", type=int, default=5, help="k of the top-k outputs")
    parser.add_argument("--max-image-pixels", type=int, default=None,
                        help="predict_image_bytes refuses images with more pixels, read from "
                        "their headers before decoding (default: 4096 x 4096)")
    parser.add_argument("--max-aspect-ratio", type=float, default=None,
                        help="... and images whose long side exceeds this times the short "
                        "side (default: 32)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="input height = width (default: the weights' or the model's)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip reloading and comparing with the Keras model")
    parser.add_argument("--no-fold-bn", action="store_true",
                        help="keep the BatchNorm layers (default: folded into the convolutions)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DST")


def output_path(args):
    """The path the export writes: DST/<version> for a versioned SavedModel, else DST."""
    if args.format == "saved_model" and args.version is not None:
        return os.path.join(args.dst, str(args.version))
    return args.dst


def check_output(args):
    """Refuses an existing output before the model is built or converted (a TFLite
    conversion takes minutes on a large model); --overwrite replaces it."""
    path = output_path(args)
    if args.format == "saved_model":
        if os.path.isfile(path):
            raise ValueError(f"{path} is a file; a SavedModel is a directory: give another "
                             "DST.")
        if os.path.isdir(path) and os.listdir(path) and not args.overwrite:
            raise ValueError(f"{path} exists and is not empty; pass --overwrite to replace it, "
                             "or give another DST" + (" or --version." if args.version is not
                                                      None else "."))
    elif os.path.isdir(path):
        raise ValueError(f"{path} is a directory; --format {args.format} writes a file: give "
                         "a file path as DST.")
    elif os.path.exists(path) and not args.overwrite:
        raise ValueError(f"{path} exists; pass --overwrite to replace it, or give another DST.")


def run(args):
    saved_model_only = (args.version is not None or args.top_k != 5
                        or args.max_image_pixels is not None or args.max_aspect_ratio is not None)
    if args.format != "saved_model" and saved_model_only:
        raise ValueError("--version, --top-k, --max-image-pixels and --max-aspect-ratio apply "
                         "to --format saved_model only.")
    if args.quantize and args.format != "tflite":
        raise ValueError("--quantize applies to --format tflite only.")
    check_output(args)

    import keras_senet
    from keras_senet import export

    input_shape = (args.image_size, args.image_size, 3) if args.image_size else None
    activation = None if args.classifier_activation == "none" else args.classifier_activation
    model = keras_senet.create_model(args.name, weights=args.weights, input_shape=input_shape,
                                     classifier_activation=activation)
    common = dict(verify=not args.no_verify, overwrite=args.overwrite,
                  fold_bn=not args.no_fold_bn)
    try:
        if args.format == "saved_model":
            limits = {key: value for key, value in (
                ("max_image_pixels", args.max_image_pixels),
                ("max_aspect_ratio", args.max_aspect_ratio)) if value is not None}
            export.export_saved_model(model, args.dst, version=args.version, top_k=args.top_k,
                                      **limits, **common)
        elif args.format == "tflite":
            export.export_tflite(model, args.dst, quantize=args.quantize, **common)
        else:
            export.export_onnx(model, args.dst, **common)
    except export.ExportError as e:
        print(f"keras-senet export: failed: {e}", file=sys.stderr)
        return 1
    return 0
