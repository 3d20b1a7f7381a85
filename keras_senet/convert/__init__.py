"""Reference checkpoint -> Keras weight conversion, one naming rule per family."""

from keras_senet.convert import resnet
from keras_senet.convert.state_dict import check_complete, convert_state_dict

_RULES = {"se_resnet": resnet, "sknet": resnet}


def convert_reference(model, spec, state_dict):
    """{torch key: array} -> {Keras variable path: array} for `model` (built from `spec`).

    The classifier is converted too when `model` has none (`include_top=False`), as
    `predictions/kernel` and `predictions/bias`, so one converted file serves every head.
    """
    family = _RULES.get(spec.family)
    if family is None:
        raise ValueError(
            f"No reference-checkpoint converter for the {spec.family!r} family ({spec.name}); "
            "load a Keras .weights.h5 / .keras file instead.")
    head = family.head_prefixes(spec)
    converted = convert_state_dict(model, state_dict, family.prefix_rule(spec), head)
    if "predictions/kernel" not in converted:
        for prefix in head:
            if f"{prefix}weight" in state_dict:
                converted["predictions/kernel"] = state_dict[f"{prefix}weight"].T
                converted["predictions/bias"] = state_dict[f"{prefix}bias"]
    return converted


__all__ = ["convert_reference", "convert_state_dict", "check_complete"]
