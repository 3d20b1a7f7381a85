"""Train a keras_senet model from scratch: `python applications/train.py --help`.

The same as `keras-senet train`; see keras_senet/commands/train.py.
"""

import argparse
import sys

from keras_senet.commands import train

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="train.py", description=train.__doc__.split("\n")[0])
    train.add_arguments(parser)
    sys.exit(train.run(parser.parse_args()))
