"""`keras-senet finetune` as a program: `python applications/finetune.py --help`.

The same options, help and errors as `keras-senet finetune`; see keras_senet/commands/finetune.py.
"""

import sys

from keras_senet.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("finetune", prog="finetune.py"))
