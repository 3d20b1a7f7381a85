"""Why a CIFAR ResNet trains 2-3x slower on Keras' JAX backend than on TensorFlow on a
CPU: the three convolutions of a training step, XLA:CPU beside TensorFlow, one stage at a time.

For each CIFAR ResNet stage (a 3x3 convolution of C -> C channels on H x W maps), times the
forward convolution, the gradient with respect to its input and the gradient with respect to
its filter (each `jax.jit` / `tf.function` compiled), the six interleaved in one process
(`benchmark.time_interleaved`) after checking that both compute the same tensor, and prints
each op's milliseconds, the JAX / TensorFlow time ratio and achieved GFLOP/s (each op is
2 x N x H x W x 9 x C x C FLOPs).

    python applications/profile_conv_gradients.py --batch-size 128 --threads 2 \
        --out applications/benchmarks/cpu_conv_gradients
"""

import argparse
import statistics

# (H = W, C) of ResNet-20/56/110's three CIFAR stages
STAGES = ((32, 16), (16, 32), (8, 64))
OPS = ("forward", "input gradient", "filter gradient")
BACKENDS = ("tensorflow", "jax")


def _tensorflow_ops():
    import tensorflow as tf

    def conv(x, w):
        return tf.nn.conv2d(x, w, 1, "SAME")

    def gradient(of_filter):
        @tf.function
        def grad(x, w):
            with tf.GradientTape() as tape:
                tape.watch([x, w])
                loss = tf.reduce_sum(tf.square(conv(x, w)))
            return tape.gradient(loss, w if of_filter else x)
        return grad

    return {"forward": tf.function(conv), "input gradient": gradient(False),
            "filter gradient": gradient(True)}, tf.constant


def _jax_ops():
    import jax
    import jax.numpy as jnp

    def conv(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def loss(x, w):
        return jnp.sum(jnp.square(conv(x, w)))

    return {"forward": jax.jit(conv), "input gradient": jax.jit(jax.grad(loss, argnums=0)),
            "filter gradient": jax.jit(jax.grad(loss, argnums=1))}, jnp.asarray


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow's threads "
                        "(XLA:CPU uses every core)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-repeat-s", type=float, default=0.5)
    parser.add_argument("--out", help="write OUT.json and OUT.md")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from keras_senet import benchmark

    try:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    except RuntimeError:  # TensorFlow already initialised in this process
        pass
    frameworks = {"tensorflow": _tensorflow_ops(), "jax": _jax_ops()}
    rows = []
    for size, channels in STAGES:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(args.batch_size, size, size, channels)).astype("float32")
        w = rng.normal(size=(3, 3, channels, channels)).astype("float32") / (3 * channels ** .5)
        steps, results = {}, {}
        for backend, (ops, to_tensor) in frameworks.items():
            xs, ws = to_tensor(x), to_tensor(w)
            for op, fn in ops.items():
                steps[backend, op] = lambda fn=fn, xs=xs, ws=ws: np.asarray(fn(xs, ws))
                results[backend, op] = steps[backend, op]()  # trace, compile and warm up
        for op in OPS:  # like for like: both frameworks compute the same tensor
            expected = results["tensorflow", op]
            np.testing.assert_allclose(results["jax", op], expected, rtol=1e-3,
                                       atol=1e-4 * np.abs(expected).max(), err_msg=op)
        times, _ = benchmark.time_interleaved(steps, args.repeats, args.min_repeat_s)
        flops = 2 * args.batch_size * size * size * 9 * channels * channels
        for op in OPS:
            ms = {b: 1e3 * statistics.median(times[b, op]) for b in BACKENDS}
            rows.append({"stage_hw": size, "channels": channels, "op": op,
                         "tensorflow_ms": ms["tensorflow"], "jax_ms": ms["jax"],
                         "jax_over_tensorflow": ms["jax"] / ms["tensorflow"],
                         "tensorflow_gflops_per_s": flops / ms["tensorflow"] / 1e6,
                         "jax_gflops_per_s": flops / ms["jax"] / 1e6})
    lines = [f"batch {args.batch_size}, 3x3 convolution C -> C, median of {args.repeats} "
             "interleaved repeats", "",
             "| stage (HxW, C) | op | TensorFlow ms | JAX ms | JAX / TF time | TF GFLOP/s "
             "| JAX GFLOP/s |", "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['stage_hw']}x{r['stage_hw']}, {r['channels']} | {r['op']} | "
              f"{r['tensorflow_ms']:.1f} | {r['jax_ms']:.1f} | {r['jax_over_tensorflow']:.2f} | "
              f"{r['tensorflow_gflops_per_s']:.1f} | {r['jax_gflops_per_s']:.1f} |" for r in rows]
    text = "\n".join(lines)
    print(text)
    if args.out:
        benchmark.write_profile(args.out, vars(args), rows, text)
    return rows


if __name__ == "__main__":
    main()
