"""A clear error when TensorFlow is missing: it comes from an extra.

Importing this module runs the check (`keras_mtcrl/__init__.py` imports it
first, before anything that imports keras).
"""

MISSING_TENSORFLOW = (
    "keras_mtcrl needs TensorFlow, which is installed by an extra so that "
    "the CPU and GPU builds are never installed together. Install one: "
    'pip install "keras-mtcrl[cpu]" (CPU only) or '
    'pip install "keras-mtcrl[gpu]" (NVIDIA GPU with CUDA).'
)


def require_tensorflow():
    """Imports TensorFlow, or raises an error that names the extras.

    Raises:
        ImportError: TensorFlow is not installed; `name` is
            `"tensorflow"` and the message names the `keras-mtcrl[cpu]`
            and `keras-mtcrl[gpu]` extras. Other import failures of an
            installed TensorFlow propagate unchanged.
    """
    try:
        import tensorflow  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        raise ImportError(MISSING_TENSORFLOW, name="tensorflow") from error


require_tensorflow()
