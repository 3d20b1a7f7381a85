"""`keras-senet bench`: inference / training-step speed beside keras ResNet50 and timm twins.

    KERAS_BACKEND=tensorflow keras-senet bench seresnet50 keras:ResNet50 timm:seresnet50 \
        --batch-sizes 1 32 --threads 2 --out benchmarks/cpu
    KERAS_BACKEND=jax keras-senet bench seresnet50 keras:ResNet50 timm:seresnet50@compile \
        --batch-sizes 256 --train-batch-sizes 128 --precision bfloat16 --peak-tflops 989

Writes OUT.json (machine, versions, settings, figures), OUT.md (tables) and OUT.png (chart).
"""

import os



def positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(f"expected a positive integer, received {text!r}")
    return value


def add_arguments(parser):
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="registry names, keras:NAME (keras.applications), timm:NAME; "
                             "suffix @xla (TensorFlow XLA) or @compile (timm torch.compile)")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="*", default=[1, 32],
                        help="inference batch sizes (default: 1 32)")
    parser.add_argument("--train-batch-sizes", type=positive_int, nargs="*", default=[],
                        help="training-step batch sizes (default: none)")
    parser.add_argument("--input-size", type=positive_int, default=224,
                        help="input height and width")
    parser.add_argument("--classes", type=positive_int, default=1000, help="classifier width")
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "bfloat16", "float16"],
                        help="compute precision (bfloat16, float16: mixed precision)")
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="timed repeats; the median is reported")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed repeats")
    parser.add_argument("--min-repeat-s", type=float, default=1.0,
                        help="each timed repeat lasts at least about this long")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for TensorFlow and torch")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="device peak TFLOP/s at this precision, for the MFU column")
    parser.add_argument("--baseline", default=None,
                        help="model string the time ratios refer to (default: the first)")
    parser.add_argument("--backend", default=None, choices=["tensorflow", "jax", "torch"],
                        help="Keras backend (default: KERAS_BACKEND or tensorflow)")
    parser.add_argument("--out", default="benchmark",
                        help="output prefix: writes OUT.json, OUT.md, OUT.png")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG chart")


def run(args):
    import sys

    if args.backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != args.backend:
            import keras
            if keras.backend.backend() != args.backend:
                raise ValueError(
                    f"--backend {args.backend}: Keras is already loaded with the "
                    f"{keras.backend.backend()} backend; set KERAS_BACKEND={args.backend} "
                    "before starting Python instead.")
        os.environ["KERAS_BACKEND"] = args.backend

    from keras_senet.benchmark import (BenchSettings, plot, run_benchmark, to_markdown,
                                       write_record)

    settings = BenchSettings(
        batch_sizes=tuple(args.batch_sizes), train_batch_sizes=tuple(args.train_batch_sizes),
        input_size=args.input_size, precision=args.precision, repeats=args.repeats,
        warmup=args.warmup, min_repeat_s=args.min_repeat_s, classes=args.classes,
        threads=args.threads,
        peak_tflops=args.peak_tflops)
    record = run_benchmark(args.models, settings, baseline=args.baseline,
                           log=lambda msg: print(msg, file=sys.stderr, flush=True))
    record["command"] = " ".join(sys.argv)
    write_record(record, args.out, to_markdown(record), None if args.no_plot else plot)
    return 0
