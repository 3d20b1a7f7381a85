"""Arguments shared by the subcommands, and their help format (no TensorFlow imports here)."""

import argparse
import os
import shlex
import sys

NO_WEIGHTS = ("none", "None", "random")


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help with each option's default: "(default: X)" after its help text, unless
    the text already says what the default is. Options that default to None or False (flags)
    get nothing: there is no value to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is None
                or default is False or default is argparse.SUPPRESS):
            return text
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default)) or "none"
        return f"{text} (default: {str(default).replace('%', '%%')})".strip()


def weights_value(text):
    """`--weights` as given on the command line: "none" / "None" / "random" mean random
    initialisation (None); anything else (a tag, "imagenet", a file) passes through."""
    return None if text in NO_WEIGHTS else text


def add_weights_argument(parser, default, what="weights"):
    """`--weights`, one spelling for every command: 'none' (random), 'imagenet', a tag or a
    file."""
    parser.add_argument(
        "--weights", type=weights_value, default=default,
        help=f"{what}: 'imagenet', a pretrained tag ('cifar10', 'gluon_in1k', ...; "
             "keras-senet list --weights), a weights file, or 'none' for random "
             f"(default: {default or 'none'})")


def add_data_arguments(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--data-dir", help="image folder root/{train,val}/<class>/<image> (or a "
                      ".tar.gz of one); with --tfds: the tfds data_dir / manual_dir")
    data.add_argument("--tfds", help="a tensorflow-datasets name (cifar10, imagenette, "
                      "imagenet2012, ...)")
    data.add_argument("--download", action="store_true", help="let tfds download the dataset")
    data.add_argument("--holdout", type=int, default=0, help="without a val/ folder: hold out "
                      "the last N images of each class as validation")
    data.add_argument("--limit-per-class", type=int, default=0,
                      help="train on the first N images of each class only (0: all of them)")
    data.add_argument("--train-split", default="train", help="tfds training split")
    data.add_argument("--val-split", default="validation",
                      help="tfds validation split (falls back to 'test')")
    data.add_argument("--pipeline", choices=("auto", "tf.data", "numpy"), default="auto",
                      help="input pipeline: tf.data, or numpy (image folders decoded into "
                      "memory; no TensorFlow needed); auto: tf.data when TensorFlow is "
                      "installed")
    data.add_argument("--batch-size", type=int, default=64, help="global batch size")
    data.add_argument("--input-size", type=int, help="input resolution (default: the "
                      "checkpoint's evaluation size)")


def add_run_arguments(parser, default_epochs, epochs_help="epochs to train"):
    run = parser.add_argument_group("run")
    run.add_argument("--epochs", type=int, default=default_epochs, help=epochs_help)
    run.add_argument("--output", help="run directory (default: runs/<model>-<command>)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --output from its last completed epoch")
    run.add_argument("--seed", type=int, default=0,
                     help="seeds Python, NumPy and the backend, and the data shuffling")
    run.add_argument("--augment", choices=("crop_flip", "inception", "none"),
                     help="training augmentation (default: crop_flip up to 64 px, else "
                     "inception)")
    run.add_argument("--mixed-precision", action="store_true",
                     help="mixed_bfloat16 (mixed_float16 on GPUs older than "
                     "compute capability 8.0)")
    run.add_argument("--label-smoothing", type=float, default=0.0,
                     help="label smoothing of the cross-entropy loss")
    run.add_argument("--weight-decay", type=float, default=5e-4,
                     help="decoupled weight decay on kernels (BN and biases excluded)")
    run.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd",
                     help="SGD with Nesterov momentum, or AdamW")
    run.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    run.add_argument("--verbose", type=int, default=None,
                     help="Keras verbosity: 1 progress bar, 2 one line per epoch (default: "
                     "Keras' auto: a progress bar)")


def data_options(args):
    from keras_senet.data_pipeline import DataOptions

    return DataOptions(data_dir=args.data_dir, tfds=args.tfds, holdout=args.holdout,
                       limit_per_class=args.limit_per_class, download=args.download,
                       train_split=args.train_split, val_split=args.val_split,
                       pipeline=args.pipeline)


def run_dir(args, command):
    return args.output or os.path.join("runs", f"{args.model}-{command}")


def command_line():
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.argv[0]), *sys.argv[1:]])


def prepare_run_dir(path, resume):
    """Creates the run directory; refuses to overwrite a run unless resuming."""
    from keras_senet.training import read_state

    state = read_state(path)
    if state is not None and not resume:
        raise ValueError(f"{path} already holds a run (state.json). Pass --resume to continue "
                         "it, or another --output.")
    os.makedirs(path, exist_ok=True)
    return state
