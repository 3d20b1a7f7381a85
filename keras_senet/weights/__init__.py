"""Pretrained weights, generic over families (a row of `ModelSpec.checkpoints` says it all):

    resolve        `weights=`: check the argument, load it into a built model
    fetch          download a row's file once, verify its sha256 on every use
    convert        reference (timm) state dict -> Keras variables, by the family's naming rule
    cache          the converted-weights cache
    checkpoint_io  read / write safetensors and .pth files
"""
