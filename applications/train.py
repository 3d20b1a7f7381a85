"""`keras-senet train` as a program: `python applications/train.py --help`.

The same options, help and errors as `keras-senet train`; see keras_senet/commands/train.py.
"""

import sys

from keras_senet.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("train", prog="train.py"))
