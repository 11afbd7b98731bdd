"""Runs Python in a fresh process on this checkout, as a user's shell does."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_python(args, cwd, timeout=600, env=None):
    """Runs `python *args` in `cwd` with this checkout first on the path.

    Args:
        args: list of str, the arguments after `python`.
        cwd: path, the working directory.
        timeout: float, seconds.
        env: dict of extra environment variables, or None.

    Returns:
        `subprocess.CompletedProcess` with text `stdout` and `stderr`.
    """
    environ = dict(os.environ)
    path = environ.get("PYTHONPATH")
    environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
