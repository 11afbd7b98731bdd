"""Environments for the invariance penalty: supplied or derived from labels.

An environment is a re-weighting of the samples under which a spurious
correlation changes strength. With an attribute column (an integer id per
sample) each id is one environment. Without one, MT-CRL's spurious
correlation between task labels gives them: for task `t` and each other
task `s`,

- `"balanced"`: the observed distribution and the one re-weighted by
  `P(y_t) P(y_s) / P(y_t, y_s)`, under which `y_s` says nothing about
  `y_t` (a shortcut through `s` helps in the first and not in the second);
- `"agreement"`: samples whose label pair is more frequent than under
  independence (`P(y_t, y_s) > P(y_t) P(y_s)`, "agreeing") against the
  others ("conflicting").

Grouping samples by the *value* of `y_s` does not work: inside such a
group a shortcut through `s` is a constant. The label frequencies are
counted over the training batches seen so far (`LabelPairCounts`).
"""

import itertools

import keras
import tensorflow as tf

from keras_mtcrl.losses.replica_stats import cross_replica_sum


def label_code(labels, kind, units, task, threshold=None):
    """Discretises one task's labels into `(code, radix, valid)`.

    Multi-class labels are their class id, binary labels 0/1, multi-label
    targets their first positive label (argmax), regression targets
    whether they exceed `threshold` (by default the mean of the global
    batch's valid targets). Missing labels (NaN, negative integers) are
    invalid.

    Args:
        labels: tensor `(batch,)` or `(batch, units)`.
        kind: str. The task's kind.
        units: int. The task's number of outputs.
        task: str. Task name, for error messages.
        threshold: float or None. Fixed cut of regression targets; None
            uses the global batch mean. Defaults to `None`.

    Returns:
        int32 code `(batch,)`, the int number of codes, bool valid `(batch,)`.
    """
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank is not None and labels.shape.rank > 2:
        raise ValueError(
            f"Cannot derive label codes{f' of task {task!r}' if task else ''}"
            f": the labels are dense (shape {labels.shape}). Supply an "
            "environment column with the data instead."
        )
    if labels.dtype.is_floating:
        valid = tf.math.is_finite(labels)
    else:
        valid = labels >= 0
    if labels.shape.rank == 2:
        valid = tf.reduce_all(valid, axis=-1)
    safe = tf.where(
        tf.reshape(valid, (-1,) + (1,) * (labels.shape.rank - 1)),
        labels,
        tf.zeros_like(labels),
    )
    if kind == "multiclass":
        code = tf.reshape(tf.cast(safe, "int32"), (-1,))
        return code, units, valid & (code < units) & (code >= 0)
    if kind == "multilabel":
        return tf.argmax(safe, axis=-1, output_type="int32"), units, valid
    flat = tf.cast(tf.reshape(safe, (tf.shape(safe)[0], -1))[:, 0], "float32")
    if kind == "binary":
        return tf.cast(flat > 0.5, "int32"), 2, valid
    if threshold is not None:
        return tf.cast(flat > threshold, "int32"), 2, valid
    weights = tf.cast(valid, "float32")
    # The global batch's mean (summed over replicas), so that every
    # replica discretises alike.
    summed, count = cross_replica_sum(
        (tf.reduce_sum(flat * weights), tf.reduce_sum(weights))
    )
    mean = summed / tf.maximum(count, 1.0)
    return tf.cast(flat > mean, "int32"), 2, valid


class LabelPairCounts(keras.layers.Layer):
    """Running joint label counts of every pair of tasks (training batches).

    Holds one non-trainable `(C_t, C_s)` count matrix per pair of tasks
    (`C` = the number of label codes, see `label_code`), summed over every
    training batch seen (and over replicas). Saved with the model, so a
    restored model derives the same environments.

    Args:
        heads: dict task -> head with `kind` and `units`.
        smoothing: float. Added to every joint count before use. Defaults
            to `1.0`.
        **kwargs: base layer keyword arguments.
    """

    def __init__(self, heads, smoothing=1.0, **kwargs):
        super().__init__(**kwargs)
        self.kinds = {
            task: (getattr(h, "kind", None), getattr(h, "units", None))
            for task, h in heads.items()
        }
        self.task_names = tuple(heads)
        self.smoothing = float(smoothing)
        self.counts = {}

    def build(self, input_shape=None):
        for first, second in itertools.combinations(self.task_names, 2):
            shape = (self.radix(first), self.radix(second))
            self.counts[_pair_key(first, second)] = self.add_weight(
                name=f"counts_{first}_{second}",
                shape=shape,
                initializer="zeros",
                trainable=False,
                aggregation="only_first_replica",
            )
        self.built = True

    def radix(self, task):
        kind, units = self.kinds[task]
        if kind is None:
            raise ValueError(
                f"Cannot derive environments from task '{task}': its head "
                "has no `kind`. Supply an environment column with the data."
            )
        return units if kind in ("multiclass", "multilabel") else 2

    def _step_cache(self, labels):
        """The dict of what was derived from this labels dict (codes,
        memberships), made anew for another labels dict or graph.

        One cache per replica: under a strategy every replica must make
        the same cross-replica calls, so none may reuse another's codes.
        """
        replica = id(tf.distribute.get_replica_context())
        graph = tf.compat.v1.get_default_graph()
        cache = self.__dict__.setdefault("_codes_cache", {})
        cached = cache.get(replica)
        if cached is None or cached[0] is not labels or cached[1] is not graph:
            # Holding `labels` keeps its id from being reused while cached.
            cached = cache[replica] = (labels, graph, {})
        return cached[2]

    def codes(self, labels):
        """Task -> `(one-hot code (batch, C) float32, valid float32)`.

        Computed once per labels dict: the update and every task's
        membership in one step share the codes (and, for regression, the
        one cross-replica mean).
        """
        cache = self._step_cache(labels)
        if "codes" in cache:
            return cache["codes"]
        out = {}
        for task in self.task_names:
            kind, units = self.kinds[task]
            code, radix, valid = label_code(labels[task], kind, units, task)
            valid = tf.cast(valid, "float32")
            out[task] = (tf.one_hot(code, radix) * valid[:, None], valid)
        cache["codes"] = out
        return out

    def update(self, labels):
        """Adds one training batch (all replicas) to the counts."""
        codes = self.codes(labels)
        # Memberships read the counts: none made before this update counts.
        cache = self._step_cache(labels)
        for key in [k for k in cache if k != "codes"]:
            del cache[key]
        updates = []
        for first, second in itertools.combinations(self.task_names, 2):
            variable = self.counts[_pair_key(first, second)]
            batch = tf.matmul(codes[first][0], codes[second][0], True)
            updates.append(variable.assign_add(cross_replica_sum(batch)))
        return updates

    def joint(self, task, other):
        """Smoothed `P(y_task, y_other)`, float32 `(C_task, C_other)`."""
        if _pair_key(task, other) in self.counts:
            counts = tf.convert_to_tensor(self.counts[_pair_key(task, other)])
        else:
            counts = tf.transpose(
                tf.convert_to_tensor(self.counts[_pair_key(other, task)])
            )
        counts = counts + self.smoothing
        return counts / tf.reduce_sum(counts)

    def membership(self, labels, task, mode):
        """Per-sample weights of each derived environment of `task`.

        Args:
            labels: dict task -> labels.
            task: str.
            mode: str. `"balanced"` or `"agreement"`.

        Returns:
            float32 `(batch, 2 * (T - 1))`: per other task, the observed and
            the re-weighted (`"balanced"`) or agreeing and conflicting
            (`"agreement"`) samples; zero where the sample lacks `task`'s
            or that other task's label.
        """
        return self.memberships(labels, mode)[task]

    def memberships(self, labels, mode):
        """Task -> `membership(labels, task, mode)`, for every task.

        Each pair of tasks is worked out once: the balancing weight
        `P(y_t) P(y_s) / P(y_t, y_s)` and whether a pair of labels agrees
        are symmetric in `t` and `s`. Kept for the step (see `cached`).
        """
        return self.cached(
            labels,
            ("memberships", mode),
            lambda: self._memberships(labels, mode),
        )

    def cached(self, labels, key, make):
        """`make()`, kept under `key` for this labels dict inside a traced
        function until the next `update` (anything made from the counts
        and these labels: one step's penalties, metrics and weights then
        share it). Eagerly the counts may change between calls (an
        assignment, a restore), so nothing is kept."""
        cache = self._step_cache(labels)
        if key in cache:
            return cache[key]
        value = make()
        if tf.inside_function():
            cache[key] = value
        return value

    def _memberships(self, labels, mode):
        codes = self.codes(labels)
        # Pairs of tasks with the same number of label codes are worked
        # out together, `(pairs, ...)` (all of them for tasks of one kind).
        groups = {}
        for first, second in itertools.combinations(self.task_names, 2):
            shape = (self.radix(first), self.radix(second))
            groups.setdefault(shape, []).append((first, second))
        blocks, position = [], {}
        for group in groups.values():
            counts = tf.stack(
                [tf.convert_to_tensor(self.counts[_pair_key(*pair)])
                 for pair in group]
            )
            counts = counts + self.smoothing
            joint = counts / tf.reduce_sum(counts, axis=(1, 2), keepdims=True)
            independent = (
                tf.reduce_sum(joint, 2, keepdims=True)
                * tf.reduce_sum(joint, 1, keepdims=True)
            )
            if mode == "balanced":
                table = independent / joint
            else:
                table = tf.cast(joint > independent, "float32")
            first = tf.stack([codes[f][0] for f, _ in group])
            second = tf.stack([codes[s][0] for _, s in group])
            # Each pair's table entry at each sample's pair of labels (0
            # where the first label is missing), `(pairs, batch)`.
            value = tf.reduce_sum(tf.matmul(first, table) * second, axis=-1)
            both = tf.stack([codes[f][1] for f, _ in group]) * tf.stack(
                [codes[s][1] for _, s in group]
            )
            if mode == "balanced":
                # Both weightings of the samples that carry both labels.
                columns = [both, both * value]
            else:
                columns = [both * value, both * (1.0 - value)]
            # (pairs, batch, 2) -> (batch, 2 * pairs): pair p's columns
            # are 2p and 2p + 1.
            columns = tf.transpose(tf.stack(columns, axis=-1), (1, 0, 2))
            blocks.append(tf.reshape(columns, (-1, 2 * len(group))))
            offset = sum(block.shape[-1] for block in blocks[:-1])
            for index, (first_task, second_task) in enumerate(group):
                column = offset + 2 * index
                position[(first_task, second_task)] = column
                position[(second_task, first_task)] = column
        table = blocks[0] if len(blocks) == 1 else tf.concat(blocks, axis=-1)
        out = {}
        for task in self.task_names:
            indices = []
            for other in self.task_names:
                if other != task:
                    column = position[(task, other)]
                    indices += [column, column + 1]
            out[task] = tf.gather(table, indices, axis=-1)
        return out

    def num_environments(self, mode):
        """Columns of `membership` (`"balanced"` or `"agreement"`): two per
        other task."""
        del mode
        return 2 * (len(self.task_names) - 1)


def _pair_key(first, second):
    """String key of a task pair (checkpoints need string dict keys)."""
    return f"{first}|{second}"


def column_membership(environment, valid, num_environments):
    """One-hot environment ids `(batch, E)` times `valid`; ids outside
    `[0, num_environments)` (e.g. a shifted split's own id) get no row."""
    ids = tf.reshape(tf.cast(environment, "int32"), (-1,))
    membership = tf.one_hot(ids, num_environments)
    return membership * tf.cast(valid, "float32")[:, None]
