"""The documentation site builds with `mkdocs build --strict`."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Installed by `pip install -e ".[docs]"`; skipped without them.
pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")
pytest.importorskip("material")


def test_site_builds_strict(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").is_file()
    # mkdocstrings rendered the reference, including a doctest example.
    models = (site / "api" / "models" / "index.html").read_text("utf-8")
    assert "keras_mtcrl.models.CausalMTLModel" in models
    assert "causal_graph" in models
    assert '<span class="gp">&gt;&gt;&gt; </span>' in models
    # The quickstart is included from docs/examples/quickstart.py.
    start = (site / "getting-started" / "index.html").read_text("utf-8")
    assert "build_confounded_synthetic" in start
