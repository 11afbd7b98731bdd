#!/usr/bin/env bash
# Set-up and test suite in one command (the README's test command).
# Creates .venv if needed, installs keras_mtcrl with the CPU TensorFlow, the
# test tools and MkDocs, then runs pytest (docstring examples included, and
# a strict build of the documentation site). Extra
# arguments go to pytest, e.g. `bash scripts/test.sh --run-slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[cpu,test,docs]"
exec .venv/bin/python -m pytest -n 2 "$@"
