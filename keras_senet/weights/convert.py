"""Reference (PyTorch) state dict -> Keras variables, by the family's naming rule, checked
before any assignment.

A family's `ModelSpec.reference_names(config)` gives `prefix(layer_name) -> torch module path`
(or None for layers without a counterpart) and the classifier's torch prefixes; this module
expands each Keras layer into its tensors, converts layouts, and refuses to assign anything
unless every variable is covered exactly once by a tensor of the right shape and every
checkpoint tensor is used. It knows no family.
"""

import numpy as np
from keras import layers

from keras_senet.layers import SelectiveKernel, SqueezeExcite

IGNORED_SUFFIXES = ("num_batches_tracked",)


def _conv_kernel(w):
    """torch (out, in / groups, kh, kw) -> Keras (kh, kw, in / groups, out)."""
    return np.transpose(w, (2, 3, 1, 0))


def _fc_from_1x1(w):
    """A 1x1 conv (out, in, 1, 1) or a Linear (out, in) -> a Keras matrix (in, out)."""
    return w.reshape(w.shape[0], -1).T


def _same(w):
    return w


def layer_tensors(layer, prefix):
    """Yields (keras variable, torch key, layout transform) for one layer."""
    if isinstance(layer, layers.Conv2D):
        yield layer.kernel, f"{prefix}.weight", _conv_kernel
        if layer.use_bias:
            yield layer.bias, f"{prefix}.bias", _same
    elif isinstance(layer, layers.Dense):
        yield layer.kernel, f"{prefix}.weight", _fc_from_1x1
        if layer.use_bias:
            yield layer.bias, f"{prefix}.bias", _same
    elif isinstance(layer, layers.BatchNormalization):
        yield layer.gamma, f"{prefix}.weight", _same
        yield layer.beta, f"{prefix}.bias", _same
        yield layer.moving_mean, f"{prefix}.running_mean", _same
        yield layer.moving_variance, f"{prefix}.running_var", _same
    elif isinstance(layer, SqueezeExcite):
        yield layer.reduce_kernel, f"{prefix}.fc1.weight", _fc_from_1x1
        yield layer.expand_kernel, f"{prefix}.fc2.weight", _fc_from_1x1
        if layer.use_bias:
            yield layer.reduce_bias, f"{prefix}.fc1.bias", _same
            yield layer.expand_bias, f"{prefix}.fc2.bias", _same
    elif isinstance(layer, SelectiveKernel):
        for m, (conv, bn) in enumerate(zip(layer.path_convs, layer.path_bns)):
            yield from layer_tensors(conv, f"{prefix}.paths.{m}.conv")
            yield from layer_tensors(bn, f"{prefix}.paths.{m}.bn")
        yield layer.reduce_kernel, f"{prefix}.attn.fc_reduce.weight", _fc_from_1x1
        yield from layer_tensors(layer.attn_bn, f"{prefix}.attn.bn")
        yield layer.select_kernel, f"{prefix}.attn.fc_select.weight", _fc_from_1x1
    elif layer.weights:
        raise TypeError(f"No conversion rule for layer {layer.name!r} ({type(layer).__name__}).")


def convert_reference(model, spec, state_dict):
    """{torch key: array} -> {Keras variable path: array} for `model` (built from `spec`).

    The classifier is converted too when `model` has none (`include_top=False`), as
    `predictions/kernel` and `predictions/bias`, so one converted file serves every head.

    Raises:
        ValueError: the family has no reference checkpoints, or the state dict does not
            match the model (see `convert_state_dict`).
    """
    if spec.reference_names is None:
        raise ValueError(
            f"{spec.name} has no reference-checkpoint naming rule (only timm's SE-ResNet, "
            "SE-ResNeXt, SENet and SK-ResNet checkpoints convert); load a Keras .weights.h5 / "
            ".keras / .safetensors file instead.")
    prefix_rule, head = spec.reference_names(spec.config)
    converted = convert_state_dict(model, state_dict, prefix_rule, head)
    if "predictions/kernel" not in converted:
        for prefix in head:
            if f"{prefix}weight" in state_dict:
                converted["predictions/kernel"] = state_dict[f"{prefix}weight"].T
                converted["predictions/bias"] = state_dict[f"{prefix}bias"]
    return converted


def convert_state_dict(model, state_dict, prefix_rule, head_prefixes=()):
    """Maps a reference state dict onto `model`'s variables, without assigning anything.

    Args:
        model: the Keras model.
        state_dict: {torch key: np.ndarray}.
        prefix_rule: `prefix_rule(layer_name)` -> torch module path, or None.
        head_prefixes: torch prefixes of the classifier; unused when the model has none.

    Returns:
        {keras variable path: np.ndarray in Keras layout}, one entry per model variable.

    Raises:
        ValueError: listing the Keras variables with no tensor, the checkpoint tensors that
            were not used and the tensors of the wrong shape.
    """
    converted, missing, mis_shaped, used = {}, [], [], set()
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = prefix_rule(layer.name)
        if prefix is None:
            missing.extend(f"{v.path} (no rule for layer {layer.name!r})" for v in layer.weights)
            continue
        for variable, key, transform in layer_tensors(layer, prefix):
            if key not in state_dict:
                missing.append(f"{variable.path} <- {key}")
                continue
            used.add(key)
            value = transform(np.asarray(state_dict[key]))
            if tuple(value.shape) != tuple(variable.shape):
                mis_shaped.append(f"{variable.path} {tuple(variable.shape)} <- {key} "
                                  f"{tuple(state_dict[key].shape)}")
                continue
            converted[variable.path] = value
    skip_head = bool(head_prefixes) and not any(k.startswith(head_prefixes) for k in used)
    unexpected = sorted(
        key for key in state_dict
        if key not in used and not key.endswith(IGNORED_SUFFIXES)
        and not (skip_head and key.startswith(head_prefixes)))
    check_complete(model.name, missing, unexpected, mis_shaped)
    return converted


def check_complete(what, missing, unexpected, mis_shaped):
    """Raises one ValueError naming every problem, or returns if there are none."""
    if not (missing or unexpected or mis_shaped):
        return
    lines = [f"The checkpoint does not match the architecture of {what!r}; nothing was loaded."]
    for title, items in (("missing (model variables with no checkpoint tensor)", missing),
                         ("unexpected (checkpoint tensors the model does not use)", unexpected),
                         ("mis-shaped", mis_shaped)):
        if items:
            shown = items[:20] + ([f"... and {len(items) - 20} more"] if len(items) > 20 else [])
            lines.append(f"{len(items)} {title}:\n  " + "\n  ".join(shown))
    lines.append("Check that the model name matches the checkpoint (e.g. legacy_seresnet50 for "
                 "the official SENet files, seresnet50 for timm's).")
    raise ValueError("\n".join(lines))
