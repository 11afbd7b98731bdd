"""Environment variables that quiet TensorFlow; set before it is imported."""

import os

# TensorFlow reads these once, when it is first imported: 2 hides its
# INFO and WARNING start-up lines (CPU instruction sets, oneDNN notices,
# CUDA probing); errors still print.
QUIET_TENSORFLOW = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def quiet_tensorflow(environ=None):
    """Sets `QUIET_TENSORFLOW` in `environ` where the user has not.

    Args:
        environ: mutable mapping. Defaults to `os.environ`.

    Example:

    >>> environ = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    >>> quiet_tensorflow(environ)
    >>> environ["TF_CPP_MIN_LOG_LEVEL"]
    '0'
    """
    environ = os.environ if environ is None else environ
    for name, value in QUIET_TENSORFLOW.items():
        environ.setdefault(name, value)
