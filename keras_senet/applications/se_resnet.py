"""SE-ResNet, SE-ResNeXt and SENet-154: the SENet paper's ImageNet networks.

Paper: Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv:1709.01507).
Reference: timm `models/senet.py` (the official Caffe models) and `models/resnet.py`;
weights: timm's `legacy_*.in1k` (official) and timm's own `seresnet*` / `seresnext*`.
"""

from keras_senet import registry
from keras_senet.applications._common import make_constructor
from keras_senet.applications.imagenet_utils import decode_predictions, preprocess_input
from keras_senet.models.resnet import ARCHS, build_resnet

# The paper's ImageNet figures (single 224 crop, top-1 error %, GFLOPs as multiply-adds).
_PAPER = {
    "legacy_seresnet50": dict(top1_err=23.29, gflops=3.87),
    "legacy_seresnet101": dict(top1_err=22.38, gflops=7.60),
    "legacy_seresnet152": dict(top1_err=21.57, gflops=11.32),
    "legacy_seresnext50_32x4d": dict(top1_err=21.10, gflops=4.25),
    "legacy_seresnext101_32x4d": dict(top1_err=20.70, gflops=8.00),
    "legacy_senet154": dict(top1_err=18.68, gflops=20.7),
}

# Public constructor -> (architecture, default Keras model name).
CONSTRUCTORS = {
    "SEResNet18": ("legacy_seresnet18", "seresnet18"),
    "SEResNet34": ("legacy_seresnet34", "seresnet34"),
    "SEResNet50": ("legacy_seresnet50", "seresnet50"),
    "SEResNet101": ("legacy_seresnet101", "seresnet101"),
    "SEResNet152": ("legacy_seresnet152", "seresnet152"),
    "SEResNeXt26": ("legacy_seresnext26_32x4d", "seresnext26"),
    "SEResNeXt50": ("legacy_seresnext50_32x4d", "seresnext50"),
    "SEResNeXt101": ("legacy_seresnext101_32x4d", "seresnext101"),
    "SENet154": ("legacy_senet154", "senet154"),
}
_CONSTRUCTOR_OF = {arch: ctor for ctor, (arch, _) in CONSTRUCTORS.items()}

for _arch, _config in ARCHS.items():
    if _config.block.startswith("sk_"):
        continue
    registry.register(registry.ModelSpec(
        name=_arch, family="se_resnet", builder=build_resnet, config=_config,
        constructor=_CONSTRUCTOR_OF.get(_arch), paper=_PAPER.get(_arch, {}),
        drop_rate=_config.drop_rate))

_DOC = """Instantiates the {title} architecture ({arch}).

    Reference: Hu et al., "Squeeze-and-Excitation Networks" (CVPR 2018). Pretrained
    weights: timm `{arch}` ({weights}). Inputs are RGB images normalised with
    `keras_senet.applications.se_resnet.preprocess_input` ("torch" mode).

    Args:
        include_top: whether to include the global pooling and the classifier.
        weights: `None` (random), `"imagenet"` (the default checkpoint), a pretrained tag
            of the architecture, or the path to a `.weights.h5`, `.keras`, `.safetensors`
            or `.pth` file.
        input_tensor: optional Keras tensor to use as image input.
        input_shape: optional (H, W, 3) shape; with `include_top=False` any size >= 32,
            `None` for variable sizes. Defaults to ({size}, {size}, 3).
        pooling: `None` (4D feature map), `"avg"` or `"max"` when `include_top=False`.
        classes: number of classes; 1000 with ImageNet weights and the top.
        classifier_activation: activation of the `predictions` layer (`None` for logits).
        name: the model's name.

    Returns:
        A `keras.Model`: (B, H, W, 3) -> (B, classes), or (B, H/32, W/32, {features})
        without the top, (B, {features}) with pooling.
    """


def _make_constructor(ctor_name, arch, default_name, module=__name__):
    doc = _DOC.format(title=ctor_name, arch=arch, weights=f"{arch}.in1k", size=224,
                      features=ARCHS[arch].num_features)
    return make_constructor(ctor_name, arch, default_name, doc, module)


for _ctor, (_arch, _default_name) in CONSTRUCTORS.items():
    globals()[_ctor] = _make_constructor(_ctor, _arch, _default_name)

__all__ = [*CONSTRUCTORS, "preprocess_input", "decode_predictions"]
