"""The top level of the `keras-mtcrl` parser: program, version, commands.

The commands' own arguments are added by `keras_mtcrl.cli.build_parser`;
this level needs no TensorFlow, so `--help` and `--version` answer at once.
"""

import argparse
from importlib import metadata

DESCRIPTION = "Multi-Task Causal Representation Learning recipes."

COMMANDS = {
    "list": "list the registered recipes",
    "train": "train a recipe (a registered name or a recipe file)",
    "tune": "search a recipe's hyperparameters",
    "diagnose": "label dependence between tasks (shortcut check)",
    "launch": "run a command as N local workers with TF_CONFIG (testing)",
}


def version():
    """The installed version of the `keras-mtcrl` distribution."""
    try:
        return metadata.version("keras-mtcrl")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_top_parser():
    """Returns `(parser, commands)`: the parser and its command subparsers.

    Returns:
        Tuple of the `argparse.ArgumentParser` and a dict mapping each
        command name of `COMMANDS` to its (still empty) subparser.
    """
    parser = argparse.ArgumentParser(
        prog="keras-mtcrl", description=DESCRIPTION
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-mtcrl {version()}"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    commands = {
        name: subparsers.add_parser(name, help=text, description=text)
        for name, text in COMMANDS.items()
    }
    return parser, commands
