"""GroupDRO: minimise the worst group's loss, one task at a time."""

import keras
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.per_sample import weighted_per_sample
from keras_mtcrl.losses.replica_stats import cross_replica_sum
from keras_mtcrl.models.multi_task_model import MultiTaskModel
from keras_mtcrl.models.multi_task_model import revive_layers
from keras_mtcrl.models.reweighted_model import revive_groups


@keras_mtcrl_export
class GroupDROModel(MultiTaskModel):
    """Multi-task model trained with online GroupDRO per task.

    Sagawa et al., "Distributionally Robust Neural Networks for Group
    Shifts", ICLR 2020. Each task `t` keeps a distribution `q_t` over its
    groups (the cells `(y_t, c)` of `keras_mtcrl.models.LabelGroups`: its
    own label crossed with the other tasks' labels, or with the
    environment id). Every training step first moves `q_t` toward the
    groups with the highest loss, `q_g <- q_g exp(step_size * R_g)`
    (normalised), then minimises `sum_g q_g R_g` in place of the mean
    loss of task `t`. Group losses and counts are those of the global
    batch (summed over replicas), so the step is the same on any number
    of devices. Groups absent from a batch have loss 0 there, as in the
    reference implementation. Samples whose group is unknown keep their
    plain weight. `q_t` is model state (a non-trainable variable): it is
    saved with the weights and restored by `BackupAndRestore`.
    Validation and evaluation losses are the plain ones.

    Args:
        encoder: `keras.layers.Layer`. The shared network.
        heads: dict of task name to head layer.
        groups: `keras_mtcrl.models.LabelGroups`. Defines the groups.
        step_size: float. `eta`, the step of the group weights, > 0.
            Defaults to `0.01`.
        router: router layer or None (hard sharing). Defaults to `None`.
        input_shape: tuple, dict of tuples, or None. As in
            `MultiTaskModel`. Defaults to `None`.
        **kwargs: `MultiTaskModel` arguments.

    Example:

    >>> import numpy as np
    >>> from keras_mtcrl.layers import TaskHead
    >>> from keras_mtcrl.models import LabelGroups
    >>> heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
    >>> groups = LabelGroups(
    ...     {"a": ("binary", 1), "b": ("binary", 1)},
    ...     {"a": [[2, 1], [0, 1]], "b": [[2, 0], [1, 1]]})
    >>> model = GroupDROModel(keras.layers.Dense(4), heads, groups,
    ...                       step_size=0.5, input_shape=(None, 3))
    >>> model.group_weights["a"].numpy().tolist()
    [0.25, 0.25, 0.25, 0.25]
    >>> model.compile()
    >>> x = np.ones((4, 3), "float32")
    >>> y = {"a": np.array([0, 0, 0, 1], "float32"),
    ...      "b": np.array([0, 0, 1, 1], "float32")}
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> round(float(model.group_weights["a"].numpy().sum()), 6)
    1.0
    """

    def __init__(
        self,
        encoder,
        heads,
        groups,
        step_size=0.01,
        router=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(encoder, heads, router=router, **kwargs)
        if not isinstance(step_size, (int, float)) or step_size <= 0:
            raise ValueError(
                "`step_size` must be a positive number. Received: "
                f"step_size={step_size!r}"
            )
        self.groups = revive_groups(groups)
        self.step_size = float(step_size)
        self.group_weights = {}
        self._input_shape_arg = input_shape
        if input_shape is not None:
            self.build(input_shape)

    def build(self, input_shape):
        if not self.group_weights:
            for task in self.task_names:
                size = self.groups.num_cells(task)
                self.group_weights[task] = self.add_weight(
                    name=f"group_weights_{task}",
                    shape=(size,),
                    initializer=keras.initializers.Constant(1.0 / size),
                    trainable=False,
                    aggregation="only_first_replica",
                )
        super().build(input_shape)

    def forward(self, inputs, labels, sample_weight, training):
        forward = super().forward(inputs, labels, sample_weight, training)
        if not training:
            return forward
        weights = {
            task: self._robust_weights(
                task, loss, valid, labels, forward["environment"]
            )
            for task, (loss, valid, _, _) in forward["per_sample"].items()
        }
        return weighted_per_sample(forward, weights)

    def _robust_weights(self, task, loss, valid, labels, environment):
        """Updates `q_task`; returns per-sample weights of `sum_g q_g R_g`."""
        cells, known = self.groups.cells(labels, environment, task)
        size = self.groups.num_cells(task)
        member = tf.one_hot(cells, size) * (known * valid)[:, None]
        counts, sums, total = cross_replica_sum(
            (
                tf.reduce_sum(member, axis=0),
                tf.linalg.matvec(member, loss, transpose_a=True),
                tf.reduce_sum(valid * known),
            )
        )
        group_loss = sums / tf.maximum(counts, 1.0)
        variable = self.group_weights[task]
        q = tf.convert_to_tensor(variable) * tf.exp(
            self.step_size * group_loss
        )
        q = q / tf.reduce_sum(q)
        variable.assign(q)
        # A member of group g gets N q_g / n_g: the task's mean over the
        # N valid samples then equals sum_g q_g R_g.
        per_sample = tf.gather(total * q / tf.maximum(counts, 1.0), cells)
        return tf.where(known > 0, per_sample, 1.0)

    def get_config(self):
        config = super().get_config()
        config["groups"] = self.groups.get_config()
        config["step_size"] = self.step_size
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**revive_layers(config))
