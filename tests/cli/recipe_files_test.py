"""Recipes from a file (`keras-mtcrl train my_recipe.py`) and plug-ins."""

import contextlib
import io
import json
import os
import pathlib
import textwrap
import unittest.mock
from importlib import metadata

import pytest

from keras_mtcrl import cli
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training import recipe_files
from keras_mtcrl.training import registry

# The recipe file of docs/recipes/index.md.
EXAMPLE = (
    pathlib.Path(__file__).resolve().parents[2]
    / "docs"
    / "examples"
    / "my_recipe.py"
)
# A user's recipe: the synthetic one, renamed and made tiny.
_TINY = """
from keras_mtcrl.training import get_recipe, register_recipe

register_recipe(
    get_recipe("synthetic").with_config(
        name="{name}",
        data_args={{"num_train": 200, "num_eval": 100}},
        epochs=1,
        architectures=("mtcrl",),
    )
)
"""


def _write(folder, filename, *names):
    path = os.path.join(folder, filename)
    with open(path, "w") as handle:
        handle.write("\n".join(_TINY.format(name=n) for n in names))
    return path


@pytest.fixture(autouse=True)
def _clean_registry():
    get_recipe("synthetic")  # Built-ins in before the snapshot.
    with unittest.mock.patch.dict(registry._RECIPES):
        yield


def test_train_the_documented_recipe_file(tmp_path):
    logdir = str(tmp_path / "run")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(
            ["train", str(EXAMPLE), "--logdir", logdir, "--strategy", "one",
             "--epochs", "1", "--architectures", "mtcrl", "--quiet",
             "--num-modules", "2",  # the file's 6: slower to trace
             "--data-arg", "num_train=200", "--data-arg", "num_eval=100"]
        )
    assert code == 0
    with open(os.path.join(logdir, "results.json")) as handle:
        saved = json.load(handle)
    # The file's config, with the flags given on top.
    assert saved["config"]["name"] == "weak_shortcut"
    assert saved["config"]["description"].startswith("Synthetic tasks whose")
    assert recipe_files.resolve_recipe(str(EXAMPLE)).config.num_modules == 6
    assert saved["config"]["num_modules"] == 2
    assert saved["config"]["epochs"] == 1
    # --quiet drops the per-epoch lines, not the run headers.
    assert "== weak_shortcut | seed 0 | mtcrl" in out.getvalue()
    assert "loss:" not in out.getvalue()


def test_a_file_with_one_recipe_gives_it(tmp_path):
    path = _write(tmp_path, "my_recipe.py", "my_tiny")
    recipe = recipe_files.resolve_recipe(path)
    assert recipe.config.name == "my_tiny"
    assert recipe.config.epochs == 1


def test_a_file_with_several_recipes_needs_a_name(tmp_path):
    path = _write(tmp_path, "two.py", "first", "second")
    with pytest.raises(KeyError, match=r"two.py:<name>"):
        recipe_files.resolve_recipe(path)
    recipe = recipe_files.resolve_recipe(f"{path}:second")
    assert recipe.config.name == "second"


def test_a_file_without_recipes_is_refused(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["train", str(path)]) == 2
    assert "registers 0 recipes" in err.getvalue()
    assert "register_recipe" in err.getvalue()


def test_a_missing_file_is_refused(tmp_path):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["train", str(tmp_path / "nope.py")]) == 2
    assert "No recipe file at" in err.getvalue()


def _entry_point(name, value):
    return metadata.EntryPoint(
        name=name, value=value, group=registry.ENTRY_POINT_GROUP
    )


def test_plugin_entry_points_register_their_recipe(tmp_path, monkeypatch):
    module = tmp_path / "my_plugin_pkg.py"
    module.write_text(
        textwrap.dedent(
            """
            from keras_mtcrl.training import get_recipe

            RECIPE = get_recipe("synthetic").with_config(name="plugged")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._load_plugin(_entry_point("plugged", "my_plugin_pkg:RECIPE"))
    assert get_recipe("plugged").config.name == "plugged"


def test_a_broken_plugin_warns_and_is_skipped():
    point = _entry_point("broken", "no_such_module_for_keras_mtcrl:RECIPE")
    with pytest.warns(UserWarning, match="'broken'.*failed to load"):
        registry._load_plugin(point)
    assert "broken" not in registry._RECIPES
