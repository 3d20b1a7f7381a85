"""`keras-senet evaluate MODEL --weights W --data-dir ROOT | --tfds NAME`: top-1 / top-5.

    keras-senet evaluate se_resnet20_cifar --weights cifar10 \
        --data-dir cifar10-train.tar.gz --holdout 500
    keras-senet evaluate seresnext50_32x4d --weights imagenet \
        --tfds imagenet2012 --data-dir ~/imagenet   # the manually downloaded archives

Images go through the checkpoint's evaluation transform (`model.pretrained_cfg.transform`).
The dataset's classes must be the model's: an image folder's sorted class folders, or the
tfds labels.
"""

from keras_senet.commands import _args


def add_arguments(parser):
    parser.add_argument("model", help="registry name (keras-senet list)")
    _args.add_weights_argument(parser, "imagenet", what="weights to evaluate")
    parser.add_argument("--classes", type=int, default=None,
                        help="classifier width of a weights file (default: the dataset's)")
    parser.add_argument("--json", help="also write the scores to this file")
    parser.add_argument("--predictions", help="also write every image's label and top-5 "
                        "class indices to this .npz (for comparing two models image by image)")
    _args.add_data_arguments(parser)


def run(args):
    import json
    import os

    import keras_senet
    from keras_senet import training
    from keras_senet.data_pipeline import load_datasets

    spec = keras_senet.get_spec(args.model)
    for output in (args.json, args.predictions):  # before the evaluation, not after it
        if output and os.path.dirname(output):
            os.makedirs(os.path.dirname(output), exist_ok=True)
    options = _args.data_options(args)
    from keras_senet.weights.resolve import parse_weights

    request = parse_weights(spec, args.weights, keras_senet.registry.split_name(args.model)[1])
    classes = None  # a checkpoint brings its classes
    if not request.pretrained:
        classes = args.classes
        if classes is None and options.data_dir and not options.tfds:
            from keras_senet.data_pipeline import folder_splits

            classes = len(folder_splits(options)[2])
    model = keras_senet.create_model(args.model, weights=args.weights, classes=classes)
    transform = training.transform_for(model, spec, args.input_size)
    _, val_ds, names = load_datasets(options, transform, args.batch_size, train=False)
    if model.output_shape[-1] != len(names):
        raise ValueError(f"{args.model} has {model.output_shape[-1]} classes but the dataset "
                         f"has {len(names)}; evaluate on a dataset with the model's classes.")
    training.compile_model(model, "sgd")
    scores = model.evaluate(val_ds, return_dict=True, verbose=0)
    result = {"model": args.model, "weights": args.weights, "top1": scores["accuracy"],
              "top5": scores["top5"], "loss": scores["loss"], "transform": str(transform)}
    if args.predictions:
        labels, top5 = training.predict_top_k(model, val_ds)
        training.save_predictions(args.predictions, labels, top5, names)
        result["predictions"] = args.predictions
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0
