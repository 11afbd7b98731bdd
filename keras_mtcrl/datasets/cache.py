"""Where downloaded or parsed data sets are kept between runs."""

import os
import pathlib

#: Environment variable that overrides the cache folder.
CACHE_ENV_VAR = "KERAS_MTCRL_DATA"
DEFAULT_CACHE_DIR = pathlib.Path("~", ".cache", "keras_mtcrl")


def get_cache_dir(subdir=None, cache_dir=None):
    """Returns the folder where keras_mtcrl keeps data, creating it.

    The folder is, in order of precedence: `cache_dir` when given, the
    `KERAS_MTCRL_DATA` environment variable when set and not empty, or
    `~/.cache/keras_mtcrl`. Data that may not be redistributed (such as
    MovieLens) is parsed once and kept here, never in the repository.

    Args:
        subdir: str. A sub-folder for one data set, e.g. `"movielens"`.
            Defaults to `None` (the cache root).
        cache_dir: str or path-like. An explicit root that overrides the
            environment variable and the default. Defaults to `None`.

    Returns:
        A `pathlib.Path` to an existing folder.

    Example:

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> get_cache_dir("movielens", cache_dir=root).name
    'movielens'
    """
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV_VAR) or DEFAULT_CACHE_DIR
    path = pathlib.Path(cache_dir).expanduser()
    if subdir:
        path = path / subdir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(
            f"Cannot create the data cache folder {path} ({error}). Set "
            f"{CACHE_ENV_VAR} to a writable folder or pass `cache_dir`."
        ) from error
    return path
