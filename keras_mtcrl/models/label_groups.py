"""Groups of training samples by label (and environment), counted once.

The out-of-distribution baselines (label-balanced reweighting, GroupDRO,
IRM and V-REx without an environment column) need, for each task `t`, a
group per sample that carries the confounder. Here a sample's *cell* for
task `t` is the pair `(y_t, c)`: its own label code and a context code
`c`, which is either the joint code of the other tasks' labels
(`grouping="labels"`) or the sample's environment id
(`grouping="environment"`). The cells' counts on the training split fix
everything else: balancing weights, the label each context most often
comes with (agreement groups), and the joint label prior of GMTL.
"""

import numpy as np
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.models.environments import label_code

GROUPINGS = ("labels", "environment")
CLASSIFICATION_KINDS = ("binary", "multiclass")


def task_kinds(tasks):
    """Dict task -> `(kind, units)` from heads or `TaskSpec`s.

    Args:
        tasks: dict task -> object with `kind` and `units` (a head), a
            sequence of `TaskSpec`, or a dict task -> `(kind, units)`.

    Returns:
        Dict task -> `(kind, units)`, in the given order.
    """
    if not isinstance(tasks, dict):
        tasks = {spec.name: spec for spec in tasks}
    kinds = {}
    for task, spec in tasks.items():
        if isinstance(spec, (tuple, list)):
            kinds[task] = (str(spec[0]), int(spec[1]))
        else:
            kinds[task] = (spec.kind, int(spec.units))
    return kinds


def code_radix(kind, units):
    """Number of label codes of a task of `kind` with `units` outputs."""
    return units if kind in ("multiclass", "multilabel") else 2


def label_codes(labels, kind, units, threshold=0.0):
    """Discretises one task's labels into int32 codes and a valid mask.

    Binary labels are 0/1, multi-class labels their class id, multi-label
    targets their first positive label (argmax), regression targets
    whether they exceed `threshold` (the training mean). Missing labels
    (NaN, or negative integers) are invalid.

    Args:
        labels: tensor `(batch,)` or `(batch, units)`.
        kind: str. The task's kind.
        units: int. The task's number of outputs.
        threshold: float. Cut of regression targets. Defaults to `0.0`.

    Returns:
        `(codes, valid)`: int32 `(batch,)` and bool `(batch,)`.

    Example:

    >>> codes, valid = label_codes(tf.constant([0.0, 1.0, float("nan")]),
    ...                            "binary", 1)
    >>> codes.numpy().tolist(), valid.numpy().tolist()
    ([0, 1, 0], [True, True, False])
    """
    code, _, valid = label_code(
        labels, kind, units, task="", threshold=float(threshold)
    )
    return code, valid


def collect_labels(dataset, task_names, environment_key=None):
    """All labels (and environment ids) of an unbatched dataset, in NumPy.

    Args:
        dataset: unbatched `tf.data.Dataset` of `(features, labels)`.
        task_names: sequence of str.
        environment_key: str or None. Feature key of the environment id.

    Returns:
        `(labels, environments)`: dict task -> array, and an int array
        (None when the key is None or absent).
    """
    labels = {t: [] for t in task_names}
    environments = []
    for features, batch in dataset.batch(4096):
        for task in task_names:
            labels[task].append(batch[task].numpy())
        if isinstance(features, dict) and environment_key in features:
            environments.append(features[environment_key].numpy())
    labels = {t: np.concatenate(v) for t, v in labels.items()}
    environments = (
        np.concatenate(environments).astype("int64") if environments else None
    )
    return labels, environments


@keras_mtcrl_export
class LabelGroups:
    """Per-task cells `(y_t, context)` with their training counts.

    For task `t` the context of a sample is the joint code of the other
    tasks' labels (`grouping="labels"`; codes beyond `max_contexts` wrap
    around) or its environment id (`grouping="environment"`). Build it
    with `LabelGroups.from_dataset` on the training split; it is then
    plain data (it serializes with the model).

    - `balancing_weights(t)`: `P(y_t) P(c) / P(y_t, c)` per cell, so that
      under the weighted training distribution `y_t` is independent of
      the context while both marginals are kept. Cells never seen in
      training get 0.
    - `agreement(t)`: 1 for the cells whose `y_t` is the label most often
      seen with their context in training, else 0. For two binary,
      positively correlated tasks this is `1[y_t == y_s]`; for
      multi-class tasks it generalises through the most frequent
      co-occurring class of each context.

    Args:
        tasks: dict task -> `(kind, units)` (see `task_kinds`).
        counts: dict task -> nested list `(radix_t, num_contexts)` of
            training counts, or None (all 0, before counting).
        grouping: str. `"labels"` or `"environment"`. Defaults to
            `"labels"`.
        num_environments: int or None. Environment ids (required for
            `"environment"`). Defaults to `None`.
        environment_key: str. Feature key of the environment id. Defaults
            to `"env"`.
        thresholds: dict task -> float or None. Cut of regression labels
            (training means). Defaults to `None` (0).
        max_contexts: int. Cap on label-context codes. Defaults to `32`.

    Example:

    >>> groups = LabelGroups(
    ...     {"a": ("binary", 1), "b": ("binary", 1)},
    ...     {"a": [[40, 10], [10, 40]], "b": [[40, 10], [10, 40]]})
    >>> groups.balancing_weights("a").tolist()
    [0.625, 2.5, 2.5, 0.625]
    >>> groups.agreement("a").tolist()
    [1.0, 0.0, 0.0, 1.0]
    """

    def __init__(
        self,
        tasks,
        counts,
        grouping="labels",
        num_environments=None,
        environment_key="env",
        thresholds=None,
        max_contexts=32,
    ):
        if grouping not in GROUPINGS:
            raise ValueError(
                f"`grouping` must be one of {GROUPINGS}. Received: "
                f"grouping={grouping!r}"
            )
        if grouping == "environment" and not num_environments:
            raise ValueError(
                "`grouping='environment'` needs `num_environments` (the "
                "data's environment column). Received: "
                f"num_environments={num_environments!r}"
            )
        self.tasks = task_kinds(tasks)
        if grouping == "labels" and len(self.tasks) < 2:
            raise ValueError(
                "`grouping='labels'` needs at least two tasks. Received: "
                f"tasks={list(self.tasks)}"
            )
        self.grouping = grouping
        self.num_environments = num_environments
        self.environment_key = environment_key
        self.thresholds = dict(thresholds or {})
        self.max_contexts = int(max_contexts)
        counts = counts or {t: 0.0 for t in self.tasks}
        self.counts = {
            t: np.broadcast_to(np.ravel(np.asarray(counts[t], "float64")), (
                code_radix(*self.tasks[t]) * self.num_contexts(t),
            )).reshape(
                code_radix(*self.tasks[t]), self.num_contexts(t)
            )
            for t in self.tasks
        }

    # ---- Cells --------------------------------------------------------
    def num_contexts(self, task):
        """Number of context codes of `task`."""
        if self.grouping == "environment":
            return int(self.num_environments)
        radix = 1
        for other, (kind, units) in self.tasks.items():
            if other != task:
                radix = min(radix * code_radix(kind, units), self.max_contexts)
        return radix

    def num_cells(self, task):
        """Number of cells `(y_t, context)` of `task`."""
        return code_radix(*self.tasks[task]) * self.num_contexts(task)

    def _codes(self, labels, task):
        kind, units = self.tasks[task]
        return label_codes(
            labels[task], kind, units, self.thresholds.get(task, 0.0)
        )

    def cells(self, labels, environment, task):
        """Cell id of every sample for `task`.

        Args:
            labels: dict task -> labels `(batch, ...)`.
            environment: int tensor `(batch,)` or None.
            task: str.

        Returns:
            `(cells, valid)`: int32 `(batch,)` (0 where invalid) and
            float32 `(batch,)`, 1 where the task's label and its context
            are known.
        """
        code, valid = self._codes(labels, task)
        num_contexts = self.num_contexts(task)
        if self.grouping == "environment":
            if environment is None:
                raise ValueError(
                    "`grouping='environment'` needs the environment column "
                    f"'{self.environment_key}' in the model's inputs."
                )
            context = tf.reshape(tf.cast(environment, "int32"), (-1,))
            valid &= (context >= 0) & (context < num_contexts)
        else:
            context = tf.zeros_like(code)
            for other, (kind, units) in self.tasks.items():
                if other == task:
                    continue
                other_code, other_valid = self._codes(labels, other)
                context = context * code_radix(kind, units) + other_code
                valid &= other_valid
            context %= num_contexts
        cells = tf.where(valid, code * num_contexts + context, 0)
        return cells, tf.cast(valid, "float32")

    # ---- What the counts say ------------------------------------------
    def balancing_weights(self, task):
        """`(num_cells,)` weights `P(y_t) P(c) / P(y_t, c)` (0 if unseen)."""
        counts = self.counts[task]
        total = max(counts.sum(), 1.0)
        expected = np.outer(counts.sum(1), counts.sum(0)) / total
        weights = np.divide(
            expected, counts, out=np.zeros_like(counts), where=counts > 0
        )
        return weights.reshape(-1).astype("float32")

    def agreement(self, task):
        """`(num_cells,)` 1 where `y_t` is its context's most common label."""
        counts = self.counts[task]
        usual = np.argmax(counts, axis=0)
        agree = np.arange(counts.shape[0])[:, None] == usual[None, :]
        return agree.reshape(-1).astype("float32")

    # ---- Construction and serialization ---------------------------------
    @classmethod
    def from_dataset(
        cls,
        dataset,
        tasks,
        grouping="labels",
        num_environments=None,
        environment_key="env",
        max_contexts=32,
    ):
        """Counts the cells of an unbatched `(features, labels)` dataset.

        Args:
            dataset: unbatched `tf.data.Dataset` (the training split).
            tasks: heads, `TaskSpec`s or dict task -> `(kind, units)`.
            grouping: str. As in the constructor.
            num_environments: int or None. As in the constructor.
            environment_key: str. As in the constructor.
            max_contexts: int. As in the constructor.

        Returns:
            `LabelGroups`.
        """
        kinds = task_kinds(tasks)
        labels, environments = collect_labels(
            dataset, list(kinds), environment_key
        )
        thresholds = {
            t: float(np.nanmean(labels[t]))
            for t, (kind, _) in kinds.items()
            if kind == "regression"
        }
        empty = cls(
            kinds, None, grouping, num_environments, environment_key,
            thresholds, max_contexts,
        )
        counts = {}
        for task in kinds:
            cells, valid = empty.cells(labels, environments, task)
            counts[task] = np.bincount(
                cells.numpy()[valid.numpy() > 0],
                minlength=empty.num_cells(task),
            )
        return cls(
            kinds, counts, grouping, num_environments, environment_key,
            thresholds, max_contexts,
        )

    def get_config(self):
        return {
            "tasks": {t: list(v) for t, v in self.tasks.items()},
            "counts": {t: c.tolist() for t, c in self.counts.items()},
            "grouping": self.grouping,
            "num_environments": self.num_environments,
            "environment_key": self.environment_key,
            "thresholds": self.thresholds,
            "max_contexts": self.max_contexts,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

