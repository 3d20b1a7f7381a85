"""`keras-senet evaluate` as a program: `python applications/evaluate.py --help`.

The same options, help and errors as `keras-senet evaluate`; see keras_senet/commands/evaluate.py.
"""

import sys

from keras_senet.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("evaluate", prog="evaluate.py"))
