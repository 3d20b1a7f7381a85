"""Benchmark keras_senet models beside keras.applications ResNet50 and their timm twins.

The same program as `keras-senet bench` (see `keras_senet/commands/bench.py` for the options
and `keras_senet/benchmark.py` for how the figures are taken). Examples:

    # CPU, TensorFlow backend, 2 threads: batch-1 latency and batch-32 throughput
    KERAS_BACKEND=tensorflow python applications/benchmark.py seresnet50 keras:ResNet50 \
        timm:seresnet50 seresnext50_32x4d --threads 2 --batch-sizes 1 32 --out bench/cpu

    # H100, JAX backend, bf16: inference at batch 256, training step at batch 128, MFU
    KERAS_BACKEND=jax python applications/benchmark.py seresnet50 keras:ResNet50 \
        timm:seresnet50 timm:seresnet50@compile --precision bfloat16 --batch-sizes 256 \
        --train-batch-sizes 128 --peak-tflops 989 --out bench/h100_bf16
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_senet.commands import bench  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bench.add_arguments(parser)
    try:
        return bench.run(parser.parse_args(argv))
    except ValueError as e:
        print(f"benchmark: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
