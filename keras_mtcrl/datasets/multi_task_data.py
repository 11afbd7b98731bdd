"""The contract between dataset builders, recipes and the trainer."""

import dataclasses

import tensorflow as tf

TASK_KINDS = ("binary", "multiclass", "multilabel", "regression")

#: Split names every builder uses. `train`, `validation` and `test` are
#: in-distribution; the `*_shifted` splits come from the shifted
#: distribution (out-of-distribution).
SPLIT_NAMES = (
    "train",
    "validation",
    "test",
    "validation_shifted",
    "test_shifted",
)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about one task.

    Args:
        name: str. The task's key in the label dict.
        kind: str. One of `"binary"`, `"multiclass"`, `"multilabel"`,
            `"regression"`.
        units: int. Number of classes (multiclass), labels (multilabel) or
            outputs (regression, binary: 1).
        dense: bool. True when the label is per pixel (segmentation,
            depth, normals). Defaults to `False`.

    Example:

    >>> TaskSpec("left", "multiclass", 10)
    TaskSpec(name='left', kind='multiclass', units=10, dense=False)
    """

    name: str
    kind: str
    units: int
    dense: bool = False

    def __post_init__(self):
        if self.kind not in TASK_KINDS:
            raise ValueError(
                f"`kind` of task '{self.name}' must be one of {TASK_KINDS}. "
                f"Received: kind={self.kind!r}"
            )
        if int(self.units) < 1:
            raise ValueError(
                f"`units` of task '{self.name}' must be a positive int. "
                f"Received: units={self.units!r}"
            )


@dataclasses.dataclass
class MultiTaskData:
    """Splits of one multi-task dataset, ready for `tf.data` batching.

    Each split is an *unbatched* `tf.data.Dataset` whose elements are
    `(features, labels)`: `features` is a dict of tensors (the model input;
    it holds the integer environment id under `environment_key` when the
    data defines environments), `labels` a dict keyed by task name.

    Args:
        splits: dict. Split name (see `SPLIT_NAMES`) to dataset.
        tasks: tuple of `TaskSpec`.
        num_environments: int. Number of distinct environment ids in the
            `environment_key` feature; 0 when the data has none (the model
            then derives environments from the other tasks' labels).
        environment_key: str. Feature key of the environment id.
            Defaults to `"env"`.
        description: str. One paragraph: source, licence, the shift.
        sizes: dict. Split name to number of examples, when known.
        metadata: dict. What models need to know about the inputs
            (vocabulary sizes, feature widths, ...).

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices(
    ...     ({"x": tf.zeros((4, 3))}, {"y": tf.zeros((4,), "int32")}))
    >>> data = MultiTaskData({"train": ds}, (TaskSpec("y", "binary", 1),), 0)
    >>> data.task_names
    ('y',)
    """

    splits: dict
    tasks: tuple
    num_environments: int
    environment_key: str = "env"
    description: str = ""
    sizes: dict = dataclasses.field(default_factory=dict)
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def task_names(self):
        return tuple(task.name for task in self.tasks)

    def split(self, name):
        """Returns split `name`, with an error that lists the known ones."""
        if name not in self.splits:
            raise KeyError(
                f"Unknown split {name!r}. This dataset has: "
                f"{sorted(self.splits)}"
            )
        return self.splits[name]

    def batched(self, name, batch_size, shuffle=False, seed=0):
        """Returns split `name` batched, shuffled when asked, prefetched."""
        ds = self.split(name)
        if shuffle:
            ds = ds.shuffle(
                self.sizes.get(name, 10_000), seed=seed,
                reshuffle_each_iteration=True,
            )
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
