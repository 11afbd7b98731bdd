"""The `keras-mtcrl` command line: train, tune, diagnose and list recipes.

The `keras-mtcrl` executable starts in `keras_mtcrl_cli`, which answers
`--help`, `--version` and `list` without TensorFlow and hands every other
command to `main` here.

Every flag of `train` maps one-to-one onto a `RecipeConfig` field (shown by
`keras-mtcrl train --help`), plus the run-level flags `--strategy`,
`--logdir`, `--seeds`, `--data-dir` and `--from-tuning` (start from the
hyperparameters of a `keras-mtcrl tune` result); `--data-arg KEY=VALUE` and
`--model-arg KEY=VALUE` set single entries of `data_args` and `model_args`.
A recipe is a registered name or a recipe file (`path/to/my_recipe.py`,
or `path/to/recipes.py:name` when the file registers several).
"""

import argparse
import ast
import dataclasses
import os
import sys

from keras_mtcrl.training.recipe_config import RecipeConfig
from keras_mtcrl_cli.parser import build_top_parser

_SKIPPED_FIELDS = (
    "name",
    "description",
    "data_args",
    "primary_metrics",
    "model_args",
)
_ALIASES = {"jit_compile": ["--jit"]}


def _field_type(field):
    default = field.default
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, tuple):
        return "tuple"
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return type(default)
    if default is None and field.type in (int, float):
        return field.type  # an optional number, e.g. `float = None`
    return str


def config_flag(field_name):
    """The `train` flag of a `RecipeConfig` field: `--batch-size`."""
    return "--" + field_name.replace("_", "-")


def _add_config_flags(parser):
    group = parser.add_argument_group("recipe config (defaults: the recipe's)")
    for field in dataclasses.fields(RecipeConfig):
        if field.name in _SKIPPED_FIELDS:
            continue
        flag = config_flag(field.name)
        names = [flag] + _ALIASES.get(field.name, [])
        kind = _field_type(field)
        if kind == "bool":
            negatives = [f"--no-{n[2:]}" for n in names]
            group.add_argument(
                *names, dest=field.name, action="store_true", default=None
            )
            group.add_argument(
                *negatives, dest=field.name, action="store_false"
            )
        elif kind == "tuple":
            group.add_argument(
                *names, dest=field.name, default=None, metavar="A,B",
                type=lambda text: tuple(v for v in text.split(",") if v),
            )
        else:
            group.add_argument(*names, dest=field.name, type=kind, default=None)


def _data_arg(text):
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(
            f"--data-arg takes KEY=VALUE. Received: {text!r}"
        )
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return key, value


_RECIPE_HELP = (
    "recipe name (see `keras-mtcrl list`) or recipe file "
    "(path/to/my_recipe.py, or path/to/recipes.py:name)"
)


def build_parser():
    """Returns the `argparse` parser of the `keras-mtcrl` command."""
    parser, commands = build_top_parser()
    train = commands["train"]
    train.add_argument("recipe", help=_RECIPE_HELP)
    _add_strategy_flag(train)
    train.add_argument("--logdir", default=None,
                       help="output folder (default runs/<recipe>)")
    train.add_argument("--seeds", default=None,
                       type=lambda t: [int(s) for s in t.split(",") if s],
                       help="comma-separated seeds; results are mean ± std")
    train.add_argument("--worker-timeout", type=float, default=None,
                       metavar="SECONDS",
                       help="--strategy multiworker: a worker stops with an "
                       "error when an exchange with the others takes longer "
                       "(a lost peer) instead of waiting forever (default: "
                       "no limit)")
    _add_data_dir_flag(train)
    train.add_argument("--from-tuning", default=None, metavar="BEST_JSON",
                       help="start from the hyperparameters of a tuning "
                       "result (runs/tune_<recipe>/best.json); flags given "
                       "here still win")
    train.add_argument("--data-arg", action="append", default=[],
                       type=_data_arg, metavar="KEY=VALUE",
                       help="override one argument of the data builder")
    train.add_argument("--model-arg", action="append", default=[],
                       type=_data_arg, metavar="KEY=VALUE",
                       help="override one model option of the recipe "
                       "(e.g. backbone=segnet)")
    train.add_argument("--quiet", action="store_true",
                       help="no per-epoch output (the `== recipe | seed | "
                       "architecture` headers and the summary still print)")
    train.add_argument("--overwrite", action="store_true",
                       help="retrain architectures whose saved results or "
                       "backups were made under another config (deletes "
                       "them)")
    _add_config_flags(train)
    tune = commands["tune"]
    tune.add_argument("recipe", help=_RECIPE_HELP)
    tune.add_argument("--tuner", default="random",
                      choices=("random", "bayesian", "hyperband"))
    tune.add_argument("--max-trials", type=int, default=5)
    tune.add_argument("--architecture", default="mtcrl",
                      choices=("mtcrl", "shared_bottom", "mmoe"))
    tune.add_argument("--logdir", default=None,
                      help="output folder (default runs/tune_<recipe>)")
    tune.add_argument("--data-arg", action="append", default=[],
                      type=_data_arg, metavar="KEY=VALUE")
    _add_data_dir_flag(tune)
    _add_strategy_flag(tune, default=None)
    tune.add_argument("--epochs", type=int, default=None)
    diagnose = commands["diagnose"]
    diagnose.add_argument("recipe", help=_RECIPE_HELP)
    diagnose.add_argument("--split", default="train")
    diagnose.add_argument("--threshold", type=float, default=0.05,
                          help="excess NMI over chance that flags a pair")
    diagnose.add_argument("--data-arg", action="append", default=[],
                          type=_data_arg, metavar="KEY=VALUE")
    diagnose.add_argument("--png", default=None, metavar="PATH",
                          help="also draw the table as a heatmap PNG here")
    diagnose.add_argument("--logdir", default=None,
                          help="also write the heatmap to TensorBoard (image "
                          "'label_dependence' in LOGDIR/diagnose)")
    _add_data_dir_flag(diagnose)
    return parser


def _add_strategy_flag(parser, default="auto"):
    parser.add_argument(
        "--strategy", default=default,
        choices=("auto", "one", "mirrored", "multiworker", "tpu"),
        help="distribution strategy (see docs/distributed.md; default: "
        + (default or "TensorFlow's default strategy") + ")",
    )


def _add_data_dir_flag(parser):
    parser.add_argument("--data-dir", default=None,
                        help="folder with the dataset's files, when needed")


def _data_args(recipe, args):
    """The recipe's `data_args` with `--data-dir` and `--data-arg` applied."""
    data_args = dict(recipe.config.data_args)
    if args.data_dir:
        data_args["data_dir"] = args.data_dir
    data_args.update(dict(args.data_arg))
    return data_args


def config_overrides(args):
    """Maps parsed `train` flags onto `RecipeConfig.replace` changes."""
    changes = {}
    for field in dataclasses.fields(RecipeConfig):
        value = getattr(args, field.name, None)
        if field.name not in _SKIPPED_FIELDS and value is not None:
            changes[field.name] = value
    return changes


def main(argv=None):
    """Entry point of `keras-mtcrl`; returns the process exit code."""
    args = build_parser().parse_args(argv)
    from keras_mtcrl.training import Trainer
    from keras_mtcrl.training import get_recipe
    from keras_mtcrl.training import list_recipes
    from keras_mtcrl.training.distributed_loop import WorkerLostError
    from keras_mtcrl.training.recipe_files import resolve_recipe
    from keras_mtcrl_cli.catalog import format_listing

    if args.command == "list":
        print(format_listing({
            name: get_recipe(name).config.description
            for name in list_recipes()
        }))
        return 0
    try:
        recipe = resolve_recipe(args.recipe)
    except (KeyError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        print(f"keras-mtcrl: {message}", file=sys.stderr)
        return 2
    if args.command == "tune":
        return _tune(recipe, args)
    if args.command == "diagnose":
        return _diagnose(recipe, args)
    changes = {}
    if args.from_tuning:
        from keras_mtcrl.tuning.tuned_config import tuned_changes

        try:
            changes.update(tuned_changes(args.from_tuning, recipe.config.name))
        except (FileNotFoundError, ValueError) as error:
            print(f"keras-mtcrl: {error}", file=sys.stderr)
            return 2
    changes.update(config_overrides(args))
    changes["data_args"] = _data_args(recipe, args)
    changes["model_args"] = {
        **recipe.config.model_args, **dict(args.model_arg)
    }
    try:
        recipe = recipe.with_config(**changes)
    except ValueError as error:
        # A flag value the recipe config refuses: the message names it.
        print(f"keras-mtcrl: {error}", file=sys.stderr)
        return 2
    strategy = args.strategy
    if strategy == "multiworker":
        from keras_mtcrl.training import make_strategy

        try:
            strategy = make_strategy(
                strategy, timeout_seconds=args.worker_timeout
            )
        except ValueError as error:
            # No TF_CONFIG, or a timeout that is not positive.
            print(f"keras-mtcrl: {error}", file=sys.stderr)
            return 2
    trainer = Trainer(
        recipe,
        logdir=args.logdir,
        strategy=strategy,
        verbose=0 if args.quiet else "auto",
        headers=True,
        overwrite=args.overwrite,
    )
    try:
        summary = trainer.run(seeds=args.seeds)
        if trainer.chief:
            print(Trainer.describe(summary))
        else:
            print("Done; the chief worker wrote the results.")
    except _refusals() as error:
        # Missing dataset files, files of another config, a locked or
        # damaged run folder: the message says what to do.
        print(f"keras-mtcrl: {error}", file=sys.stderr)
        return 2
    except WorkerLostError as error:
        print(f"keras-mtcrl: {error}", file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        # Threads of the aborted collectives can keep the interpreter from
        # exiting: leave at once.
        os._exit(3)
    return 0


def _refusals():
    """Errors the CLI reports in one line (exit 2), not as a traceback."""
    from keras_mtcrl.callbacks.atomic_backup_and_restore import BackupError
    from keras_mtcrl.callbacks.run_fingerprint import RunMismatchError
    from keras_mtcrl.training.logdir_lock import LogdirLockedError
    from keras_mtcrl.training.run_state import RunFileError

    return (
        FileNotFoundError,
        RunMismatchError,
        LogdirLockedError,
        RunFileError,
        BackupError,
    )


def _tune(recipe, args):
    from keras_mtcrl.tuning import tune_recipe
    from keras_mtcrl.tuning.recipe_hypermodel import objective_for

    changes = {"data_args": _data_args(recipe, args)}
    if args.epochs:
        changes["epochs"] = args.epochs
    logdir = args.logdir or os.path.join("runs", f"tune_{recipe.config.name}")
    best = tune_recipe(
        recipe.with_config(**changes),
        tuner=args.tuner,
        max_trials=args.max_trials,
        logdir=logdir,
        architecture=args.architecture,
        strategy=args.strategy,
    )
    # mtcrl trials are compared on the worst-environment loss, others on
    # the task losses.
    objective = objective_for(best["architecture"])
    print(
        f"Best of {best['trials']} trials ({best['tuner']}, chosen on "
        f"{best['selection_split']}): {objective}={best[objective]:.4f}"
    )
    for name, value in sorted(best["hyperparameters"].items()):
        if not name.startswith("tuner/"):  # Hyperband's bookkeeping.
            print(f"  {name} = {value}")
    best_json = os.path.join(logdir, "best.json")
    print(f"Best hyperparameters and config: {best_json}")
    print(f"Best model: {os.path.join(logdir, 'best.keras')}")
    print(f"TensorBoard: tensorboard --logdir {os.path.join(logdir, 'tb')}")
    print(
        f"Train with them: keras-mtcrl train {args.recipe} "
        f"--from-tuning {best_json}"
    )
    return 0


def _diagnose(recipe, args):
    from keras_mtcrl.diagnostics import format_dependence_table
    from keras_mtcrl.diagnostics import label_dependence

    config = recipe.config.replace(data_args=_data_args(recipe, args))
    data = recipe.build_data(config)
    rows = label_dependence(
        data.split(args.split),
        data.tasks,
        environment_key=data.environment_key if data.num_environments else None,
        threshold=args.threshold,
    )
    print(
        f"Label dependence of recipe '{config.name}', split '{args.split}' "
        "(NMI = I(task; given) / H(task)):"
    )
    print(format_dependence_table(rows))
    flagged = sorted(
        {(r["task"], r["given"]) for r in rows if r["flagged"]}
    )
    if flagged:
        pairs = ", ".join(f"{t} <- {g}" for t, g in flagged)
        print(
            f"Likely confounded: {pairs}. Compare shared_bottom with "
            "reweight, groupdro, vrex, fishr and mtcrl (with "
            "--balanced-risk chosen on val_worst_env_loss) on the shifted "
            "test."
        )
    else:
        print("No pair is flagged: labels look independent.")
    if (args.png or args.logdir) and rows:
        from keras_mtcrl.diagnostics import log_dependence_heatmap
        from keras_mtcrl.diagnostics import save_dependence_heatmap

        title = f"{config.name} ({args.split})"
        if args.png:
            save_dependence_heatmap(rows, args.png, title=title)
            print(f"Heatmap: {args.png}")
        if args.logdir:
            log_dependence_heatmap(rows, args.logdir, title=title)
            print(f"TensorBoard: tensorboard --logdir {args.logdir}")
    elif args.png or args.logdir:
        print("No heatmap: the recipe has a single task.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
