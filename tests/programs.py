"""The programs under applications/ as modules (they are scripts, not a package)."""

import importlib.util
import pathlib

APPLICATIONS = pathlib.Path(__file__).resolve().parent.parent / "applications"


def load_application(name):
    """applications/NAME.py, imported without running its `main`."""
    spec = importlib.util.spec_from_file_location(name, APPLICATIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
