"""Where the ResNet family's pretrained weights come from, and how they were evaluated.

Rows mirror timm's `pretrained_cfgs` (timm 1.0.31); the first tag of each architecture is its
default. `top1` is quoted only where timm's results-imagenet.csv has a row at the evaluation
`input_size`; most newer timm weights are listed there only at their larger test resolution,
noted per row.
"""

from keras_senet.checkpoints import EvalTransform, hf_source, pth_source

CHECKPOINTS = {
    # --- timm senet.py: the legacy (Cadene / rwightman) SENet ports, `.pth` release files ---
    "legacy_seresnet18": (
        pth_source("legacy_seresnet18", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet18-4bb0ce65.pth",
                   transform=EvalTransform(interpolation="bicubic"), top1=71.766),
    ),
    "legacy_seresnet34": (
        pth_source("legacy_seresnet34", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet34-a4004e63.pth",
                   top1=74.808),
    ),
    "legacy_seresnet50": (
        pth_source("legacy_seresnet50", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/se_resnet50-ce0d4300.pth",
                   top1=77.644),
    ),
    "legacy_seresnet101": (
        pth_source("legacy_seresnet101", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/se_resnet101-7e38fcc6.pth",
                   top1=78.386),
    ),
    "legacy_seresnet152": (
        pth_source("legacy_seresnet152", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/se_resnet152-d17c99b7.pth",
                   top1=78.660),
    ),
    "legacy_seresnext26_32x4d": (
        pth_source("legacy_seresnext26_32x4d", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnext26_32x4d-65ebdb501.pth",
                   transform=EvalTransform(interpolation="bicubic"), top1=77.108),
    ),
    "legacy_seresnext50_32x4d": (
        pth_source("legacy_seresnext50_32x4d", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/legacy_se_resnext50_32x4d-f3651bad.pth",
                   top1=79.076),
    ),
    "legacy_seresnext101_32x4d": (
        pth_source("legacy_seresnext101_32x4d", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/legacy_se_resnext101_32x4d-37725eac.pth",
                   top1=80.230),
    ),
    "legacy_senet154": (
        pth_source("legacy_senet154", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/legacy_senet154-e9eb9fe6.pth",
                   top1=81.308),
    ),
    # --- timm resnet.py: SE-ResNet / SE-ResNeXt / SENet-154, on the Hugging Face hub ---
    # seresnet18, seresnet34, seresnet101, seresnet152: no pretrained weights in timm.
    "seresnet50": (
        hf_source("seresnet50", "a1_in1k",  # csv: 81.102 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnet50", "a2_in1k",  # csv: 81.106 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnet50", "a3_in1k",  # csv: 77.028 at 224 only
                  transform=EvalTransform(input_size=160, crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnet50", "ra2_in1k",  # csv: 81.284 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
    ),
    "seresnet152d": (
        hf_source("seresnet152d", "ra2_in1k",  # csv: 84.360 at 320 only
                  transform=EvalTransform(input_size=256, crop_pct=0.95, interpolation="bicubic")),
    ),
    "seresnext26d_32x4d": (
        hf_source("seresnext26d_32x4d", "bt_in1k",  # csv: 78.814 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
    ),
    "seresnext26t_32x4d": (
        hf_source("seresnext26t_32x4d", "bt_in1k",  # csv: 78.744 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
    ),
    "seresnext50_32x4d": (
        hf_source("seresnext50_32x4d", "racm_in1k",  # csv: 82.196 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
        hf_source("seresnext50_32x4d", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=79.910),
    ),
    "seresnext101_32x4d": (
        hf_source("seresnext101_32x4d", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=80.892),
    ),
    "seresnext101_32x8d": (
        hf_source("seresnext101_32x8d", "ah_in1k",  # csv: 84.186 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
    ),
    "seresnext101d_32x8d": (
        hf_source("seresnext101d_32x8d", "ah_in1k",  # csv: 84.358 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
    ),
    "seresnext101_64x4d": (
        hf_source("seresnext101_64x4d", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=80.896),
    ),
    "seresnextaa101d_32x8d": (
        hf_source("seresnextaa101d_32x8d", "sw_in12k_ft_in1k_288",  # csv: 86.724 at 320 only
                  transform=EvalTransform(input_size=288, crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnextaa101d_32x8d", "sw_in12k_ft_in1k",  # csv: 86.484 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
        # "sw_in12k" (11821-class ImageNet-12k head) is left out: not an ImageNet-1k classifier.
        hf_source("seresnextaa101d_32x8d", "ah_in1k",  # csv: 84.566 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
    ),
    "seresnextaa201d_32x8d": (
        hf_source("seresnextaa201d_32x8d", "sw_in12k_ft_in1k_384",  # top1 not quoted: unchecked
                  transform=EvalTransform(input_size=384, crop_pct=1.0, interpolation="bicubic")),
        # "sw_in12k" (11821-class ImageNet-12k head) is left out: not an ImageNet-1k classifier.
    ),
    "senet154": (
        hf_source("senet154", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=81.226),
    ),
    # --- timm sknet.py: Selective Kernel networks, on the Hugging Face hub ---
    # skresnet50, skresnet50d: no pretrained weights in timm.
    "skresnet18": (
        hf_source("skresnet18", "ra_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=73.038),
    ),
    "skresnet34": (
        hf_source("skresnet34", "ra_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=76.910),
    ),
    "skresnext50_32x4d": (
        hf_source("skresnext50_32x4d", "ra_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=80.162),
    ),
}
