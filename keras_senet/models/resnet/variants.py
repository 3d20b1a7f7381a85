"""The ResNet family's table: every SE-ResNet / SE-ResNeXt / SENet / SK-ResNet variant, the
public constructor that builds it, and the paper's figures.

Two families share these blocks: "se_resnet" (the SENet paper, Hu et al. 2018, and timm's
SE-ResNe(X)ts) and "sknet" (the SKNet paper, Li et al. 2019). Adding a depth is one row here
(plus its checkpoint rows in `checkpoints.py`, if it has any).
"""

from keras_senet.layers import PAPER_SE
from keras_senet.models.resnet.architecture import ResNetArch


def _legacy(block, depths, **kwargs):
    """The official Caffe SENets (timm `senet.py`, `legacy_*`): C // 16 SE, ceil-mode stem
    pool, dropout 0.2; SE-ResNet-18/34 were trained with a ReLU before SE."""
    return ResNetArch(block, depths, stem_pool="max_ceil", se=PAPER_SE, drop_rate=0.2,
                      relu_before_se=block == "basic", lineage="senet", **kwargs)


def _sk(block, depths, **kwargs):
    """timm `sknet.py`: SK convolution instead of the 3x3, no SE."""
    return ResNetArch(block, depths, se=None, lineage="sknet", **kwargs)


_SEXT = dict(groups=32, width_per_group=4)
_D = dict(stem="deep", stem_width=32, avg_down=True)
_SK_BASIC = dict(sk_rd_ratio=1 / 8, sk_rd_divisor=16, sk_split_input=True)

SE_RESNETS = {
    # The paper's networks, exactly as the official (Caffe) checkpoints were trained.
    "legacy_seresnet18": _legacy("basic", (2, 2, 2, 2)),
    "legacy_seresnet34": _legacy("basic", (3, 4, 6, 3)),
    "legacy_seresnet50": _legacy("bottleneck", (3, 4, 6, 3), stride_in_1x1=True),
    "legacy_seresnet101": _legacy("bottleneck", (3, 4, 23, 3), stride_in_1x1=True),
    "legacy_seresnet152": _legacy("bottleneck", (3, 8, 36, 3), stride_in_1x1=True),
    "legacy_seresnext26_32x4d": _legacy("bottleneck", (2, 2, 2, 2), **_SEXT),
    "legacy_seresnext50_32x4d": _legacy("bottleneck", (3, 4, 6, 3), **_SEXT),
    "legacy_seresnext101_32x4d": _legacy("bottleneck", (3, 4, 23, 3), **_SEXT),
    "legacy_senet154": _legacy("bottleneck", (3, 8, 36, 3), groups=64, width_per_group=4,
                               stem="deep", stem_width=64, down_kernel=3, reduce_first=2),
    # timm's lineage (`resnet.py`): stride on the 3x3, SE width make_divisible(C / 16, 8).
    "seresnet18": ResNetArch("basic", (2, 2, 2, 2)),
    "seresnet34": ResNetArch("basic", (3, 4, 6, 3)),
    "seresnet50": ResNetArch("bottleneck", (3, 4, 6, 3)),
    "seresnet101": ResNetArch("bottleneck", (3, 4, 23, 3)),
    "seresnet152": ResNetArch("bottleneck", (3, 8, 36, 3)),
    "seresnet152d": ResNetArch("bottleneck", (3, 8, 36, 3), **_D),
    "seresnet50t": ResNetArch("bottleneck", (3, 4, 6, 3), stem="deep_tiered", stem_width=32,
                              avg_down=True),
    "seresnetaa50d": ResNetArch("bottleneck", (3, 4, 6, 3), stem_pool="avg", anti_alias=True,
                                **_D),
    "seresnext26d_32x4d": ResNetArch("bottleneck", (2, 2, 2, 2), **_SEXT, **_D),
    "seresnext26t_32x4d": ResNetArch("bottleneck", (2, 2, 2, 2), **_SEXT, stem="deep_tiered",
                                     stem_width=32, avg_down=True),
    "seresnext50_32x4d": ResNetArch("bottleneck", (3, 4, 6, 3), **_SEXT),
    "seresnext101_32x4d": ResNetArch("bottleneck", (3, 4, 23, 3), **_SEXT),
    "seresnext101_32x8d": ResNetArch("bottleneck", (3, 4, 23, 3), groups=32, width_per_group=8),
    "seresnext101d_32x8d": ResNetArch("bottleneck", (3, 4, 23, 3), groups=32,
                                      width_per_group=8, **_D),
    "seresnext101_64x4d": ResNetArch("bottleneck", (3, 4, 23, 3), groups=64, width_per_group=4),
    "seresnextaa101d_32x8d": ResNetArch("bottleneck", (3, 4, 23, 3), groups=32,
                                        width_per_group=8, stem_pool="avg", anti_alias=True,
                                        **_D),
    "seresnextaa201d_32x8d": ResNetArch("bottleneck", (3, 24, 36, 4), groups=32,
                                        width_per_group=8, stem="deep", stem_width=64,
                                        avg_down=True, stem_pool="avg", anti_alias=True),
    "senet154": ResNetArch("bottleneck", (3, 8, 36, 3), groups=64, width_per_group=4,
                           stem="deep", stem_width=64, down_kernel=3, reduce_first=2),
}

SKNETS = {
    # Selective Kernel networks (timm `sknet.py`); SKNet-50 is skresnext50_32x4d.
    "skresnet18": _sk("sk_basic", (2, 2, 2, 2), **_SK_BASIC),
    "skresnet34": _sk("sk_basic", (3, 4, 6, 3), **_SK_BASIC),
    "skresnet50": _sk("sk_bottleneck", (3, 4, 6, 3), sk_split_input=True, sk_rd_divisor=8),
    "skresnet50d": _sk("sk_bottleneck", (3, 4, 6, 3), sk_split_input=True, sk_rd_divisor=8,
                       **_D),
    "skresnext50_32x4d": _sk("sk_bottleneck", (3, 4, 6, 3), **_SEXT),
    "skresnext101_32x4d": _sk("sk_bottleneck", (3, 4, 23, 3), **_SEXT),
}

# Public constructor (keras_senet.applications) -> the row it builds.
CONSTRUCTORS = {
    "SEResNet18": "legacy_seresnet18",
    "SEResNet34": "legacy_seresnet34",
    "SEResNet50": "legacy_seresnet50",
    "SEResNet101": "legacy_seresnet101",
    "SEResNet152": "legacy_seresnet152",
    "SEResNeXt26": "legacy_seresnext26_32x4d",
    "SEResNeXt50": "legacy_seresnext50_32x4d",
    "SEResNeXt101": "legacy_seresnext101_32x4d",
    "SENet154": "legacy_senet154",
    "SKNet50": "skresnext50_32x4d",
    "SKNet101": "skresnext101_32x4d",
    "SKResNet18": "skresnet18",
    "SKResNet34": "skresnet34",
}

# The papers' ImageNet figures (single 224 crop, top-1 error %, GFLOPs as multiply-adds):
# the SENet paper's Table 2 and the SKNet paper's Table 2.
PAPER = {
    "legacy_seresnet50": dict(top1_err=23.29, gflops=3.87),
    "legacy_seresnet101": dict(top1_err=22.38, gflops=7.60),
    "legacy_seresnet152": dict(top1_err=21.57, gflops=11.32),
    "legacy_seresnext50_32x4d": dict(top1_err=21.10, gflops=4.25),
    "legacy_seresnext101_32x4d": dict(top1_err=20.70, gflops=8.00),
    "legacy_senet154": dict(top1_err=18.68, gflops=20.7),
    "skresnext50_32x4d": dict(top1_err=20.79, params_m=27.5, gflops=4.47),
    "skresnext101_32x4d": dict(top1_err=20.19, params_m=48.9, gflops=8.46),
}
