"""What a training run prints: Keras' progress mode and run headers."""

import sys


def resolve_verbose(verbose, stream=None):
    """Keras `verbose` for `fit`: `"auto"` is 1 on a terminal, else 2.

    Args:
        verbose: int or `"auto"`.
        stream: file object whose terminal-ness decides `"auto"`.
            Defaults to `sys.stdout`.

    Returns:
        int: 0, 1 or 2.

    Example:

    >>> import io
    >>> resolve_verbose("auto", io.StringIO())
    2
    >>> resolve_verbose(0)
    0
    """
    if verbose != "auto":
        return int(verbose)
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return 1 if isatty is not None and isatty() else 2


def run_header(config, architecture, tasks, groups):
    """The line printed before a model is trained.

    Example:

    >>> from keras_mtcrl.training.recipe_config import RecipeConfig
    >>> config = RecipeConfig(name="demo")
    >>> run_header(config, "single_task", ("a",), [("a",), ("b",)])
    '== demo | seed 0 | single_task | task a (1 of 2)'
    >>> run_header(config, "mtcrl", ("a", "b"), [("a", "b")])
    '== demo | seed 0 | mtcrl'
    """
    line = f"== {config.name} | seed {config.seed} | {architecture}"
    if len(groups) > 1:
        index = list(groups).index(tuple(tasks)) + 1
        line += f" | task {', '.join(tasks)} ({index} of {len(groups)})"
    return line
