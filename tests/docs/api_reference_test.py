"""The API reference documents every public name of every public module.

Reads the mkdocstrings directives (`::: dotted.path` and their options)
of docs/, resolves each to its Python object and checks that every class,
function and module listed in a public module's `__all__` is rendered
somewhere, and that every page under docs/api/ is in the site's nav.
"""

import importlib
import inspect
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PUBLIC_MODULES = (
    "keras_mtcrl",
    "keras_mtcrl.callbacks",
    "keras_mtcrl.datasets",
    "keras_mtcrl.datasets.tfds_builders",
    "keras_mtcrl.diagnostics",
    "keras_mtcrl.export",
    "keras_mtcrl.gradients",
    "keras_mtcrl.layers",
    "keras_mtcrl.losses",
    "keras_mtcrl.metrics",
    "keras_mtcrl.models",
    "keras_mtcrl.models.baselines",
    "keras_mtcrl.training",
    "keras_mtcrl.tuning",
    "keras_mtcrl.visualization",
    "keras_mtcrl.weighting",
)
DIRECTIVE = re.compile(r"^::: ([\w.]+)\n((?:[ \t]+.*\n|\n(?=[ \t]))*)", re.M)


def _resolve(path):
    """The object at a dotted path: the longest importable module, then
    attributes (as griffe resolves a mkdocstrings identifier)."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__ == module.__name__
        ]
    return names


def _documented():
    """Ids of the objects the site renders, and the directives' paths."""
    seen, paths = set(), []
    for page in sorted(DOCS.rglob("*.md")):
        for path, options in DIRECTIVE.findall(page.read_text("utf-8")):
            obj = _resolve(path)
            paths.append(path)
            seen.add(id(obj))
            if inspect.ismodule(obj) and "members: false" not in options:
                for name in _public_names(obj):
                    seen.add(id(getattr(obj, name)))
    return seen, paths


def _public_objects():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isroutine(value) or (
                inspect.ismodule(value)
            ):
                yield f"{module_name}.{name}", value


DOCUMENTED, PATHS = _documented()
PUBLIC = sorted(_public_objects(), key=lambda item: item[0])


def test_directives_resolve():
    assert len(PATHS) >= 80


@pytest.mark.parametrize(
    "value", [v for _, v in PUBLIC], ids=[n for n, _ in PUBLIC]
)
def test_public_name_is_documented(value):
    assert id(value) in DOCUMENTED


def test_every_public_module_has_a_page():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert id(module) in DOCUMENTED or any(
            path == module_name for path in PATHS
        ), module_name


def test_every_api_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text("utf-8")
    listed = set(re.findall(r":\s*(api/[\w-]+\.md)\s*$", nav, re.M))
    pages = {
        str(p.relative_to(DOCS)) for p in (DOCS / "api").glob("*.md")
    }
    assert pages == listed
