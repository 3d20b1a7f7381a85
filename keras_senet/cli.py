"""`keras-senet`: the command line.

    keras-senet list [--family F] [--pretrained]
    keras-senet summary NAME
    keras-senet convert SRC DST --model NAME
    keras-senet train | finetune | evaluate MODEL --data-dir ROOT | --tfds NAME ...
    keras-senet launch --workers N -- train MODEL ... --strategy multiworker
    keras-senet export NAME DST [--format saved_model|tflite|onnx] [--version N] ...
    keras-senet bench MODEL ... [--batch-sizes 1 32] [--precision bfloat16]

Each subcommand lives in `keras_senet/commands/<name>.py` and defines
`add_arguments(parser)` and `run(args) -> int`. Every --help shows the options' defaults.
"""

import argparse
import importlib
import sys

from keras_senet.commands._args import HelpFormatter

COMMANDS = {
    "list": ("keras_senet.commands.info", "list architectures, their size and their weights"),
    "summary": ("keras_senet.commands.summary", "print a model's layers and parameter count"),
    "convert": ("keras_senet.commands.convert", "convert a timm checkpoint to Keras weights"),
    "train": ("keras_senet.commands.train", "train a model from scratch (tf.distribute / JAX)"),
    "launch": ("keras_senet.commands.launch",
               "run `train` as N local workers of one multi-worker cluster"),
    "finetune": ("keras_senet.commands.finetune", "fine-tune a pretrained backbone on new data"),
    "evaluate": ("keras_senet.commands.evaluate", "top-1 / top-5 of a model on a dataset"),
    "export": ("keras_senet.commands.export",
               "export a SavedModel (TF Serving), TFLite or ONNX file, verified"),
    "bench": ("keras_senet.commands.bench", "inference / training speed beside ResNet50 and timm"),
    "preset": ("keras_senet.commands.preset", "write a keras-hub preset directory, checked"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-senet", description=__doc__.split("\n")[0],
                                     formatter_class=HelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text,
                                    formatter_class=HelpFormatter)
        sub.set_defaults(module=module_name)
        importlib.import_module(module_name).add_arguments(sub)
    return parser


def _run(module_name, args, label):
    """`run(args)` of a command module; a ValueError / OSError is one line on stderr and
    exit status 2, not a traceback."""
    try:
        return importlib.import_module(module_name).run(args) or 0
    except (ValueError, OSError) as e:
        print(f"{label}: error: {e}", file=sys.stderr)
        return 2


def main(argv=None):
    args = build_parser().parse_args(argv)
    return _run(args.module, args, f"keras-senet {args.command}")


def run_command(name, argv=None, prog=None):
    """One subcommand as a program of its own (applications/train.py etc.): its options at
    the top level, the same help and the same error handling as `keras-senet NAME`."""
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=prog, description=module.__doc__.split("\n")[0],
                                     formatter_class=HelpFormatter)
    module.add_arguments(parser)
    return _run(module_name, parser.parse_args(argv), prog or name)


if __name__ == "__main__":
    sys.exit(main())
