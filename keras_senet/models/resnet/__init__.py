"""The ResNet family: SE-ResNet, SE-ResNeXt, SENet-154 (the SENet paper and timm's lineage)
and the SK-ResNets (the SKNet paper), built from one block set and one table.

    architecture.py   `ResNetArch`, the blocks and the trunk (layer names documented there)
    variants.py       the table: one row per variant, its constructor and paper figures
    checkpoints.py    the pretrained rows (timm's pretrained_cfgs)
    timm_names.py     the naming rule of each lineage's checkpoints
"""

from keras_senet import registry
from keras_senet.models.resnet.architecture import ResNetArch, build_resnet
from keras_senet.models.resnet.checkpoints import CHECKPOINTS
from keras_senet.models.resnet.timm_names import reference_names
from keras_senet.models.resnet.variants import CONSTRUCTORS, PAPER, SE_RESNETS, SKNETS

ARCHS = {**SE_RESNETS, **SKNETS}
_CONSTRUCTOR_OF = {arch: constructor for constructor, arch in CONSTRUCTORS.items()}

for _family, _table in (("se_resnet", SE_RESNETS), ("sknet", SKNETS)):
    for _name, _arch in _table.items():
        registry.register(registry.ModelSpec(
            name=_name, family=_family, builder=build_resnet, config=_arch,
            constructor=_CONSTRUCTOR_OF.get(_name), paper=PAPER.get(_name, {}),
            drop_rate=_arch.drop_rate, checkpoints=CHECKPOINTS.get(_name, ()),
            reference_names=reference_names))

__all__ = ["ARCHS", "ResNetArch", "build_resnet"]
