"""Model name -> architecture, builder, checkpoints and defaults: the one table every
entry point reads. Imports nothing from the package.

Each family registers its rows when `keras_senet.models` is imported, which
`import keras_senet` does.
"""

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered architecture.

    Attributes:
        name: registry name (timm's where timm has the model, e.g. "legacy_seresnet50").
        family: the family's name ("se_resnet", "sknet", "se_inception", "se_mobile",
            "se_vgg", "cifar"); its public module is `keras_senet.applications.<family>`.
        builder: `builder(inputs, config) -> [stage feature maps]`, shallowest first
            (strides 4, 8, 16, 32; the CIFAR networks: 1, 2, 4).
        config: the family's config row, handed to `builder`.
        default_size: input size of the default weights (and of `include_top` models).
        min_size: smallest accepted input height / width.
        constructor: the public constructor building this architecture, if any.
        aliases: other names that resolve to this row.
        preprocessing: "torch" (ImageNet mean / std on [0, 1]) or "in_model" (the model
            normalises 0..255 pixels itself).
        paper: figures reported by the paper, {"params_m": .., "gflops": .., "top1_err": ..}.
        drop_rate: dropout before the classifier.
        num_classes: classifier width when `classes` is not given (1000 for ImageNet
            families, 10 for CIFAR).
        head: the family's own classifier, `head(x, config, include_top, pooling, classes,
            classifier_activation)` (VGG's fc1 / fc2); None for keras.applications' head
            (`avg_pool` -> `predictions`).
        checkpoints: the architecture's pretrained `WeightSource` rows, default first.
        reference_names: `reference_names(config) -> (prefix_rule, head_prefixes)`, the
            naming rule from Keras layer names to the reference (timm) checkpoint's module
            paths; None where no reference checkpoint converts to this architecture.
    """

    name: str
    family: str
    builder: Callable
    config: object
    default_size: int = 224
    min_size: int = 32
    constructor: str | None = None
    aliases: tuple = ()
    preprocessing: str = "torch"
    paper: dict = dataclasses.field(default_factory=dict)
    drop_rate: float = 0.0
    num_classes: int = 1000
    head: Callable | None = None
    checkpoints: tuple = ()
    reference_names: Callable | None = None


_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec):
    """Adds a `ModelSpec` (and its aliases) to the registry; names must be new."""
    for key in (spec.name, *spec.aliases):
        if key in _REGISTRY or key in _ALIASES:
            raise ValueError(f"Model name {key!r} is registered twice.")
    for source in spec.checkpoints:
        if source.arch != spec.name:
            raise ValueError(f"The checkpoint row {source.full_name} is registered under "
                             f"{spec.name!r}; a row belongs to the architecture it names.")
    _REGISTRY[spec.name] = spec
    for alias in spec.aliases:
        _ALIASES[alias] = spec.name
    return spec


def list_models(family=None):
    """Sorted registry names, optionally of one family ("se_resnet", "sknet", ...)."""
    return sorted(n for n, s in _REGISTRY.items() if family is None or s.family == family)


def split_name(name):
    """"seresnext50_32x4d.gluon_in1k" -> ("seresnext50_32x4d", "gluon_in1k"); no tag -> None."""
    arch, _, tag = name.partition(".")
    return arch, tag or None


def get_spec(name):
    """The `ModelSpec` of a registry name or alias (a ".tag" suffix is ignored).

    Raises:
        ValueError: the name is not a string, or is unknown; the message lists close
            matches.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"The model name must be a registry name such as 'seresnet50' or "
            f"'seresnext50_32x4d.gluon_in1k'; received {name!r}. `keras_senet.list_models()` "
            "lists them all.")
    arch, _ = split_name(name)
    arch = _ALIASES.get(arch, arch)
    if arch not in _REGISTRY:
        import difflib
        close = difflib.get_close_matches(arch, list(_REGISTRY) + list(_ALIASES), n=5)
        hint = f" Did you mean one of {close}?" if close else ""
        raise ValueError(
            f"Unknown model name {name!r}.{hint} `keras_senet.list_models()` lists all "
            f"{len(_REGISTRY)} registered names.")
    return _REGISTRY[arch]


def sources_for(name):
    """The pretrained checkpoints (`WeightSource`) of an architecture, default first."""
    return tuple(get_spec(name).checkpoints)


def find_source(name, tag=None):
    """The checkpoint `name.tag`: the default ImageNet-1k one when `tag` is None or
    "imagenet"; None when there is none."""
    sources = sources_for(name)
    if tag in (None, "imagenet"):
        return next((s for s in sources if s.num_classes == 1000), None)
    return next((s for s in sources if s.tag == tag), None)
