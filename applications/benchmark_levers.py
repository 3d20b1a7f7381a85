"""CPU levers for SE / SE-ResNeXt on the TensorFlow backend, measured interleaved in one process.

Variants of one architecture, built with the same code and swapped at the op level after
building (same weights, same layer names):
    NAME                 as shipped (SE: mean + matmul on the pooled vector; grouped convs:
                         GroupedConv2D's choice for the backend, split on TensorFlow CPU)
    NAME~se_conv1x1      SE excitation as two 1x1 convolutions on a (B, 1, 1, C) map
    NAME~no_se           the SE block skipped (the plain ResNet/ResNeXt trunk: SE's total cost)
    NAME~groups_native   grouped 3x3 as Keras' native `Conv2D(groups=G)`
    NAME~groups_split    grouped 3x3 as GroupedConv2D's split: G / k convolutions + concat,
                         k groups merged where a group has < 16 input channels
    NAME~groups_unmerged grouped 3x3 as G per-group convolutions + concat (k = 1)
    NAME~groups_dense    grouped 3x3 as one dense conv with a block-diagonal kernel (G x MACs)
    NAME~groups_depthwise grouped 3x3 as a depthwise conv (multiplier C_out/G) summed over
                         each group's C_in/G inputs (same MACs, C_in/G x the intermediate)
    NAME~fold_bn         every conv -> BatchNorm pair merged into one biased conv
                         (`keras_senet.folding.fold_batch_norm`, what the exporters trace)

    PYTHONPATH=$PWD python applications/benchmark_levers.py --out bench/cpu_levers \
        seresnet50 seresnet50~se_conv1x1 seresnet50~no_se keras:ResNet50
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_senet import benchmark  # noqa: E402

VARIANTS = ("se_conv1x1", "no_se", "groups_native", "groups_split", "groups_unmerged",
            "groups_dense", "groups_depthwise", "fold_bn")


def _se_conv1x1(layer):
    from keras import ops

    def excitation(inputs):
        z = ops.mean(inputs, axis=(1, 2), keepdims=True)
        z = ops.conv(z, layer.reduce_kernel[None, None], padding="valid") + layer.reduce_bias
        s = ops.conv(ops.relu(z), layer.expand_kernel[None, None], padding="valid")
        return ops.sigmoid(s + layer.expand_bias)
    layer.excitation = excitation


def _no_se(layer):
    layer.call = lambda inputs: inputs


def _groups_native(layer):
    from keras import layers

    layer.call = lambda inputs: layers.Conv2D.call(layer, inputs)


def _groups_split(layer):
    from keras_senet.layers import GroupedConv2D

    layer.call = lambda inputs: GroupedConv2D.split_call(layer, inputs)


def _groups_unmerged(layer):
    from keras_senet.layers import GroupedConv2D

    layer.call = lambda inputs: GroupedConv2D.split_call(layer, inputs, min_channels=1)


def _groups_dense(layer):
    from keras import ops

    groups, strides, padding = layer.groups, layer.strides, layer.padding

    def call(inputs):
        kh, kw, cin_g, cout = layer.kernel.shape
        cout_g = cout // groups
        mask = ops.repeat(ops.repeat(ops.eye(groups, dtype=layer.kernel.dtype), cin_g, 0),
                          cout_g, 1)  # (C_in, C_out) block diagonal
        dense = ops.tile(layer.kernel, (1, 1, groups, 1)) * mask
        return ops.conv(inputs, dense, strides=strides, padding=padding)
    layer.call = call


def _groups_depthwise(layer):
    from keras import ops

    groups, strides, padding = layer.groups, layer.strides, layer.padding

    def call(inputs):
        kh, kw, cin_g, cout = layer.kernel.shape
        cout_g = cout // groups
        kernel = ops.reshape(layer.kernel, (kh, kw, cin_g, groups, cout_g))
        kernel = ops.reshape(ops.transpose(kernel, (0, 1, 3, 2, 4)),
                             (kh, kw, groups * cin_g, cout_g))
        y = ops.depthwise_conv(inputs, kernel, strides=strides, padding=padding)
        b, h, w = ops.shape(y)[0], ops.shape(y)[1], ops.shape(y)[2]
        y = ops.sum(ops.reshape(y, (b, h, w, groups, cin_g, cout_g)), axis=4)
        return ops.reshape(y, (b, h, w, cout))
    layer.call = call


GROUPED_CALLS = {"groups_native": _groups_native, "groups_split": _groups_split,
                 "groups_unmerged": _groups_unmerged, "groups_dense": _groups_dense,
                 "groups_depthwise": _groups_depthwise}


class VariantRunner(benchmark.KerasRunner):
    def __init__(self, candidate, settings, variant):
        super().__init__(candidate, settings)
        self.variant = variant

    def build(self, weights=None):
        """Builds the shipped model, sets `weights` (a `get_weights()` list) if given, then
        applies the variant."""
        from keras import layers

        from keras_senet.layers import SqueezeExcite

        super().build()
        if weights is not None:
            self.model.set_weights(weights)
        patched = 0
        if self.variant == "fold_bn":
            from keras_senet.folding import fold_batch_norm
            self.model, patched = fold_batch_norm(self.model)
        for layer in self.model.layers:
            if self.variant in ("se_conv1x1", "no_se") and isinstance(layer, SqueezeExcite):
                (_se_conv1x1 if self.variant == "se_conv1x1" else _no_se)(layer)
                patched += 1
            if (self.variant.startswith("groups") and isinstance(layer, layers.Conv2D)
                    and layer.groups > 1):
                GROUPED_CALLS[self.variant](layer)
                patched += 1
        if not patched:
            raise ValueError(f"{self.candidate.label}: no layer to change for {self.variant}.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-repeat-s", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    settings = benchmark.BenchSettings(batch_sizes=tuple(args.batch_sizes),
                                       repeats=args.repeats, min_repeat_s=args.min_repeat_s,
                                       threads=args.threads, input_size=args.input_size)
    restore = benchmark.configure(settings)
    runners = {}
    for text in args.models:
        base, _, variant = text.partition("~")
        if variant and variant not in VARIANTS:
            raise SystemExit(f"unknown variant ~{variant}; expected one of {VARIANTS}")
        candidate = benchmark.parse_model(base)
        runner = (VariantRunner(candidate, settings, variant) if variant
                  else benchmark.KerasRunner(candidate, settings))
        runner.build()
        runners[text] = runner
    rows = []
    for batch in settings.batch_sizes:
        rows += benchmark.measure_group(runners, "infer", batch, settings,
                                        log=lambda m: print(m, file=sys.stderr))
    restore()
    base = args.models[0]
    lines = ["| variant | batch | ms / batch (median) | min - max ms | time vs "
             f"`{base}` |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        ref = next(r for r in rows if r["model"] == base and r["batch"] == row["batch"])
        row["time_ratio"] = row["ms"] / ref["ms"]
        lines.append(f"| {row['model']} | {row['batch']} | {row['ms']:,.1f} | "
                     f"{row['ms_min']:,.1f} - {row['ms_max']:,.1f} | {row['time_ratio']:.3f} |")
    benchmark.write_profile(args.out, vars(args), rows, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
