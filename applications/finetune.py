"""`keras-senet finetune` as a program: `python applications/finetune.py --help`.

See keras_senet/commands/finetune.py.
"""

import argparse
import sys

from keras_senet.commands import finetune

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="finetune.py", description=finetune.__doc__.split("\n")[0])
    finetune.add_arguments(parser)
    sys.exit(finetune.run(parser.parse_args()))
