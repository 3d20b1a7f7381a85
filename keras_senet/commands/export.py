"""`keras-senet export NAME DST`: a TF Serving SavedModel, a TFLite or an ONNX file.

    keras-senet export seresnext50_32x4d ./serving/seresnext50 --weights imagenet --version 1
    keras-senet export seresnet50 out.tflite --format tflite [--quantize dynamic]
    keras-senet export seresnet50 out.onnx --format onnx

Each export is verified against the Keras model unless --no-verify (see keras_senet.export).
"""

FORMATS = ("saved_model", "tflite", "onnx")


def add_arguments(parser):
    parser.add_argument("name", help="registry name, optionally with a weight tag "
                        "(seresnext50_32x4d.gluon_in1k)")
    parser.add_argument("dst", help="export directory (saved_model) or file (tflite, onnx)")
    parser.add_argument("--weights", default=None,
                        help="None (random), 'imagenet', a pretrained tag or a weights file")
    parser.add_argument("--format", default="saved_model", choices=FORMATS)
    parser.add_argument("--version", type=int, default=None,
                        help="SavedModel version: writes DST/<version>/ for TF Serving")
    parser.add_argument("--quantize", default=None, choices=("dynamic",),
                        help="TFLite dynamic-range quantisation")
    parser.add_argument("--top-k", type=int, default=5, help="k of the top-k outputs")
    parser.add_argument("--image-size", type=int, default=None,
                        help="input height = width (default: the weights' or the model's)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip reloading and comparing with the Keras model")
    parser.add_argument("--no-fold-bn", action="store_true",
                        help="keep the BatchNorm layers (default: folded into the convolutions)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DST")


def run(args):
    if args.format != "saved_model" and (args.version is not None or args.top_k != 5):
        raise ValueError("--version and --top-k apply to --format saved_model only.")
    if args.quantize and args.format != "tflite":
        raise ValueError("--quantize applies to --format tflite only.")

    import keras_senet
    from keras_senet import export

    input_shape = (args.image_size, args.image_size, 3) if args.image_size else None
    model = keras_senet.create_model(args.name, weights=args.weights, input_shape=input_shape)
    common = dict(verify=not args.no_verify, overwrite=args.overwrite,
                  fold_bn=not args.no_fold_bn)
    try:
        if args.format == "saved_model":
            export.export_saved_model(model, args.dst, version=args.version, top_k=args.top_k,
                                      **common)
        elif args.format == "tflite":
            export.export_tflite(model, args.dst, quantize=args.quantize, **common)
        else:
            export.export_onnx(model, args.dst, **common)
    except export.ExportError as e:
        print(f"keras-senet export: failed: {e}")
        return 1
    return 0
