"""`keras-senet launch --workers N -- train ARGS`: a multi-worker run on this machine.

    keras-senet launch --workers 2 -- train se_resnet20_cifar --data-dir DATA --epochs 30 \\
        --batch-size 128 --strategy multiworker --resume --output runs/mw

Starts N `keras-senet train ARGS` processes, each with its own TF_CONFIG (one cluster on
--host, ports chosen free now; worker 0 is the chief and writes the run directory), and
prints their output line by line as "[worker i] ...". `--strategy multiworker` is added
when ARGS has no --strategy. When a worker fails, or on Ctrl-C / SIGTERM, the launcher stops
the others (SIGTERM, then SIGKILL after --grace seconds) and exits with that worker's status
(128 + signal for a worker killed by a signal); 0 when every worker succeeds. With --resume
in ARGS the same command continues a stopped run from its last completed epoch.

On a cluster, run `keras-senet train ARGS` on every host instead, each with a TF_CONFIG
naming all hosts and its own task (see `keras_senet.distributed`).
"""

import argparse

GRACE_SECONDS = 10.0


def add_arguments(parser):
    parser.add_argument("--workers", type=int, default=2, help="number of worker processes")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address the workers listen on (this machine)")
    parser.add_argument("--grace", type=float, default=GRACE_SECONDS,
                        help="seconds a stopped worker gets to exit before SIGKILL")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, metavar="-- train ARGS",
                        help="the `keras-senet train` command every worker runs")


def worker_arguments(train_args):
    """The arguments of each worker's `keras-senet train`: `train_args` without the leading
    "--", with `--strategy multiworker` added when no strategy is given.

    Raises:
        ValueError: no `train` command, or a strategy other than multiworker.
    """
    args = list(train_args)
    if args[:1] == ["--"]:
        args = args[1:]
    if args[:1] != ["train"]:
        raise ValueError("Give the workers' command after '--': keras-senet launch --workers 2 "
                         "-- train MODEL --data-dir DATA ...; received "
                         f"{' '.join(args) or 'nothing'!r}.")
    strategies = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--strategy"]
    strategies += [a.split("=", 1)[1] for a in args if a.startswith("--strategy=")]
    if not strategies:
        return [*args, "--strategy", "multiworker"]
    if any(s != "multiworker" for s in strategies):
        raise ValueError(f"launch starts workers of one multi-worker run: their train command "
                         f"needs --strategy multiworker, not --strategy {strategies[-1]}.")
    return args


def run(args):
    from keras_senet import launcher

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1; received {args.workers}.")
    if args.grace < 0:
        raise ValueError(f"--grace must be >= 0 seconds; received {args.grace}.")
    return launcher.run_local_cluster(worker_arguments(args.train_args), args.workers,
                                      host=args.host, grace=args.grace)
