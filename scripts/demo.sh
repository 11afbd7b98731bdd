#!/usr/bin/env bash
# Set-up and the main job in one command (the README's first command):
# creates .venv if needed, installs keras_mtcrl with the CPU TensorFlow and
# trains the Multi-MNIST recipe (MT-CRL and its baselines) on the embedded
# MNIST digits. Extra arguments go to `keras-mtcrl train multi_mnist`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[cpu]"
exec .venv/bin/keras-mtcrl train multi_mnist "$@"
