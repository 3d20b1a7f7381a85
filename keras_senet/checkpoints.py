"""What a pretrained checkpoint row is: `WeightSource`, its `EvalTransform`, and the row
constructors each family's checkpoint table is written with. Imports nothing of the package.

The rows (in `keras_senet/models/<family>/`) mirror timm's `pretrained_cfgs` (timm 1.0.31):
hub id, file, evaluation transform, licence; `top1` is timm's published ImageNet-1k
validation top-1 (results-imagenet.csv), quoted as theirs, not measured here.

How each kind of row is verified (keras_senet.weights.fetch):
    Hugging Face rows (`hub_repo` set)  sha256 the Hub reports for the file (its ETag)
    `.pth` release rows                 the sha256 prefix in the file's name
    packaged rows                       the full sha256 recorded here
"""

import dataclasses
import math

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HF_HUB = "https://huggingface.co"


@dataclasses.dataclass(frozen=True)
class EvalTransform:
    """The evaluation transform a checkpoint was measured with.

    Resize the shorter side to `floor(input_size / crop_pct)` with `interpolation`, centre
    crop `input_size` x `input_size`, scale RGB to [0, 1], subtract `mean`, divide by `std`.
    """

    input_size: int = 224
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    def scaled(self, side):
        """The length a side of `side` pixels is resized to before the crop:
        `floor(side / crop_pct)`, timm's rule (224 at 0.95 -> 235)."""
        return math.floor(side / self.crop_pct)

    @property
    def resize_size(self):
        return self.scaled(self.input_size)


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
