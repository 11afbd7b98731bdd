"""Packaging of keras_mtcrl.

TensorFlow comes from an extra so that the CPU and GPU wheels are never
installed together: `pip install -e .[cpu]` or `pip install -e .[gpu]`.
"""

import pathlib

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = "0.1.0"

setup(
    name="keras-mtcrl",
    version=VERSION,
    description=(
        "Multi-task learning for Keras that does not fall for spurious "
        "correlation (MT-CRL, NeurIPS 2022)."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # The repository's `recipes/` folder installs as `keras_mtcrl.recipes`:
    # a top-level `recipes` package would be shadowed by any `recipes/`
    # folder in the user's working directory.
    packages=[
        *find_packages(include=["keras_mtcrl", "keras_mtcrl.*"]),
        "keras_mtcrl.recipes",
        # The `keras-mtcrl` launcher: answers --help, --version and list
        # without importing TensorFlow (keras_mtcrl/__init__.py imports it).
        "keras_mtcrl_cli",
        # A data folder, not a Python package: listed so that setuptools
        # ships its files (package_data) without a warning.
        "keras_mtcrl.datasets.data",
    ],
    package_dir={"keras_mtcrl.recipes": "recipes"},
    package_data={"keras_mtcrl.datasets.data": ["*"]},
    install_requires=[
        "keras>=3.10",
        "numpy>=1.26",
        "tensorboard>=2.18",
        # `keras-mtcrl tune --tuner bayesian` needs the `bayesian` extra
        # (scikit-learn and scipy).
        "keras-tuner[bayesian]>=1.4.7",
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets 4.9.10 imports it without declaring it.
        "importlib_resources",
        "matplotlib>=3.8",
        # Reads the MovieLens snapshot of the Debian package r-cran-dslabs.
        "rdata>=1.0",
        # NYUv2's official labeled .mat file is HDF5.
        "h5py>=3.10",
    ],
    extras_require={
        "cpu": ["tensorflow-cpu>=2.18,<2.22"],
        "gpu": ["tensorflow[and-cuda]>=2.18,<2.22"],
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            # Lint (tests/lint_test.py); minor versions add rules.
            "ruff>=0.17,<0.18",
            # Ships the real stereo_motorcycle frame used by a smoke test.
            "scikit-image>=0.22",
        ],
        "docs": [
            "mkdocs>=1.6,<2",
            "mkdocs-material>=9.5",
            "mkdocstrings[python]>=0.26",
        ],
    },
    entry_points={
        "console_scripts": ["keras-mtcrl=keras_mtcrl_cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
