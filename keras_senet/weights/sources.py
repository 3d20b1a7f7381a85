"""Where each architecture's pretrained weights come from, and how they were evaluated.

The rows mirror timm's `pretrained_cfgs` (timm 1.0.31): hub id, file, evaluation transform,
licence; `top1` is timm's published ImageNet-1k validation top-1 (results-imagenet.csv),
quoted as theirs, not measured here.

How each kind of row is verified (keras_senet.weights.resolve):
    Hugging Face rows (`hub_repo` set)  sha256 the Hub reports for the file (its ETag)
    `.pth` release rows                 the sha256 prefix in the file's name
    packaged rows                       the full sha256 recorded here
"""

import dataclasses

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HF_HUB = "https://huggingface.co"


@dataclasses.dataclass(frozen=True)
class EvalTransform:
    """The evaluation transform a checkpoint was measured with.

    Resize the shorter side to `round(input_size / crop_pct)` with `interpolation`, centre
    crop `input_size` x `input_size`, scale RGB to [0, 1], subtract `mean`, divide by `std`.
    """

    input_size: int = 224
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    @property
    def resize_size(self):
        return int(round(self.input_size / self.crop_pct))


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """One pretrained checkpoint of one architecture.

    Attributes:
        arch: registry name of the architecture.
        tag: timm's pretrained tag ("in1k", "a1_in1k", ...).
        url: where the file is downloaded from.
        file_name: name of the downloaded file in the cache.
        file_format: "safetensors", "pth" or "keras_safetensors" (packaged, Keras layout).
        sha256: full sha256 of the file, or a prefix of it (the `.pth` release names carry
            one). None only for Hugging Face rows, which are checked against the sha256 the
            Hub reports for the file at download time; every other row needs one.
        num_classes: classifier width.
        transform: the evaluation transform.
        license: the weights' licence.
        top1: timm's reported ImageNet top-1 (%), None where timm reports none; for the
            weights this project trained (`packaged_source`), the measured validation
            top-1 (%) on the held-out split named in weights/manifest.json.
        hub_repo: the Hugging Face repository ("timm/seresnet50.a1_in1k") for rows fetched
            with `huggingface_hub` into its shared cache; None for plain-URL rows.
        hub_file: the file inside `hub_repo`.
        hub_revision: the branch, tag or commit of `hub_repo`.
    """

    arch: str
    tag: str
    url: str
    file_name: str
    file_format: str = "safetensors"
    sha256: str | None = None
    num_classes: int = 1000
    transform: EvalTransform = EvalTransform()
    license: str = "apache-2.0"
    top1: float | None = None
    hub_repo: str | None = None
    hub_file: str = "model.safetensors"
    hub_revision: str = "main"

    def __post_init__(self):
        if self.hub_repo is None and not self.sha256:
            raise ValueError(
                f"The {self.arch}.{self.tag} weights from {self.url} have no sha256: a "
                "download that cannot be verified is never loaded. Give its sha256 (or a "
                "prefix of it), or host it on the Hugging Face hub (`hub_repo`).")

    @property
    def full_name(self):
        return f"{self.arch}.{self.tag}"


# Models that normalise 0..255 pixels themselves (the CIFAR networks): mean 0 and std 1/255
# make the transform's `(x / 255 - mean) / std` hand them the raw pixels.
IN_MODEL_TRANSFORM = EvalTransform(input_size=32, crop_pct=1.0, mean=(0.0, 0.0, 0.0),
                                   std=(1 / 255,) * 3)
PACKAGE_SCHEME = "package:"


def packaged_source(arch, tag, sha256, top1, num_classes=10, transform=IN_MODEL_TRANSFORM):
    """Weights this project trained, shipped inside the package (no download).

    The file is `keras_senet/weights/<tag>/<arch>.<tag>.safetensors` in Keras layout
    ({variable path: array}); weights/manifest.json records how each was trained.
    """
    file_name = f"{arch}.{tag}.safetensors"
    return WeightSource(arch, tag, url=f"{PACKAGE_SCHEME}keras_senet/weights/{tag}/{file_name}",
                        file_name=file_name, file_format="keras_safetensors", sha256=sha256,
                        num_classes=num_classes, transform=transform, top1=top1)


def hf_source(arch, tag, repo=None, **kwargs):
    """A checkpoint on the Hugging Face hub under `timm/<arch>.<tag>` (or `repo`), downloaded
    with `huggingface_hub` and checked against the sha256 the Hub reports for it."""
    repo = repo or f"timm/{arch}.{tag}"
    return WeightSource(
        arch, tag, url=f"{HF_HUB}/{repo}/resolve/main/model.safetensors",
        file_name=f"{arch}.{tag}.safetensors", hub_repo=repo, **kwargs)


def pth_source(arch, tag, url, **kwargs):
    """A torch `.pth` release file; its name ends in `-<sha256 prefix>.pth`."""
    file_name = url.rsplit("/", 1)[-1]
    prefix = file_name.rsplit("-", 1)[-1].split(".")[0]
    return WeightSource(arch, tag, url=url, file_name=file_name, file_format="pth",
                        sha256=prefix, **kwargs)


# Filled from timm's pretrained_cfgs; the first tag of each architecture is its default.
# `top1` is quoted only where results-imagenet.csv has a row at the evaluation `input_size`;
# most newer timm weights are listed there only at their larger test resolution, noted per row.
SOURCES: dict[str, list[WeightSource]] = {
    # --- senet.py: the legacy (Cadene / rwightman) SENet ports, `.pth` release files ---
    "legacy_seresnet18": [
        pth_source("legacy_seresnet18", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet18-4bb0ce65.pth",
                   transform=EvalTransform(interpolation="bicubic"), top1=71.766),
    ],
    "legacy_seresnet34": [
        pth_source("legacy_seresnet34", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet34-a4004e63.pth",
                   top1=74.808),
    ],
    "legacy_seresnet50": [
        pth_source("legacy_seresnet50", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/se_resnet50-ce0d4300.pth",
                   top1=77.644),
    ],
    "legacy_seresnet101": [
        pth_source("legacy_seresnet101", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/se_resnet101-7e38fcc6.pth",
                   top1=78.386),
    ],
    "legacy_seresnet152": [
        pth_source("legacy_seresnet152", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/se_resnet152-d17c99b7.pth",
                   top1=78.660),
    ],
    "legacy_seresnext26_32x4d": [
        pth_source("legacy_seresnext26_32x4d", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnext26_32x4d-65ebdb501.pth",
                   transform=EvalTransform(interpolation="bicubic"), top1=77.108),
    ],
    "legacy_seresnext50_32x4d": [
        pth_source("legacy_seresnext50_32x4d", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/legacy_se_resnext50_32x4d-f3651bad.pth",
                   top1=79.076),
    ],
    "legacy_seresnext101_32x4d": [
        pth_source("legacy_seresnext101_32x4d", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/legacy_se_resnext101_32x4d-37725eac.pth",
                   top1=80.230),
    ],
    "legacy_senet154": [
        pth_source("legacy_senet154", "in1k",
                   "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/legacy_senet154-e9eb9fe6.pth",
                   top1=81.308),
    ],
    # --- resnet.py: SE-ResNet / SE-ResNeXt / SENet-154, on the Hugging Face hub ---
    # seresnet18, seresnet34, seresnet101, seresnet152: no pretrained weights in timm.
    "seresnet50": [
        hf_source("seresnet50", "a1_in1k",  # csv: 81.102 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnet50", "a2_in1k",  # csv: 81.106 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnet50", "a3_in1k",  # csv: 77.028 at 224 only
                  transform=EvalTransform(input_size=160, crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnet50", "ra2_in1k",  # csv: 81.284 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
    ],
    "seresnet152d": [
        hf_source("seresnet152d", "ra2_in1k",  # csv: 84.360 at 320 only
                  transform=EvalTransform(input_size=256, crop_pct=0.95, interpolation="bicubic")),
    ],
    "seresnext26d_32x4d": [
        hf_source("seresnext26d_32x4d", "bt_in1k",  # csv: 78.814 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
    ],
    "seresnext26t_32x4d": [
        hf_source("seresnext26t_32x4d", "bt_in1k",  # csv: 78.744 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
    ],
    "seresnext50_32x4d": [
        hf_source("seresnext50_32x4d", "racm_in1k",  # csv: 82.196 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
        hf_source("seresnext50_32x4d", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=79.910),
    ],
    "seresnext101_32x4d": [
        hf_source("seresnext101_32x4d", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=80.892),
    ],
    "seresnext101_32x8d": [
        hf_source("seresnext101_32x8d", "ah_in1k",  # csv: 84.186 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
    ],
    "seresnext101d_32x8d": [
        hf_source("seresnext101d_32x8d", "ah_in1k",  # csv: 84.358 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
    ],
    "seresnext101_64x4d": [
        hf_source("seresnext101_64x4d", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=80.896),
    ],
    "seresnextaa101d_32x8d": [
        hf_source("seresnextaa101d_32x8d", "sw_in12k_ft_in1k_288",  # csv: 86.724 at 320 only
                  transform=EvalTransform(input_size=288, crop_pct=0.95, interpolation="bicubic")),
        hf_source("seresnextaa101d_32x8d", "sw_in12k_ft_in1k",  # csv: 86.484 at 288 only
                  transform=EvalTransform(interpolation="bicubic")),
        # "sw_in12k" (11821-class ImageNet-12k head) is left out: not an ImageNet-1k classifier.
        hf_source("seresnextaa101d_32x8d", "ah_in1k",  # csv: 84.566 at 288 only
                  transform=EvalTransform(crop_pct=0.95, interpolation="bicubic")),
    ],
    "senet154": [
        hf_source("senet154", "gluon_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=81.226),
    ],
    # --- sknet.py: Selective Kernel networks, on the Hugging Face hub ---
    # skresnet50, skresnet50d: no pretrained weights in timm.
    "skresnet18": [
        hf_source("skresnet18", "ra_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=73.038),
    ],
    "skresnet34": [
        hf_source("skresnet34", "ra_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=76.910),
    ],
    "skresnext50_32x4d": [
        hf_source("skresnext50_32x4d", "ra_in1k",
                  transform=EvalTransform(interpolation="bicubic"), top1=80.162),
    ],
    # --- trained by this project (weights/manifest.json), shipped inside the package ---
    # top1: validation top-1 (%) on the last 500 images of each CIFAR-10 class.
    "resnet20_cifar": [
        packaged_source("resnet20_cifar", "cifar10", top1=84.86, sha256=(
            "7ed045225d6539f06ea3db993c8fad46014e29fc3111245dfdb428401bf6b8a4")),
    ],
    "se_resnet20_cifar": [
        packaged_source("se_resnet20_cifar", "cifar10", top1=85.20, sha256=(
            "5a6ead059344ffe2ca7f963063de0696651eef09a0faa52b7be99083e71758a5")),
    ],
}


def sources_for(arch):
    """The checkpoints of an architecture, default first (empty if none)."""
    return SOURCES.get(arch, [])


def find_source(arch, tag=None):
    """The checkpoint `arch.tag` (the default ImageNet one when `tag` is None or
    "imagenet"; None when there is none)."""
    sources = sources_for(arch)
    if not sources:
        return None
    if tag in (None, "imagenet"):  # the first ImageNet-1k checkpoint
        return next((s for s in sources if s.num_classes == 1000), None)
    for source in sources:
        if source.tag == tag:
            return source
    return None
