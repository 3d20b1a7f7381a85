"""`keras-senet preset NAME[.TAG] DIR`: a keras-hub preset directory, checked, with a model card.

    keras-senet preset seresnet50.a1_in1k presets/seresnet50.a1_in1k
    keras-senet preset skresnet18 presets/skresnet18 --weights skresnet18.safetensors
    keras-senet preset se_resnet20_cifar.cifar10 presets/se_resnet20_cifar --overwrite

Then `keras_hub.models.ImageClassifier.from_preset(DIR)` after `import keras_senet`, and
`keras_hub.upload_preset("hf://<user>/<repo>", DIR)` to publish it. Needs the `hub` extra
(`pip install keras-senet[hub]`).
"""

from keras_senet.commands import _args


def add_arguments(parser):
    parser.add_argument("name", help="registry name, optionally with a weight tag "
                        "(seresnet50.a1_in1k)")
    parser.add_argument("dir", help="the preset directory to write")
    _args.add_weights_argument(parser, "imagenet")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DIR")


def run(args):
    try:
        from keras_senet.hub import presets
    except ImportError as e:
        raise ValueError(f"`keras-senet preset` needs keras-hub ({e}): pip install "
                         "'keras-senet[hub]'.") from None
    report = presets.write_preset(args.name, args.dir, weights=args.weights,
                                  overwrite=args.overwrite)
    source = report.source.full_name if report.source else (args.weights or "random weights")
    print(f"Wrote {report.directory}: {report.model_name} ({source}); loaded back through "
          f"keras_hub, max abs logit difference {report.max_abs_logit_diff:.2e} "
          f"(largest logit {report.logit_scale:.3g}).")
    return 0
