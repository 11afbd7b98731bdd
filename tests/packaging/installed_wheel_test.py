"""Acceptance: a non-editable install works offline, outside the repository.

Builds a wheel of this checkout, installs it into a fresh virtual
environment and runs, from a folder outside the repository that holds a
`recipes/` package of its own (which once shadowed the installed recipes),
the commands a new user runs first: `keras-mtcrl list`, `train` with its
output sent to a file, `tune` with the Bayesian tuner, and `tfds.load` of
the Multi-MNIST builder.

TensorFlow and the other dependencies are not installed again: a `.pth`
file puts this interpreter's site-packages *after* the new environment's,
so `keras_mtcrl` itself comes from the wheel (checked), and only the
third-party packages from this environment. Nothing may reach the network:
the commands get a proxy that refuses every connection, so an attempt
fails at once instead of hanging.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sys.platform == "win32", reason="POSIX virtual environment layout"
    ),
]

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Not part of a source tree to build from.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
    ".pytest_cache", "runs", "logs", "site",
)
#: A closed local port: any HTTP(S) request fails at once.
_NO_NETWORK = "http://127.0.0.1:9"
_TIMEOUT = 900


def _run(args, cwd, env=None, **kwargs):
    kwargs.setdefault("capture_output", "stdout" not in kwargs)
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        text=True,
        timeout=_TIMEOUT,
        check=False,
        **kwargs,
    )


def _check(result, what):
    assert result.returncode == 0, (
        f"{what} exited {result.returncode}\n"
        f"stdout: {(result.stdout or '')[-3000:]}\n"
        f"stderr: {(result.stderr or '')[-3000:]}"
    )
    return result


def _this_site_packages():
    """This interpreter's site-packages folders (purelib, platlib)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with the wheel installed, a user folder and the environment
    variables of an offline shell."""
    tmp = tmp_path_factory.mktemp("installed_wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    dist = tmp / "dist"
    build_env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    _check(
        _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps",
             "--no-build-isolation", "--no-index", "-w", dist, source],
            cwd=tmp, env=build_env,
        ),
        "pip wheel",
    )
    (wheel,) = dist.glob("keras_mtcrl-*.whl")

    venv = tmp / "venv"
    _check(_run([sys.executable, "-m", "venv", venv], cwd=tmp), "venv")
    python = venv / "bin" / "python"
    # Installed before the .pth exists, so pip sees an empty environment
    # (and never touches this one's editable install).
    _check(
        _run([python, "-m", "pip", "install", "--no-deps", "--no-index",
              wheel], cwd=tmp, env=build_env),
        "pip install",
    )
    purelib = pathlib.Path(
        _check(
            _run([python, "-c",
                  "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                 cwd=tmp),
            "sysconfig",
        ).stdout.strip()
    )
    # Plain path lines: this environment's own .pth files (the editable
    # install's finder among them) are not run.
    (purelib / "_keras_mtcrl_test_dependencies.pth").write_text(
        "\n".join(_this_site_packages()) + "\n"
    )

    user = tmp / "user"
    (user / "recipes").mkdir(parents=True)
    (user / "recipes" / "__init__.py").write_text(
        '"""A user\'s own recipes package."""\n'
    )
    env = {
        "PATH": os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"]),
        "HOME": str(tmp / "home"),
        "KERAS_MTCRL_DATA": str(tmp / "keras_mtcrl_data"),
        "TFDS_DATA_DIR": str(tmp / "tensorflow_datasets"),
        "PYTHONNOUSERSITE": "1",
        "PIP_NO_INDEX": "1",
        "http_proxy": _NO_NETWORK,
        "https_proxy": _NO_NETWORK,
        "HTTP_PROXY": _NO_NETWORK,
        "HTTPS_PROXY": _NO_NETWORK,
    }
    (tmp / "home").mkdir()
    return {
        "tmp": tmp, "wheel": wheel, "venv": venv, "python": python,
        "purelib": purelib, "user": user, "env": env,
    }


def test_wheel_installs_no_top_level_recipes_package(installed):
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        tops = {name.split("/")[0] for name in wheel.namelist()}
    assert "recipes" not in tops
    assert {"keras_mtcrl", "keras_mtcrl_cli"} <= tops


def test_imports_come_from_the_wheel(installed):
    code = (
        "import json, keras_mtcrl, keras_mtcrl_cli, keras_mtcrl.recipes; "
        "print(json.dumps([keras_mtcrl.__file__, keras_mtcrl_cli.__file__, "
        "keras_mtcrl.recipes.__file__]))"
    )
    result = _check(
        _run([installed["python"], "-c", code], cwd=installed["user"],
             env=installed["env"]),
        "import",
    )
    files = json.loads(result.stdout.strip().splitlines()[-1])
    for name in files:
        # Not the editable checkout, nor the user's `recipes/` folder.
        assert pathlib.Path(name).is_relative_to(installed["purelib"]), name


def test_list_shows_the_builtin_recipes(installed):
    result = _check(
        _run(["keras-mtcrl", "list"], cwd=installed["user"],
             env=installed["env"]),
        "keras-mtcrl list",
    )
    names = {line.split()[0] for line in result.stdout.splitlines() if line}
    assert {"synthetic", "multi_mnist"} <= names


def test_train_writes_a_clean_log(installed):
    user = installed["user"]
    log = user / "log.txt"
    with open(log, "w") as out:
        result = _check(
            _run(
                ["keras-mtcrl", "train", "synthetic", "--epochs", "1",
                 "--seeds", "0", "--architectures", "mtcrl"],
                cwd=user, env=installed["env"], stdout=out,
                stderr=subprocess.PIPE,
            ),
            "keras-mtcrl train",
        )
    text = log.read_text()
    # One line per epoch, no progress-bar control characters.
    assert "\r" not in text and "\x1b" not in text
    assert "== synthetic | seed 0 | mtcrl" in text
    assert "val_worst_env_loss" in text
    assert "Local rendezvous" not in result.stderr
    assert (user / "runs" / "synthetic" / "results.json").is_file()


def test_bayesian_tuning_runs(installed):
    user = installed["user"]
    _check(
        _run(
            ["keras-mtcrl", "tune", "multi_mnist", "--tuner", "bayesian",
             "--max-trials", "2", "--epochs", "1",
             # Fewer examples than the recipe's 10,000: the point is that
             # the Bayesian tuner runs from the installed package.
             "--data-arg", "num_train=1000", "--data-arg", "num_eval=200"],
            cwd=user, env=installed["env"],
        ),
        "keras-mtcrl tune",
    )
    best = json.loads(
        (user / "runs" / "tune_multi_mnist" / "best.json").read_text()
    )
    assert "invariance_weight" in json.dumps(best)


def test_tfds_load_prepares_multi_mnist_offline(installed):
    data_dir = installed["tmp"] / "tfds"
    code = (
        "import tensorflow_datasets as tfds, keras_mtcrl; "
        "print(tfds.load('keras_mtcrl_multi_mnist', split='train[:1%]', "
        f"data_dir={str(data_dir)!r}))"
    )
    result = _check(
        _run([installed["python"], "-c", code], cwd=installed["user"],
             env=installed["env"]),
        "tfds.load",
    )
    assert "element_spec" in result.stdout
    assert "'image'" in result.stdout and "'env'" in result.stdout
    prepared = data_dir / "keras_mtcrl_multi_mnist" / "confounded"
    assert prepared.is_dir()
