"""`keras-mtcrl --help`, `--version` and `list` answer without TensorFlow."""

import json
import os
import unittest.mock

from cli_subprocess import run_python

from keras_mtcrl.training import recipe_files
from keras_mtcrl.training import registry
from keras_mtcrl_cli import catalog

# Calls the launcher as the `keras-mtcrl` script does, for each argv, then
# reports its output and which heavy modules got imported.
_PROBE = """
import contextlib, io, json, sys
from keras_mtcrl_cli import main
report = {}
for argv in (["--help"], ["--version"], ["list"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    report[argv[0]] = {"code": code, "out": out.getvalue()}
report["imported"] = sorted(
    m for m in ("tensorflow", "keras", "keras_mtcrl") if m in sys.modules
)
print(json.dumps(report))
"""


def test_help_version_and_list_do_not_import_tensorflow(tmp_path):
    done = run_python(["-c", _PROBE], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["imported"] == []
    assert report["--help"]["code"] == 0
    assert "{list,train,tune,diagnose,launch}" in report["--help"]["out"]
    assert report["--version"]["code"] == 0
    assert report["--version"]["out"].startswith("keras-mtcrl ")
    assert report["list"]["code"] == 0
    listed = report["list"]["out"]
    assert listed.splitlines()[0].startswith("census_income ")
    assert "synthetic " in listed


def test_python_m_launcher_lists_recipes(tmp_path):
    done = run_python(["-m", "keras_mtcrl_cli", "list"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert catalog.format_listing(catalog.BUILTIN_RECIPES) in done.stdout


def test_catalog_equals_the_recipes_of_keras_mtcrl_recipes():
    """The static listing matches what the recipe files really register."""
    import keras_mtcrl.recipes as package

    (folder,) = package.__path__
    registered = {}
    with unittest.mock.patch.dict(registry._RECIPES, clear=True):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py") and name != "__init__.py":
                found = recipe_files.load_recipe_file(
                    os.path.join(folder, name)
                )
                registered.update(
                    {n: r.config.description for n, r in found.items()}
                )
    assert registered == catalog.BUILTIN_RECIPES


def test_entry_point_group_is_the_registry_s():
    assert catalog.ENTRY_POINT_GROUP == registry.ENTRY_POINT_GROUP


def test_plugins_are_listed_without_being_loaded():
    point = unittest.mock.Mock(value="somewhere:RECIPE")
    point.name = "my_plugin"
    with unittest.mock.patch.object(
        catalog.metadata, "entry_points", return_value=[point]
    ):
        text = catalog.listing()
    assert "my_plugin" in text
    assert "(plug-in recipe from somewhere:RECIPE)" in text
    point.load.assert_not_called()
