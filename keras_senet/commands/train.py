"""`keras-senet train MODEL --data-dir ROOT | --tfds NAME`: train from scratch.

    keras-senet train resnet20_cifar --data-dir cifar10-train.tar.gz --holdout 500 \
        --epochs 180 --batch-size 128 --lr 0.1 --schedule cosine
    KERAS_BACKEND=jax keras-senet train ...            # DataParallel over all devices
    keras-senet train ... --strategy mirrored          # tf.distribute, all local GPUs
    TF_CONFIG=... keras-senet train ... --strategy multiworker --resume   # on every worker
    keras-senet launch --workers 2 -- train ... --strategy multiworker --resume

Writes the run directory (see `keras_senet.training`): per-epoch checkpoints (`--resume`
continues), TensorBoard logs, curves.png, final.safetensors, model.keras, results.json,
val_predictions.npz. With --strategy multiworker only the chief writes it; see
`keras_senet.distributed` for the other workers, their shares of the images and resuming.
"""

from keras_senet.commands import _args


def add_arguments(parser):
    parser.add_argument("model", help="registry name (keras-senet list)")
    _args.add_weights_argument(parser, None, what="initial weights")
    _args.add_data_arguments(parser)
    _args.add_run_arguments(parser, default_epochs=90)
    opt = parser.add_argument_group("schedule and distribution")
    opt.add_argument("--lr", type=float, default=0.1, help="peak learning rate")
    opt.add_argument("--schedule", choices=("cosine", "step", "constant"), default="cosine",
                     help="learning-rate schedule: cosine decay to 0, x0.1 steps, or constant")
    opt.add_argument("--warmup-epochs", type=int, default=0,
                     help="epochs of linear learning-rate warm-up (cosine schedule)")
    opt.add_argument("--step-epochs", type=int, nargs="*",
                     help="epochs where the step schedule multiplies the LR by 0.1")
    opt.add_argument("--strategy", choices=("none", "mirrored", "multiworker", "tpu"),
                     default="none", help="tf.distribute strategy (KERAS_BACKEND=jax: "
                     "keras.distribution.DataParallel whenever not 'none')")
    opt.add_argument("--tpu", default=None, help="TPU address for --strategy tpu")
    opt.add_argument("--worker-timeout", type=float, default=300.0,
                     help="--strategy multiworker: seconds to wait for every worker of "
                     "TF_CONFIG's cluster to start before giving up")
    opt.add_argument("--logical-cpus", type=int, default=0,
                     help="split the CPU into N logical devices (test distribution on CPU; "
                     "0: do not split)")


#: Options a multi-worker run's workers may set differently (everything else must agree).
PER_WORKER_OPTIONS = ("verbose", "worker_timeout", "module", "command")


def run(args):
    from keras_senet import training

    if args.logical_cpus:
        training.split_logical_cpus(args.logical_cpus)
    import keras

    import keras_senet
    from keras_senet import distributed
    from keras_senet.data_pipeline import load_datasets

    cluster = distributed.read_tf_config() if args.strategy == "multiworker" else None
    if args.worker_timeout <= 0:
        raise ValueError(f"--worker-timeout must be a number of seconds > 0; received "
                         f"{args.worker_timeout}.")
    out = _args.run_dir(args, "train")
    state = _args.prepare_run_dir(out, args.resume)
    # First: a multi-worker strategy must exist before the backend runs anything.
    strategy = training.get_strategy(args.strategy, args.tpu, args.worker_timeout)
    tf_cluster = cluster is not None and keras.backend.backend() == "tensorflow"
    if tf_cluster:
        distributed.check_same_arguments(
            strategy, cluster,
            {k: v for k, v in vars(args).items() if k not in PER_WORKER_OPTIONS})
    keras.utils.set_random_seed(args.seed)
    policy = training.set_mixed_precision(args.mixed_precision)
    spec = keras_senet.get_spec(args.model)
    transform = training.default_transform(spec)
    if args.input_size:
        transform = training.transform_for(None, spec, args.input_size)
    options = _args.data_options(args)
    steps_per_epoch, batch_note = None, ""
    if cluster is not None:
        # Each worker reads its own share of the training images.
        train_ds, steps_per_epoch = distributed.sharded_training_data(
            strategy, lambda batch, shard: load_datasets(
                options, transform, batch, args.augment, seed=args.seed, drop_remainder=True,
                shard=shard)[0], args.batch_size, cluster)
        _, val_ds, names = load_datasets(options, transform, args.batch_size, args.augment,
                                         seed=args.seed, train=False)
        # TF: each worker validates its share of every batch. JAX: every process validates
        # every image (its batches count twice in the global batch, which leaves the
        # metrics as they are) and no process waits on a smaller last share.
        if tf_cluster:
            val_ds = distributed.shard_validation(val_ds)
        batch_note = (f" = {args.batch_size // cluster.num_workers} per worker x "
                      f"{cluster.num_workers} workers")
    else:
        train_ds, val_ds, names = load_datasets(
            options, transform, args.batch_size, args.augment, seed=args.seed,
            drop_remainder=strategy.num_replicas_in_sync > 1)
    size = transform.input_size
    with strategy.scope():
        model = keras_senet.create_model(args.model, weights=args.weights, classes=len(names),
                                         input_shape=(size, size, 3),
                                         classifier_activation="softmax")
    steps = steps_per_epoch or training.steps_in(train_ds)
    print(f"{args.model}: {model.count_params():,} params, {len(names)} classes, "
          f"{steps} steps/epoch, batch {args.batch_size}{batch_note}, {policy}, "
          f"{strategy.num_replicas_in_sync} replica(s)")

    def setup(m):
        with strategy.scope():
            schedule = training.make_schedule(args.schedule, args.lr, args.epochs, steps,
                                              args.warmup_epochs, args.step_epochs)
            opt = training.make_optimizer(args.optimizer, schedule, args.weight_decay, m,
                                          args.momentum)
            training.compile_model(m, opt, args.label_smoothing)

    if state is None:
        state = training.new_state({"command": _args.command_line(), "model": args.model,
                                    "classes": names, "seed": args.seed,
                                    "epochs": args.epochs})
    phases = [training.Phase("train", args.epochs, setup)]
    verbose = args.verbose if args.verbose is not None else "auto"
    if cluster is None:
        training.fit_phases(model, phases, train_ds, val_ds, out, state, verbose=verbose)
        return finish(model, val_ds, out, state, args.model)
    write_dir = distributed.worker_dir(out, cluster)
    with distributed.stopped_by_lost_worker(cluster, state):
        training.fit_phases(model, phases, train_ds, val_ds, write_dir, state,
                            callbacks=[distributed.model_statistics_averager(strategy)]
                            if tf_cluster else [],
                            verbose=verbose, read_dir=out, steps_per_epoch=steps_per_epoch)
        finish(model, val_ds, write_dir, state, args.model)
    print(f"{cluster.describe()}: final weights sha256 {distributed.weights_digest(model)}")
    distributed.finish_worker(out, cluster)
    return 0


def finish(model, val_ds, out, state, title):
    """Evaluates, saves final.safetensors / model.keras / curves.png / results.json and
    val_predictions.npz (every validation image's label and top-5, for paired comparisons)."""
    import json
    import os

    from keras_senet import training

    training.save_tensors(model, os.path.join(out, "final.safetensors"))
    training.save_model(model, os.path.join(out, "model.keras"))
    scores = model.evaluate(val_ds, verbose=0, return_dict=True)
    results = {"val_top1": scores["accuracy"], "val_top5": scores["top5"],
               "val_loss": scores["loss"], "epochs": len(state["history"]),
               "train_seconds": round(sum(r["seconds"] for r in state["history"]), 1),
               "command": state["config"]["command"]}
    labels, top5 = training.predict_top_k(model, val_ds)
    training.save_predictions(os.path.join(out, "val_predictions.npz"), labels, top5,
                              state["config"]["classes"])
    training.write_json_atomic(os.path.join(out, "results.json"), results)
    try:
        training.plot_curves(state["history"], os.path.join(out, "curves.png"), title)
    except ImportError:
        print("matplotlib is not installed: no curves.png (pip install 'keras-senet[data]')")
    print(json.dumps(results))
    print(f"run directory: {out}")
    return 0
