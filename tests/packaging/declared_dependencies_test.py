"""Every third-party module the package imports comes from a declared
requirement, so a plain install has what the code needs; test-only and
transitively installed packages in the test environment must not hide a
missing declaration.
"""

import ast
import pathlib
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The code that a wheel ships.
SHIPPED = ("keras_mtcrl", "keras_mtcrl_cli", "recipes")
FIRST_PARTY = {"keras_mtcrl", "keras_mtcrl_cli"}


def _setup_requirements():
    """`install_requires` and the `cpu`/`gpu` extras, read from setup.py."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    (call,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "setup"
    ]
    keywords = {
        k.arg: ast.literal_eval(k.value)
        for k in call.keywords
        if k.arg in ("install_requires", "extras_require")
    }
    extras = keywords["extras_require"]
    texts = keywords["install_requires"] + extras["cpu"] + extras["gpu"]
    return [Requirement(text) for text in texts]


def _imported_modules():
    """Top-level modules imported by the shipped code, by file."""
    found = {}
    for folder in SHIPPED:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names | FIRST_PARTY:
                        found.setdefault(top, path.relative_to(ROOT))
    return found


def test_every_imported_module_is_declared():
    declared = {canonicalize_name(r.name) for r in _setup_requirements()}
    providers = metadata.packages_distributions()
    missing = {}
    for module, path in _imported_modules().items():
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & declared:
            missing[module] = (str(path), sorted(dists))
    assert not missing, (
        f"Imported but not declared in setup.py (module: first file, "
        f"installed by): {missing}"
    )


def test_bayesian_tuner_extra_is_declared():
    """`keras-mtcrl tune --tuner bayesian` needs scikit-learn and scipy."""
    (tuner,) = [r for r in _setup_requirements() if r.name == "keras-tuner"]
    assert "bayesian" in tuner.extras
