"""`keras-senet convert SRC DST --model NAME`: a timm checkpoint -> Keras weights.

DST by extension: `.weights.h5` (Keras weights of `create_model(NAME, classes=C)`), `.keras`
(the whole model) or `.safetensors` (Keras-layout tensors keyed by variable path, loadable
into any head or input size).
"""

import hashlib
import os


def add_arguments(parser):
    parser.add_argument("src", help="timm / torch checkpoint: .safetensors or .pth")
    parser.add_argument("dst", help="output: .weights.h5, .keras or .safetensors")
    parser.add_argument("--model", required=True, help="registry name of the architecture")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DST")


def _num_classes(spec, state_dict):
    if spec.reference_names is None:
        return None
    _, head_prefixes = spec.reference_names(spec.config)
    for prefix in head_prefixes:
        if f"{prefix}bias" in state_dict:
            return len(state_dict[f"{prefix}bias"])
    return None


def run(args):
    import keras

    from keras_senet import create_model, get_spec
    from keras_senet.weights.convert import convert_reference
    from keras_senet.weights.checkpoint_io import read_state_dict, write_safetensors
    from keras_senet.weights.resolve import assign

    if not args.dst.endswith((".weights.h5", ".keras", ".safetensors")):
        raise ValueError(f"DST must end in .weights.h5, .keras or .safetensors: {args.dst!r}")
    if os.path.exists(args.dst) and not args.overwrite:
        raise ValueError(f"{args.dst} exists; pass --overwrite to replace it.")
    spec = get_spec(args.model)
    state_dict = read_state_dict(args.src)
    ignored = [k for k in state_dict if k.endswith("num_batches_tracked")]
    print(f"read {len(state_dict)} tensors from {args.src} "
          f"({len(ignored)} num_batches_tracked counters are not weights)")
    classes = _num_classes(spec, state_dict)
    model = create_model(spec.name, classes=classes or 1000, include_top=classes is not None,
                         input_shape=(None, None, 3) if classes is None else None)
    tensors = convert_reference(model, spec, state_dict)
    assign(model, tensors, include_top=classes is not None)
    print(f"checked: every one of the {len(model.weights)} variables of {spec.name} "
          f"({'classifier: %d classes' % classes if classes else 'no classifier'}) got exactly "
          f"one tensor of the right shape, and every checkpoint tensor was used")
    if args.dst.endswith(".safetensors"):
        write_safetensors(args.dst, tensors, {"format": "keras_senet.v1", "model": spec.name})
    elif args.dst.endswith(".keras"):
        model.save(args.dst)
    else:
        model.save_weights(args.dst)
    digest = hashlib.sha256(open(args.dst, "rb").read()).hexdigest()
    print(f"wrote {args.dst} ({os.path.getsize(args.dst) / 1e6:.1f} MB, sha256 {digest[:16]}...)")
    print(f"load it with keras_senet.create_model({spec.name!r}, weights={args.dst!r}"
          f"{', classes=%d' % classes if classes and classes != 1000 else ''})")
    keras.backend.clear_session()
    return 0
