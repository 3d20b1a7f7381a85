"""Where SE-ResNeXt-50's CPU time goes: its grouped 3x3 convolutions, op by op.

For each ResNeXt-50 32x4d stage, times the block's grouped 3x3 convolution (native `groups=`,
split into G convolutions, and split the way GroupedConv2D does it, into G / k convolutions of
k merged groups) beside ResNet-50's dense 3x3 at the same stage, on the TensorFlow backend in
one process, the four interleaved (`benchmark.time_interleaved`);
prints achieved GFLOP/s (2 x MACs / time) and the whole network's grouped-conv time (stage
time x blocks per stage).

    python applications/profile_grouped_conv.py --batch-sizes 1 32 --threads 2 \
        --out applications/benchmarks/cpu_grouped_conv
"""

import argparse
import os
import statistics

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# (H = W at 224 input, ResNeXt width C (G = 32 groups of C / 32), ResNet-50 3x3 width, blocks)
STAGES = ((56, 128, 64, 3), (28, 256, 128, 4), (14, 512, 256, 6), (7, 1024, 512, 3))
GROUPS = 32
# grouped split: G convolutions of C / G channels; merged: GroupedConv2D's split (k merged
# groups per convolution where a group has < 16 input channels)
OPS = ("grouped native", "grouped split", "grouped split merged", "ResNet-50 dense 3x3")


def _ops(height, width, dense_width):
    """{label: (compiled op, input channels, MACs per image)} for one stage."""
    import keras
    import tensorflow as tf

    from keras_senet.layers.grouped_conv import GroupedConv2D

    grouped_macs = height * height * width * (width // GROUPS) * 9
    dense_macs = height * height * dense_width * dense_width * 9
    ops = {}
    for label in OPS:
        dense = label == "ResNet-50 dense 3x3"
        channels, groups = (dense_width, 1) if dense else (width, GROUPS)
        layer = GroupedConv2D(channels, 3, padding="same", groups=groups, use_bias=False)
        layer.build((None, height, height, channels))
        if label == "grouped split":
            call = lambda x, layer=layer: layer.split_call(x, min_channels=1)  # noqa: E731
        elif label == "grouped split merged":
            call = layer.split_call
        else:
            call = lambda x, layer=layer: keras.layers.Conv2D.call(layer, x)  # noqa: E731
        ops[label] = (tf.function(call), channels, dense_macs if dense else grouped_macs)
    return ops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-repeat-s", type=float, default=0.5)
    parser.add_argument("--out", help="write OUT.json and OUT.md")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from keras_senet import benchmark

    restore = benchmark.configure(benchmark.BenchSettings(threads=args.threads))
    rows = []
    for batch in args.batch_sizes:
        for height, width, dense_width, blocks in STAGES:
            ops = _ops(height, width, dense_width)
            steps = {}
            for label, (fn, channels, _) in ops.items():
                x = tf.constant(np.random.default_rng(0).normal(
                    size=(batch, height, height, channels)).astype("float32"))
                steps[label] = lambda fn=fn, x=x: fn(x).numpy()
                steps[label]()  # trace and warm up
            times, _ = benchmark.time_interleaved(steps, args.repeats, args.min_repeat_s)
            for label, (_, channels, macs) in ops.items():
                ms = 1e3 * statistics.median(times[label])
                rows.append({"batch": batch, "stage_hw": height, "op": label,
                             "channels": channels, "blocks": blocks, "ms": ms,
                             "gmacs": batch * macs / 1e9,
                             "gflops_per_s": 2 * batch * macs / (ms / 1e3) / 1e9})
    restore()
    lines = ["| batch | stage (HxW) | op | channels | MACs (G) | ms | GFLOP/s | x blocks = ms |",
             "|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['batch']} | {r['stage_hw']}x{r['stage_hw']} | {r['op']} | "
                     f"{r['channels']} | {r['gmacs']:.3f} | {r['ms']:.2f} | "
                     f"{r['gflops_per_s']:.1f} | {r['ms'] * r['blocks']:.1f} |")
    for batch in args.batch_sizes:
        totals = {op: sum(r["ms"] * r["blocks"] for r in rows
                          if r["batch"] == batch and r["op"] == op)
                  for op in OPS}
        lines.append("")
        lines.append(f"batch {batch}, all 16 blocks: " + ", ".join(
            f"{op} {ms:.1f} ms" for op, ms in totals.items()))
    text = "\n".join(lines)
    print(text)
    if args.out:
        benchmark.write_profile(args.out, vars(args), rows, text)


if __name__ == "__main__":
    main()
