"""Imports run one way: the zoo core never imports the tools, no module imports one that
imports it back, and each layer imports only the layers below it.

Every `import` / `from ... import` of the package's own modules counts, at module level or
inside a function, read from the source with `ast` (nothing is imported to check).
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_senet"

# Layers from the bottom up; a module may import its own layer and the ones before it.
LAYERS = [
    ("leaves", ["keras_senet.registry", "keras_senet.checkpoints", "keras_senet.atomic",
                "keras_senet.data"]),
    ("blocks", ["keras_senet.layers"]),
    ("families", ["keras_senet.models"]),
    ("weights", ["keras_senet.weights"]),
    ("applications", ["keras_senet.applications", "keras_senet.flops", "keras_senet.stats"]),
    ("faces", ["keras_senet.hub"]),  # keras-hub classes, registered by `import keras_senet`
    ("package", ["keras_senet"]),  # keras_senet/__init__.py alone: create_model, list_models
]
CORE = {name for _, prefixes in LAYERS for name in prefixes}
# The tools: what the core must never import.
TOOLS = ["keras_senet.export", "keras_senet.training", "keras_senet.device_training",
         "keras_senet.data_pipeline", "keras_senet.array_pipeline", "keras_senet.benchmark",
         "keras_senet.folding", "keras_senet.run_bundle", "keras_senet.commands",
         "keras_senet.cli", "keras_senet.distributed", "keras_senet.launcher"]


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path, known):
    """The package modules `path` imports (`from keras_senet import registry` names the
    module `keras_senet.registry`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in known else node.module for name in names]
        else:
            continue
        found.update(name for name in names if name.startswith("keras_senet") and name in known)
    return found


def graph():
    known = modules()
    return {name: imports_of(path, known) - {name} for name, path in known.items()}


def layer_of(name):
    """Index of the layer `name` belongs to (the longest matching prefix wins)."""
    best, index = "", None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = name == prefix or (name.startswith(prefix + ".") and prefix != "keras_senet")
            if inside and len(prefix) > len(best):
                best, index = prefix, i
    return index


def is_tool(name):
    return any(name == tool or name.startswith(tool + ".") for tool in TOOLS)


def test_no_module_imports_one_that_imports_it_back():
    edges = graph()
    state, stack, circles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                circles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_the_core_never_imports_the_tools():
    edges = graph()
    broken = sorted(f"{a} -> {b}" for a, targets in edges.items() if not is_tool(a)
                    for b in targets if is_tool(b))
    assert not broken, broken


@pytest.mark.parametrize("layer", [name for name, _ in LAYERS])
def test_each_layer_imports_only_the_layers_below_it(layer):
    edges = graph()
    index = [name for name, _ in LAYERS].index(layer)
    upward = sorted(f"{a} -> {b}" for a, targets in edges.items() if layer_of(a) == index
                    for b in targets if layer_of(b) is not None and layer_of(b) > index)
    assert not upward, upward


def test_registry_and_checkpoint_rows_import_nothing_of_the_package():
    edges = graph()
    assert edges["keras_senet.registry"] == set()
    assert edges["keras_senet.checkpoints"] == set()


def test_blocks_know_no_family_and_families_no_weights_files():
    edges = graph()
    for name, targets in edges.items():
        if layer_of(name) == 1:  # layers/
            assert all(t.startswith("keras_senet.layers") for t in targets), (name, targets)
        if layer_of(name) == 2:  # models/
            assert all(t.startswith(("keras_senet.layers", "keras_senet.models",
                                     "keras_senet.registry", "keras_senet.checkpoints"))
                       for t in targets), (name, targets)


def test_every_module_is_placed():
    unplaced = [name for name in modules() if layer_of(name) is None and not is_tool(name)]
    assert unplaced == [], f"put {unplaced} in LAYERS or TOOLS"
    assert CORE.isdisjoint(TOOLS)
