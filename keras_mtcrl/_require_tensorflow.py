"""A clear error when TensorFlow is missing: it comes from an extra.

Importing this module runs the check (`keras_mtcrl/__init__.py` imports
it first).
"""

import importlib.util

MISSING_TENSORFLOW = (
    "keras_mtcrl needs TensorFlow, which is installed by an extra so that "
    "the CPU and GPU builds are never installed together. Install one: "
    'pip install "keras-mtcrl[cpu]" (CPU only) or '
    'pip install "keras-mtcrl[gpu]" (NVIDIA GPU with CUDA).'
)


def require_tensorflow():
    """Raises `ImportError(name="tensorflow")` if TensorFlow is missing.

    Looks TensorFlow up without importing it.

    Raises:
        ImportError: TensorFlow is not installed; the message names the
            `keras-mtcrl[cpu]` and `keras-mtcrl[gpu]` extras.
    """
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(MISSING_TENSORFLOW, name="tensorflow")


require_tensorflow()
