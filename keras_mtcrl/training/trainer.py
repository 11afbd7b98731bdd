"""The one trainer every recipe shares."""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.callbacks.causal_graph_image import CausalGraphImage
from keras_mtcrl.callbacks.divergence_guard import DivergenceGuard
from keras_mtcrl.callbacks.run_fingerprint import RunMismatchError
from keras_mtcrl.training import results as results_io
from keras_mtcrl.training.callbacks_factory import early_stopping
from keras_mtcrl.training.callbacks_factory import run_callbacks
from keras_mtcrl.training.callbacks_factory import write_hparams
from keras_mtcrl.training.console import resolve_verbose
from keras_mtcrl.training.console import run_header
from keras_mtcrl.training.distributed_loop import DistributedLoop
from keras_mtcrl.training.distributed_loop import needs_distributed_loop
from keras_mtcrl.training.epoch_shuffle import EpochShuffle
from keras_mtcrl.training.evaluation_logs import write_evaluation
from keras_mtcrl.training.logdir_lock import LogdirLock
from keras_mtcrl.training.model_factory import build_model
from keras_mtcrl.training.model_factory import compile_options
from keras_mtcrl.training.model_factory import prediction_model
from keras_mtcrl.training.run_state import LOOP_CHECKPOINTS
from keras_mtcrl.training.run_state import RunFileError
from keras_mtcrl.training.run_state import prepare_run_dir
from keras_mtcrl.training.run_state import run_fingerprint
from keras_mtcrl.training.strategy import make_strategy
from keras_mtcrl.training.validation import validate_data
from keras_mtcrl.training.worker_role import is_chief
from keras_mtcrl.training.worker_role import remove_writer_dir
from keras_mtcrl.training.worker_role import writer_dir
from keras_mtcrl.visualization.graph_heatmap import save_graph_heatmap

EVAL_SPLITS = ("validation", "test", "test_shifted", "validation_shifted")


class Trainer:
    """Trains a recipe's MT-CRL model and baselines, evaluates and reports.

    For each seed and architecture the trainer builds the model inside the
    strategy's scope, trains it with `model.fit` (TensorBoard,
    BackupAndRestore, best-model checkpoint, graph image), evaluates it on
    the in-distribution and shifted test splits and writes `result.json`.
    A finished architecture is skipped when the run is started again, and
    an interrupted one resumes from its last epoch, so nothing is lost on
    interruption. Each `result.json` and backup records a fingerprint of
    the config (data arguments and seed included): files made under
    another config are never reused (`RunMismatchError` names the
    differing fields) unless `overwrite=True` deletes them. The run holds
    a lock on `logdir` (`LogdirLockedError` names the holder's PID). A run
    whose loss explodes (`DivergenceGuard`, `divergence_factor` of the
    config) stops and is reported as diverged, without scores. At the end
    it writes `results.json`, the graph heatmap `causal_graph.png` and
    returns a summary with a table (mean ± std over seeds).

    Under MultiWorkerMirroredStrategy, where Keras 3 `fit` fails
    (keras-team/keras#20329), the same steps run in a
    `keras_mtcrl.training.DistributedLoop` (per-worker input pipelines,
    `tf.train.CheckpointManager` checkpoints restored by every worker,
    per-epoch logs and TensorBoard from the chief); only the chief writes
    the run's files and takes the lock, so `logdir` must be a folder all
    workers share. That path has no `best.keras` and no divergence guard.

    Args:
        recipe: `keras_mtcrl.training.Recipe`.
        logdir: str. Output folder. Defaults to `runs/<recipe name>`.
        strategy: str or `tf.distribute.Strategy`. See
            `keras_mtcrl.training.make_strategy`. Defaults to `"auto"`.
        verbose: int or `"auto"`. Keras progress output (0 none, 1 bar, 2
            one line per epoch); `"auto"` is 1 when stdout is a terminal
            and 2 otherwise (a log file gets no progress-bar control
            characters). Defaults to `1`. `Trainer.describe(summary)`
            renders the summary that `run` returns (the CLI prints it).
        headers: bool or None. Print a `== recipe | seed | architecture`
            line before each model is trained (naming the task of a
            `single_task` model). None: when `verbose` is not 0. Defaults
            to None.
        callbacks: sequence of `keras.callbacks.Callback`, added to every
            `fit` after the trainer's own. Defaults to `()`.
        overwrite: bool. Delete an architecture's files made under another
            config (or unreadable) instead of refusing. Defaults to
            `False`.

    Example:

    >>> import tempfile
    >>> from keras_mtcrl.training import get_recipe
    >>> recipe = get_recipe("synthetic")
    >>> recipe = recipe.with_config(epochs=1, architectures=("mtcrl",))
    >>> summary = Trainer(recipe, tempfile.mkdtemp(), "one", 0).run()
    >>> sorted(summary["stats"])
    ['mtcrl']
    """

    def __init__(
        self,
        recipe,
        logdir=None,
        strategy="auto",
        verbose=1,
        callbacks=(),
        overwrite=False,
        headers=None,
    ):
        self.recipe = recipe
        self.overwrite = bool(overwrite)
        self.extra_callbacks = list(callbacks)
        self.config = recipe.config
        self.logdir = logdir or os.path.join("runs", self.config.name)
        self.strategy = (
            make_strategy(strategy) if isinstance(strategy, str) else strategy
        )
        self.use_loop = needs_distributed_loop(self.strategy)
        self.chief = is_chief(self.strategy)
        self.verbose = resolve_verbose(verbose)
        self.headers = bool(self.verbose) if headers is None else headers

    # ---- One model ----------------------------------------------------
    def _fit(self, data, config, architecture, tasks, run_dir, fingerprint):
        keras.utils.set_random_seed(config.seed)
        shuffle = EpochShuffle(config.seed)
        with self.strategy.scope():
            model = build_model(self.recipe, data, architecture, tasks)
            model.compile(
                optimizer=keras.optimizers.Adam(config.learning_rate),
                jit_compile=config.jit_compile,
                **compile_options(self.recipe, data, tasks),
            )
        if self.use_loop:
            return self._fit_loop(
                model, data, config, architecture, tasks, run_dir,
                fingerprint, shuffle,
            )
        train, validation = training_datasets(data, config, tasks, shuffle)
        train = without_auto_shard(train)
        validation = without_auto_shard(validation)
        # Bad labels, features or environments fail here, before training.
        validate_data(data, model, dataset=train)
        write_hparams(
            os.path.join(run_dir, "tensorboard"), config, architecture
        )
        callbacks = run_callbacks(
            run_dir, config, architecture == "mtcrl", shuffle, fingerprint
        )
        history = model.fit(
            train,
            validation_data=validation,
            epochs=config.epochs,
            callbacks=callbacks + self.extra_callbacks,
            verbose=self.verbose,
            shuffle=False,  # EpochShuffle shuffles, resumably.
        )
        model.save(os.path.join(run_dir, "final.keras"))
        guards = [c for c in callbacks if isinstance(c, DivergenceGuard)]
        # The last epoch trained (fewer with early stopping); the last of
        # the config when a resumed run had none left.
        last_epoch = history.epoch[-1] if history.epoch else config.epochs - 1
        return model, (guards[0].diverged if guards else None), last_epoch

    def _fit_loop(
        self, model, data, config, architecture, tasks, run_dir, fingerprint,
        shuffle,
    ):
        """`_fit` with a `DistributedLoop` instead of `model.fit`."""
        train = training_examples(data, tasks, shuffle)
        validate_data(data, model, dataset=train.batch(config.batch_size))
        board = os.path.join(run_dir, "tensorboard")
        callbacks = [shuffle]
        if self.chief:
            write_hparams(board, config, architecture)
            if architecture == "mtcrl":
                callbacks.append(CausalGraphImage(board))
        if config.early_stopping_patience:
            callbacks.append(early_stopping(config, architecture == "mtcrl"))
        loop = DistributedLoop(
            model,
            self.strategy,
            checkpoint_dir=os.path.join(run_dir, LOOP_CHECKPOINTS),
            tensorboard_dir=board,
            verbose=self.verbose,
            fingerprint=fingerprint,
        )
        history = loop.fit(
            train,
            config.batch_size,
            config.epochs,
            validation=_select(data.split("validation"), tasks),
            callbacks=callbacks + self.extra_callbacks,
        )
        # Every worker saves (reading variables may need the others); only
        # the chief's file is kept.
        folder = writer_dir(run_dir, self.strategy)
        model.save(os.path.join(folder, "final.keras"))
        remove_writer_dir(folder, run_dir)
        self._loop = loop
        epochs = history["epoch"]
        return model, None, epochs[-1] if epochs else config.epochs - 1

    def _evaluate(self, model, data, config, tasks):
        scores = {}
        for split in EVAL_SPLITS:
            if split not in data.splits:
                continue
            if self.use_loop:
                scores[split] = self._loop.evaluate(
                    _select(data.split(split), tasks), config.batch_size
                )
                continue
            scores[split] = model.evaluate(
                without_auto_shard(
                    _select(data.batched(split, config.batch_size), tasks)
                ),
                verbose=0,
                return_dict=True,
            )
        return scores

    def _run_architecture(self, data, config, architecture, seed_dir):
        run_dir = os.path.join(seed_dir, architecture)
        done = os.path.join(run_dir, "result.json")
        fingerprint = run_fingerprint(config, architecture)
        saved = self._prepare(run_dir, fingerprint)
        if saved is not None:
            return saved
        result = {"scores": {}, "fingerprint": fingerprint}
        groups = (
            [(t,) for t in data.task_names]
            if architecture == "single_task"
            else [data.task_names]
        )
        for tasks in groups:
            if self.headers:
                print(run_header(config, architecture, tasks, groups))
            group_dir = run_dir if len(groups) == 1 else os.path.join(
                run_dir, tasks[0]
            )
            model, diverged, last_epoch = self._fit(
                data, config, architecture, tasks, group_dir, fingerprint
            )
            if diverged is not None:
                # No scores: a diverged model's numbers are not a result.
                result = {
                    "scores": {},
                    "fingerprint": fingerprint,
                    "diverged": {**diverged, "tasks": list(tasks)},
                }
                break
            with self.strategy.scope():
                model = prediction_model(
                    self.recipe, data, architecture, model, tasks
                )
            scores = self._evaluate(model, data, config, tasks)
            if self.chief:
                write_evaluation(
                    os.path.join(group_dir, "tensorboard"), scores, last_epoch
                )
            for split, metrics in scores.items():
                result["scores"].setdefault(split, {}).update(metrics)
            if architecture == "mtcrl":
                result["graph"] = model.causal_graph().tolist()
                result["graph_table"] = model.causal_graph_table()
        if self.chief:
            results_io.write_json(done, result)
        return result

    def _prepare(self, run_dir, fingerprint):
        """`prepare_run_dir`; only the chief deletes with `overwrite`."""
        if self.chief:
            return prepare_run_dir(run_dir, fingerprint, self.overwrite)
        try:
            return prepare_run_dir(run_dir, fingerprint)
        except (RunMismatchError, RunFileError):
            if not self.overwrite:
                raise
            return None  # The chief deletes the files and trains again.

    # ---- The whole recipe ---------------------------------------------
    def run(self, seeds=None):
        """Trains every architecture for every seed; returns the summary.

        Args:
            seeds: sequence of int, or None for the recipe's seed.

        Returns:
            Dict with `stats` (arch -> split -> metric -> mean/std/n),
            `delta_m` (arch -> split -> % against `single_task`, empty
            when that baseline is not among the architectures), `table`
            (markdown, with the `delta_m` rows), `graph` (T x K list) and
            `logdir`.
        """
        seeds = list(seeds) if seeds else [self.config.seed]
        if not self.chief:  # The chief holds the lock for the cluster.
            return self._run(seeds)
        with LogdirLock(self.logdir):
            return self._run(seeds)

    def _run(self, seeds):
        per_seed, graph, tasks, diverged = [], None, None, {}
        if self.config.mixed_precision:
            keras.config.set_dtype_policy(self.config.mixed_precision)
        for seed in seeds:
            config = self.config.replace(seed=seed)
            data = self.recipe.build_data(config)
            tasks = data.tasks
            seed_dir = os.path.join(self.logdir, f"seed_{seed}")
            scores = {}
            for architecture in config.architectures:
                result = self._run_architecture(
                    data, config, architecture, seed_dir
                )
                scores[architecture] = result["scores"]
                graph = result.get("graph", graph)
                if "diverged" in result:
                    diverged.setdefault(architecture, {})[seed] = result[
                        "diverged"
                    ]
            per_seed.append(scores)
        return self._report(per_seed, graph, tasks, seeds, diverged)

    def _report(self, per_seed, graph, tasks, seeds, diverged):
        stats = results_io.aggregate(per_seed)
        rows = [
            (t.name, key)
            for t in tasks
            for key in results_io.metric_names(
                t.name, t.kind, self.config.primary_metrics
            )
        ]
        splits = ["test", "test_shifted"]
        delta = results_io.delta_m_by_split(stats, rows, splits)
        table = results_io.format_table(
            stats,
            rows,
            list(self.config.architectures),
            splits,
            delta,
            diverged=diverged,
        )
        summary = {
            "recipe": self.config.name,
            "config": self.config.to_dict(),
            "seeds": seeds,
            "stats": stats,
            "delta_m": delta,
            "diverged": diverged,
            "table": table,
            "graph": graph,
            "tasks": [t.name for t in tasks],
            "logdir": self.logdir,
        }
        if not self.chief:
            return summary
        results_io.write_json(
            os.path.join(self.logdir, "results.json"), summary
        )
        if graph is not None:
            summary["graph_png"] = save_graph_heatmap(
                np.asarray(graph),
                summary["tasks"],
                os.path.join(self.logdir, "causal_graph.png"),
                title=f"{self.config.name}: learned task-to-module graph",
            )
        return summary

    @staticmethod
    def describe(summary):
        """The text printed at the end of a run."""
        lines = [
            "",
            f"Results of recipe '{summary['recipe']}' over seeds "
            f"{summary['seeds']} (mean ± std):",
            summary["table"],
        ]
        if summary.get("graph") is not None:
            lines.append(
                "Learned task-to-module graph (last seed), rows = tasks:"
            )
            for task, row in zip(summary["tasks"], summary["graph"]):
                lines.append(
                    f"  {task:>12}: " + " ".join(f"{v:.2f}" for v in row)
                )
            lines.append(f"Graph heatmap: {summary.get('graph_png')}")
        lines.append(f"Results JSON: {summary['logdir']}/results.json")
        lines.append(
            f"TensorBoard: tensorboard --logdir {summary['logdir']}"
        )
        return "\n".join(lines)


def _select(dataset, tasks):
    """Keeps only the labels of `tasks` (a single-task model's one task)."""
    return dataset.map(
        lambda features, labels: (features, {t: labels[t] for t in tasks}),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def without_auto_shard(dataset):
    """`dataset` with tf.data's auto-sharding off.

    Only for single-worker strategies (the trainer refuses multi-worker,
    see `Trainer.__init__`), where auto-sharding does nothing: left on,
    TensorFlow still tries it on every dataset fit and evaluate
    distribute, and logs a warning each time a split carries an
    `assert_cardinality`.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF
    )
    return dataset.with_options(options)


def training_examples(data, tasks, shuffle):
    """The unbatched training split of `tasks`, shuffled by `shuffle`."""
    size = data.sizes.get("train")
    return shuffle.apply(_select(data.split("train"), tasks), size or 10_000)


def training_datasets(data, config, tasks, shuffle, validation="validation"):
    """The batched train and validation datasets of one training run.

    Args:
        data: `MultiTaskData`.
        config: `RecipeConfig` (batch size).
        tasks: task names whose labels are kept.
        shuffle: `EpochShuffle` (pass it to `fit` as a callback too).
        validation: str. Split used for validation. Defaults to
            `"validation"`.

    Returns:
        `(train, validation)` datasets.
    """
    size = data.sizes.get("train")
    train = training_examples(data, tasks, shuffle)
    if size:
        # Known length: Keras then sizes its progress bar and never mistakes
        # the end of an epoch for data running out.
        train = train.apply(tf.data.experimental.assert_cardinality(size))
    train = train.batch(config.batch_size).prefetch(2)
    held_out = _select(data.batched(validation, config.batch_size), tasks)
    return train, held_out
