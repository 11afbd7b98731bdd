"""`main` of the `keras-mtcrl` command."""

import sys

from keras_mtcrl_cli.catalog import listing
from keras_mtcrl_cli.environment import quiet_tensorflow
from keras_mtcrl_cli.parser import build_top_parser

# First arguments answered without importing TensorFlow.
_LIGHT = ("-h", "--help", "--version", "list")


def main(argv=None):
    """Runs `keras-mtcrl` with `argv` and returns the exit code.

    `--help`, `--version` and `list` answer from the standard library,
    and `launch` starts local workers (`keras_mtcrl_cli.local_cluster`);
    other commands import `keras_mtcrl.cli` (and so TensorFlow) after
    `quiet_tensorflow`. Without TensorFlow installed, the error names the
    extra to install and the exit code is 1.

    Args:
        argv: list of str. Defaults to `sys.argv[1:]`.

    Returns:
        int, the exit code.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in _LIGHT:
        parser, _ = build_top_parser()
        args = parser.parse_args(argv[:1])  # --help and --version exit.
        if args.command == "list":
            parser.parse_args(argv)  # `list --help`, or unknown arguments.
            print(listing())
            return 0
    if argv[0] == "launch":
        from keras_mtcrl_cli import local_cluster

        return local_cluster.main(argv[1:])
    quiet_tensorflow()
    try:
        from keras_mtcrl import cli
    except ImportError as error:
        if error.name != "tensorflow":
            raise
        print(f"keras-mtcrl: {error}", file=sys.stderr)
        return 1
    return cli.main(argv)
