"""`keras-senet summary NAME`: a model's layers, parameters and multiply-adds."""


def add_arguments(parser):
    parser.add_argument("name", help="registry name, e.g. seresnext50_32x4d")
    parser.add_argument("--input-size", type=int, help="input height and width (default: "
                        "the architecture's)")
    parser.add_argument("--classes", type=int, default=1000, help="classifier width")


def run(args):
    from keras_senet import create_model, get_spec
    from keras_senet.flops import count_macs, count_params

    spec = get_spec(args.name)
    size = args.input_size or spec.default_size
    model = create_model(args.name, input_shape=(size, size, 3), classes=args.classes)
    model.summary(line_length=110)
    print(f"{spec.name} ({spec.family}): {count_params(model):,} trainable parameters, "
          f"{count_macs(model) / 1e9:.3f} GFLOPs (multiply-adds) at {size}x{size}")
    return 0
