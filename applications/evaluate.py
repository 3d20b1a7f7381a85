"""`keras-senet evaluate` as a program: `python applications/evaluate.py --help`.

See keras_senet/commands/evaluate.py.
"""

import argparse
import sys

from keras_senet.commands import evaluate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="evaluate.py", description=evaluate.__doc__.split("\n")[0])
    evaluate.add_arguments(parser)
    sys.exit(evaluate.run(parser.parse_args()))
