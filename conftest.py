"""Pytest set-up shared by the whole suite.

Two logical CPU devices are made before TensorFlow starts, so the
`tf.distribute.MirroredStrategy` tests can run on any machine. Tests marked
`slow` run only with `--run-slow`. When the tests run from a source
checkout, `keras_mtcrl.recipes` is this checkout's `recipes/` folder (as
setup.py installs it), whatever an editable install elsewhere maps it to.
"""

import gc
import importlib.abc
import importlib.util
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One op at a time per worker thread: the workers already fill the
    # cores, and small test models gain nothing from splitting an op.
    tf.config.threading.set_intra_op_parallelism_threads(1)

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)


ROOT = pathlib.Path(__file__).resolve().parent


class _SourceRecipes(importlib.abc.MetaPathFinder):
    """Finds `keras_mtcrl.recipes` in this checkout's `recipes/` folder."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras_mtcrl.recipes":
            return None
        folder = ROOT / "recipes"
        return importlib.util.spec_from_file_location(
            fullname,
            folder / "__init__.py",
            submodule_search_locations=[str(folder)],
        )


def _testing_this_checkout():
    spec = importlib.util.find_spec("keras_mtcrl")
    return spec is not None and pathlib.Path(spec.origin).is_relative_to(ROOT)


if _testing_this_checkout():
    sys.meta_path.insert(0, _SourceRecipes())


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="Also run tests marked slow.",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """After each test: an empty Keras session (no layers, graphs or name
    counters left for the next test), the test's garbage collected, and
    what survives frozen, so that later collections do not walk it again
    (a worker accumulates millions of objects over the suite, and each
    full collection would otherwise scan them all)."""
    yield
    keras.utils.clear_session(free_memory=False)
    gc.collect()
    gc.freeze()
