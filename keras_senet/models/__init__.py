"""Every family's architecture, table and checkpoints; importing this registers them all.

One folder per family: resnet (SE-ResNet, SE-ResNeXt, SENet-154 and the SK-ResNets),
inception, mobile, vgg, cifar. Each imports only `keras_senet.layers`, `keras_senet.registry`
and `keras_senet.checkpoints`.
"""

from keras_senet.models import cifar, inception, mobile, resnet, vgg  # noqa: F401
