"""SE-BN-Inception and SE-Inception-v3: SE after every whole Inception module.

Papers: Ioffe & Szegedy, "Batch Normalization" (2015) for BN-Inception (the SENet paper's
"SE-Inception" baseline); Szegedy et al., "Rethinking the Inception Architecture" (2016);
Hu et al., "Squeeze-and-Excitation Networks" (2018), Fig. 2: the SE block recalibrates the
output of the whole Inception module. References: the Caffe BN-Inception (`inception_3a` ..
`inception_5b`, 1024 features) and keras.applications `InceptionV3` (`mixed0` .. `mixed10`).

Layer names (stable, position only):
    BN-Inception  conv1_{conv,bn,relu}, pool1_{pad,pool}, conv2_reduce_*, conv2_*, pool2_*
                  inception_{3a..5b}_{1x1, 3x3_reduce, 3x3, double_3x3_reduce,
                  double_3x3_1, double_3x3_2, pool_proj}_{conv,bn,relu}, _pool, _concat, _se
    Inception-v3  conv1..conv5_{conv,bn,relu}, pool1, pool2,
                  mixed{0..10}_{branch}_{i}_{conv,bn,relu}, mixed{i}_pool, mixed{i} (concat),
                  mixed{i}_se
A module's output is its `_se` layer (or its concat without SE).
"""

import dataclasses

from keras import layers

from keras_senet.layers import PAPER_SE, SEConfig, attach_se
from keras_senet.layers.conv import conv_bn, keras_conv_bn, max_pool_3x3_s2

# --------------------------------------------------------------------------- BN-Inception


@dataclasses.dataclass(frozen=True)
class BNInceptionModule:
    """One row of BN-Inception (Ioffe & Szegedy 2015, Fig. 5).

    Attributes:
        name: "inception_3a" ...
        b1x1: width of the 1x1 branch (0: none, the strided modules).
        b3x3: (reduce, out) of the 1x1 -> 3x3 branch.
        double: (reduce, out) of the 1x1 -> 3x3 -> 3x3 branch.
        pool: "avg" | "max", 3x3.
        pool_proj: width of the 1x1 after the pool (0: pass-through, strided modules).
        stride: 2 for the reduction modules 3c and 4e.
    """

    name: str
    b1x1: int
    b3x3: tuple
    double: tuple
    pool: str
    pool_proj: int
    stride: int = 1


BN_INCEPTION_MODULES = (
    BNInceptionModule("inception_3a", 64, (64, 64), (64, 96), "avg", 32),
    BNInceptionModule("inception_3b", 64, (64, 96), (64, 96), "avg", 64),
    BNInceptionModule("inception_3c", 0, (128, 160), (64, 96), "max", 0, stride=2),
    BNInceptionModule("inception_4a", 224, (64, 96), (96, 128), "avg", 128),
    BNInceptionModule("inception_4b", 192, (96, 128), (96, 128), "avg", 128),
    BNInceptionModule("inception_4c", 160, (128, 160), (128, 160), "avg", 128),
    BNInceptionModule("inception_4d", 96, (128, 192), (160, 192), "avg", 128),
    BNInceptionModule("inception_4e", 0, (128, 192), (192, 256), "max", 0, stride=2),
    BNInceptionModule("inception_5a", 352, (192, 320), (160, 224), "avg", 128),
    BNInceptionModule("inception_5b", 352, (192, 320), (192, 224), "max", 128),
)
# Outputs at strides 8, 16, 32 (stride 4 is the stem's conv2).
BN_INCEPTION_FEATURES = ("inception_3b", "inception_4d", "inception_5b")


@dataclasses.dataclass(frozen=True)
class BNInceptionArch:
    """BN-Inception with or without SE.

    Attributes:
        modules: the `BNInceptionModule` rows.
        se: the SE after every module (`SEConfig`), None for plain BN-Inception.
    """

    modules: tuple = BN_INCEPTION_MODULES
    se: SEConfig | None = PAPER_SE

    @property
    def num_features(self):
        last = self.modules[-1]
        return last.b1x1 + last.b3x3[1] + last.double[1] + last.pool_proj


def bn_inception_module(x, row, arch):
    """Four branches -> concat (`{name}_concat`) -> SE (`{name}_se`).

    (B, H, W, C) -> (B, H / stride, W / stride, sum of the branch widths [+ C if pass-through]).
    """
    name, stride = row.name, row.stride
    branches = []
    if row.b1x1:
        branches.append(conv_bn(x, row.b1x1, 1, name=f"{name}_1x1"))
    b = conv_bn(x, row.b3x3[0], 1, name=f"{name}_3x3_reduce")
    branches.append(conv_bn(b, row.b3x3[1], 3, stride=stride, name=f"{name}_3x3"))
    b = conv_bn(x, row.double[0], 1, name=f"{name}_double_3x3_reduce")
    b = conv_bn(b, row.double[1], 3, name=f"{name}_double_3x3_1")
    branches.append(conv_bn(b, row.double[1], 3, stride=stride, name=f"{name}_double_3x3_2"))
    if stride > 1:
        # Padding 1, floor mode: the same size as the strided convs for every input size
        # (the Caffe model's ceil-mode pool without padding disagrees with them on odd sizes).
        b = max_pool_3x3_s2(x, ceil_mode=False, name=f"{name}_pool")
    elif row.pool == "avg":  # Caffe / PyTorch: padding 1, padded zeros counted
        b = layers.ZeroPadding2D(1, name=f"{name}_pool_pad")(x)
        b = layers.AveragePooling2D(3, strides=1, name=f"{name}_pool")(b)
    else:
        b = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branches.append(conv_bn(b, row.pool_proj, 1, name=f"{name}_pool_proj")
                    if row.pool_proj else b)
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    return attach_se(x, arch.se, name=f"{name}_se")


def build_bn_inception(inputs, arch):
    """BN-Inception trunk.

    Args:
        inputs: (B, H, W, 3).
        arch: a `BNInceptionArch`.

    Returns:
        Feature maps at strides 4, 8, 16, 32 (conv2, inception_3b, 4d, 5b); the last has
        1024 channels.
    """
    x = conv_bn(inputs, 64, 7, stride=2, name="conv1")
    x = max_pool_3x3_s2(x, ceil_mode=True, name="pool1")
    x = conv_bn(x, 64, 1, name="conv2_reduce")
    x = conv_bn(x, 192, 3, name="conv2")
    features = [x]
    x = max_pool_3x3_s2(x, ceil_mode=True, name="pool2")
    for row in arch.modules:
        x = bn_inception_module(x, row, arch)
        if row.name in BN_INCEPTION_FEATURES:
            features.append(x)
    return features


# --------------------------------------------------------------------------- Inception-v3


@dataclasses.dataclass(frozen=True)
class InceptionV3Arch:
    """keras.applications InceptionV3 with or without SE after every `mixed` module.

    Attributes:
        se: the SE after mixed0 .. mixed10 (`SEConfig`), None for plain Inception-v3.
    """

    se: SEConfig | None = PAPER_SE
    num_features: int = 2048


def _finish(branches, arch, name):
    x = layers.Concatenate(name=name)(branches)
    return attach_se(x, arch.se, name=f"{name}_se")


def _avg_pool_proj(x, filters, name):
    b = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return keras_conv_bn(b, filters, 1, name=f"{name}_pool_proj")


def _module_a(x, pool_filters, arch, name):  # 35x35: mixed0..2
    b1 = keras_conv_bn(x, 64, 1, name=f"{name}_1x1")
    b5 = keras_conv_bn(x, 48, 1, name=f"{name}_5x5_1")
    b5 = keras_conv_bn(b5, 64, 5, name=f"{name}_5x5_2")
    b3 = keras_conv_bn(x, 64, 1, name=f"{name}_3x3dbl_1")
    b3 = keras_conv_bn(b3, 96, 3, name=f"{name}_3x3dbl_2")
    b3 = keras_conv_bn(b3, 96, 3, name=f"{name}_3x3dbl_3")
    return _finish([b1, b5, b3, _avg_pool_proj(x, pool_filters, name)], arch, name)


def _module_b(x, arch, name):  # 35 -> 17: mixed3
    b3 = keras_conv_bn(x, 384, 3, stride=2, padding="valid", name=f"{name}_3x3")
    bd = keras_conv_bn(x, 64, 1, name=f"{name}_3x3dbl_1")
    bd = keras_conv_bn(bd, 96, 3, name=f"{name}_3x3dbl_2")
    bd = keras_conv_bn(bd, 96, 3, stride=2, padding="valid", name=f"{name}_3x3dbl_3")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return _finish([b3, bd, bp], arch, name)


def _module_c(x, width, arch, name):  # 17x17, factorised 7x7: mixed4..7
    b1 = keras_conv_bn(x, 192, 1, name=f"{name}_1x1")
    b7 = keras_conv_bn(x, width, 1, name=f"{name}_7x7_1")
    b7 = keras_conv_bn(b7, width, (1, 7), name=f"{name}_7x7_2")
    b7 = keras_conv_bn(b7, 192, (7, 1), name=f"{name}_7x7_3")
    bd = keras_conv_bn(x, width, 1, name=f"{name}_7x7dbl_1")
    for i, (filters, kernel) in enumerate(
            [(width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))], start=2):
        bd = keras_conv_bn(bd, filters, kernel, name=f"{name}_7x7dbl_{i}")
    return _finish([b1, b7, bd, _avg_pool_proj(x, 192, name)], arch, name)


def _module_d(x, arch, name):  # 17 -> 8: mixed8
    b3 = keras_conv_bn(x, 192, 1, name=f"{name}_3x3_1")
    b3 = keras_conv_bn(b3, 320, 3, stride=2, padding="valid", name=f"{name}_3x3_2")
    b7 = keras_conv_bn(x, 192, 1, name=f"{name}_7x7x3_1")
    b7 = keras_conv_bn(b7, 192, (1, 7), name=f"{name}_7x7x3_2")
    b7 = keras_conv_bn(b7, 192, (7, 1), name=f"{name}_7x7x3_3")
    b7 = keras_conv_bn(b7, 192, 3, stride=2, padding="valid", name=f"{name}_7x7x3_4")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return _finish([b3, b7, bp], arch, name)


def _module_e(x, arch, name):  # 8x8, expanded filter bank: mixed9, mixed10
    b1 = keras_conv_bn(x, 320, 1, name=f"{name}_1x1")
    b3 = keras_conv_bn(x, 384, 1, name=f"{name}_3x3_1")
    b3 = layers.Concatenate(name=f"{name}_3x3_concat")([
        keras_conv_bn(b3, 384, (1, 3), name=f"{name}_3x3_2a"),
        keras_conv_bn(b3, 384, (3, 1), name=f"{name}_3x3_2b")])
    bd = keras_conv_bn(x, 448, 1, name=f"{name}_3x3dbl_1")
    bd = keras_conv_bn(bd, 384, 3, name=f"{name}_3x3dbl_2")
    bd = layers.Concatenate(name=f"{name}_3x3dbl_concat")([
        keras_conv_bn(bd, 384, (1, 3), name=f"{name}_3x3dbl_3a"),
        keras_conv_bn(bd, 384, (3, 1), name=f"{name}_3x3dbl_3b")])
    return _finish([b1, b3, bd, _avg_pool_proj(x, 192, name)], arch, name)


def inception_v3_stem(inputs):
    """keras.applications' Inception stem: (B, 299, 299, 3) -> (B, 35, 35, 192).

    Returns:
        (stem output after pool2, the stride-4 map before pool2 (B, 71, 71, 192)).
    """
    x = keras_conv_bn(inputs, 32, 3, stride=2, padding="valid", name="conv1")
    x = keras_conv_bn(x, 32, 3, padding="valid", name="conv2")
    x = keras_conv_bn(x, 64, 3, name="conv3")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = keras_conv_bn(x, 80, 1, padding="valid", name="conv4")
    stride4 = keras_conv_bn(x, 192, 3, padding="valid", name="conv5")
    return layers.MaxPooling2D(3, strides=2, name="pool2")(stride4), stride4


def build_inception_v3(inputs, arch):
    """Inception-v3 trunk (keras.applications layout).

    Args:
        inputs: (B, H, W, 3), H, W >= 75.
        arch: an `InceptionV3Arch`.

    Returns:
        Feature maps at strides ~4, 8, 16, 32: conv5 (71x71 at 299), mixed2 (35x35),
        mixed7 (17x17), mixed10 (8x8, 2048 channels).
    """
    x, stride4 = inception_v3_stem(inputs)
    features = [stride4]
    for i, pool_filters in enumerate((32, 64, 64)):
        x = _module_a(x, pool_filters, arch, f"mixed{i}")
    features.append(x)
    x = _module_b(x, arch, "mixed3")
    for i, width in enumerate((128, 160, 160, 192), start=4):
        x = _module_c(x, width, arch, f"mixed{i}")
    features.append(x)
    x = _module_d(x, arch, "mixed8")
    x = _module_e(x, arch, "mixed9")
    x = _module_e(x, arch, "mixed10")
    features.append(x)
    return features
