"""Parameter and multiply-add counts of every registered architecture, shipped as a table.

Building all models takes minutes, so `keras-senet list` and the README read
`keras_senet/data/model_stats.json`; regenerate it after changing an architecture with
`python -m keras_senet.stats` (tests check the table against freshly built models).
"""

import json
import sys
from importlib import resources

STATS_FILE = "model_stats.json"


def compute_stats(name):
    """{"params": trainable parameters, "gmacs": GFLOPs (multiply-adds), "input_size": s}
    of a registered architecture at its default input size, 1000 classes."""
    from keras_senet.applications.contract import build_model
    from keras_senet.flops import count_macs, count_params
    from keras_senet.registry import get_spec

    spec = get_spec(name)
    model = build_model(name, weights=None, classes=None,
                        input_shape=(spec.default_size, spec.default_size, 3))
    return {"params": count_params(model), "gmacs": round(count_macs(model) / 1e9, 3),
            "input_size": spec.default_size}


def load_stats():
    """{name: stats} from the shipped table."""
    text = resources.files("keras_senet.data").joinpath(STATS_FILE).read_text()
    return json.loads(text)


def main(argv=None):
    import keras

    from keras_senet.registry import list_models

    names = (argv if argv is not None else sys.argv[1:]) or list_models()
    path = resources.files("keras_senet.data").joinpath(STATS_FILE)
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        table = {}
    for name in names:
        table[name] = compute_stats(name)
        keras.backend.clear_session()
        print(name, table[name], flush=True)
    table = {k: table[k] for k in sorted(table) if k in set(list_models())}
    path.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
