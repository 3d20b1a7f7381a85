"""Naming rule: Keras layer names of the ResNet family -> timm module paths, by the row's
`lineage`.

Three lineages: timm `senet.py` (legacy_*: `layer0.*`, `se_module`, `last_linear`),
timm `resnet.py` (`conv1`, `bn1`, `se`, `fc`) and timm `sknet.py` (resnet.py's names, with
`ConvNormAct` blocks: `conv1.conv`, `conv1.bn`).
"""

import re

_BLOCK = re.compile(r"conv(\d)_block(\d+)_(\w+)$")
_DEEP_STEM_TIMM = {"1_conv": "conv1.0", "1_bn": "conv1.1", "2_conv": "conv1.3",
                   "2_bn": "conv1.4", "3_conv": "conv1.6", "3_bn": "bn1"}


def reference_names(arch):
    """`(rule, head_prefixes)` for a `ResNetArch`: `rule(layer_name)` -> timm module path
    (None for layers without parameters in timm), and the classifier's key prefixes."""
    legacy = arch.lineage == "senet"
    sk = arch.lineage == "sknet"

    def stem(op):
        if op in ("conv", "bn"):  # 7x7 stem: conv1_conv, conv1_bn
            return f"layer0.{op}1" if legacy else {"conv": "conv1", "bn": "bn1"}[op]
        if legacy:
            index, kind = op.split("_")
            return f"layer0.{kind}{index}"
        return _DEEP_STEM_TIMM.get(op)

    def block(stage, index, op):
        base = f"layer{stage - 1}.{index - 1}"
        if op == "se":
            return f"{base}.se_module" if legacy else f"{base}.se"
        if op.startswith("0_"):
            kind = op[2:]
            position = {"conv": 0, "bn": 1}[kind] + (1 if arch.avg_down else 0)
            return f"{base}.downsample.{position}"
        conv_index, kind = op.split("_")
        if kind == "sk":
            return f"{base}.conv{conv_index}"
        if sk:
            return f"{base}.conv{conv_index}.{kind}"
        return f"{base}.{kind}{conv_index}"

    def rule(layer_name):
        if layer_name == "predictions":
            return "last_linear" if legacy else "fc"
        if layer_name.startswith("conv1_"):
            return stem(layer_name[len("conv1_"):])
        match = _BLOCK.match(layer_name)
        if match:
            return block(int(match[1]), int(match[2]), match[3])
        return None

    return rule, ("last_linear.",) if legacy else ("fc.",)
