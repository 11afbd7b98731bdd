"""Loads a runnable file of docs/examples/ as a module, for the tests that
execute the guides' code."""

import importlib.util
import pathlib
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples"


def load_example(filename):
    """Imports `docs/examples/<filename>` under the name `docs_<stem>`."""
    name = "docs_" + pathlib.Path(filename).stem
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
