"""`keras-senet finetune MODEL --weights W --data-dir ROOT | --tfds NAME`: transfer learning.

    keras-senet finetune seresnext50_32x4d --weights imagenet --data-dir flowers/ \
        --epochs 8 --unfrozen-epochs 5
    keras-senet finetune se_resnet20_cifar --weights cifar10 --data-dir my_images/ --resume

--epochs N epochs in total, in two phases: first the pretrained backbone frozen (only the new
classifier trains, at --lr), then the last --unfrozen-epochs of the N (default: half) train
the whole network at --lr x --unfrozen-lr-scale. Images go through the checkpoint's own
evaluation transform (`model.pretrained_cfg.transform`; the architecture's defaults for
random or file weights). Writes the run directory described in `keras_senet.training`.
"""

from keras_senet.commands import _args


def add_arguments(parser):
    parser.add_argument("model", help="registry name (keras-senet list)")
    _args.add_weights_argument(parser, "imagenet", what="backbone weights")
    _args.add_data_arguments(parser)
    _args.add_run_arguments(parser, default_epochs=4, epochs_help=(
        "epochs in total: the backbone frozen first, then the last --unfrozen-epochs of "
        "them train the whole network"))
    ft = parser.add_argument_group("fine-tuning")
    ft.add_argument("--unfrozen-epochs", type=int, default=None,
                    help="how many of the --epochs train the whole network (phase 2); 0: "
                    "only the classifier trains (default: half of --epochs, rounded down)")
    ft.add_argument("--lr", type=float, default=1e-3, help="learning rate of phase 1")
    ft.add_argument("--unfrozen-lr-scale", type=float, default=0.1,
                    help="phase 2 learning rate = lr x this")
    ft.add_argument("--dropout", type=float, default=0.2, help="dropout before the classifier")
    parser.set_defaults(weight_decay=1e-4, optimizer="adamw")


def phase_epochs(epochs, unfrozen_epochs=None):
    """(frozen, unfrozen): how `--epochs` in total split into the two phases.

    `unfrozen_epochs` None: half of them, rounded down, train the whole network.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"--epochs must be a positive number of epochs; received {epochs!r}.")
    if unfrozen_epochs is None:
        unfrozen_epochs = epochs // 2
    if not 0 <= unfrozen_epochs <= epochs:
        raise ValueError(f"--unfrozen-epochs {unfrozen_epochs} must be between 0 and --epochs "
                         f"({epochs}): it counts the last epochs of the run, those that train "
                         "the whole network.")
    return epochs - unfrozen_epochs, unfrozen_epochs


def describe_phases(frozen, unfrozen, lr, lr2):
    """One line saying what each epoch of the run trains."""
    parts = []
    if frozen:
        parts.append(f"epochs 1..{frozen}: the classifier only, backbone frozen (lr {lr:g})")
    if unfrozen:
        parts.append(f"epochs {frozen + 1}..{frozen + unfrozen}: the whole network "
                     f"(lr {lr2:g})")
    total = frozen + unfrozen
    return f"{total} epoch{'s' if total > 1 else ''}: " + "; then ".join(parts)


def build_finetune_model(name, weights, num_classes, input_size=None, dropout=0.2):
    """(model, backbone, transform): backbone (pooled features) + dropout + new classifier."""
    import keras

    import keras_senet
    from keras_senet import training

    spec = keras_senet.get_spec(name)
    weights = _args.weights_value(weights) if isinstance(weights, str) else weights
    size = input_size
    if size is None:
        # The checkpoint's evaluation size (a tag), else the architecture's default.
        from keras_senet.weights.resolve import parse_weights

        request = parse_weights(spec, weights, keras_senet.registry.split_name(name)[1])
        size = request.input_size or spec.default_size
    backbone = keras_senet.create_model(name, weights=weights, include_top=False,
                                        pooling="avg", input_shape=(size, size, 3))
    transform = training.transform_for(backbone, spec, size)
    inputs = keras.Input((size, size, 3))
    x = backbone(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="top_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                                 name="predictions")(x)
    model = keras.Model(inputs, outputs, name=f"{spec.name}_finetune")
    model.pretrained_cfg = getattr(backbone, "pretrained_cfg", None)
    return model, backbone, transform


def run(args):
    import os

    import keras

    from keras_senet import training
    from keras_senet.commands.train import finish
    from keras_senet.data_pipeline import load_datasets

    frozen, unfrozen = phase_epochs(args.epochs, args.unfrozen_epochs)
    lr2 = args.lr * args.unfrozen_lr_scale
    out = _args.run_dir(args, "finetune")
    state = _args.prepare_run_dir(out, args.resume)
    keras.utils.set_random_seed(args.seed)
    policy = training.set_mixed_precision(args.mixed_precision)
    options = _args.data_options(args)
    # Class names first (cheap for folders), to size the classifier.
    if options.tfds:
        num_classes = None
    else:
        from keras_senet.data_pipeline import folder_splits

        num_classes = len(folder_splits(options)[2])
    if num_classes is None:
        import tensorflow_datasets as tfds

        num_classes = tfds.builder(options.tfds, data_dir=options.data_dir) \
            .info.features["label"].num_classes
    model, backbone, transform = build_finetune_model(
        args.model, args.weights, num_classes, args.input_size, args.dropout)
    train_ds, val_ds, names = load_datasets(options, transform, args.batch_size, args.augment,
                                            seed=args.seed)
    steps = training.steps_in(train_ds)
    print(f"{args.model} ({args.weights or 'random weights'}) -> {len(names)} classes; "
          f"transform {transform}; {steps} steps/epoch; {policy}")
    print(describe_phases(frozen, unfrozen, args.lr, lr2))

    def phase(lr, epochs, trainable):
        def setup(m):
            backbone.trainable = trainable
            schedule = training.make_schedule("cosine", lr, epochs, steps)
            opt = training.make_optimizer(args.optimizer, schedule, args.weight_decay, m,
                                          args.momentum)
            training.compile_model(m, opt, args.label_smoothing)
        return setup

    phases = []
    if frozen:
        phases.append(training.Phase("frozen", frozen, phase(args.lr, frozen, False)))
    if unfrozen:
        phases.append(training.Phase("unfrozen", unfrozen, phase(lr2, unfrozen, True)))
    if state is None:
        state = training.new_state({"command": _args.command_line(), "model": args.model,
                                    "weights": args.weights, "classes": names,
                                    "seed": args.seed, "transform": str(transform)})
    training.fit_phases(model, phases, train_ds, val_ds, out, state,
                        verbose=args.verbose if args.verbose is not None else "auto")
    with open(os.path.join(out, "classes.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    return finish(model, val_ds, out, state, f"fine-tuning {args.model}")
