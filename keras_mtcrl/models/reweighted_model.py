"""Label-balanced reweighting: the training loss of a decorrelated sample."""

import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.losses.per_sample import check_share
from keras_mtcrl.losses.per_sample import mixed_weights
from keras_mtcrl.losses.per_sample import weighted_per_sample
from keras_mtcrl.models.label_groups import LabelGroups
from keras_mtcrl.models.multi_task_model import MultiTaskModel
from keras_mtcrl.models.multi_task_model import revive_layers


def revive_groups(groups):
    """A `LabelGroups` from itself or from its config dict."""
    if isinstance(groups, LabelGroups):
        return groups
    if isinstance(groups, dict):
        return LabelGroups.from_config(groups)
    raise ValueError(
        "`groups` must be a `keras_mtcrl.models.LabelGroups` (see "
        f"`LabelGroups.from_dataset`). Received: groups={groups!r}"
    )


@keras_mtcrl_export
class ReweightedModel(MultiTaskModel):
    """Multi-task model trained on label-balanced sample weights.

    The remedy a user would try first against a label-label shortcut:
    weight each training sample of task `t` by
    `P(y_t) P(c) / P(y_t, c)`, where `c` is the joint label of the other
    tasks (or the sample's environment id), counted once on the training
    split (`keras_mtcrl.models.LabelGroups`). Under the weighted
    distribution `y_t` is independent of `c`, so the other tasks' labels
    (and the features that predict them) stop being a shortcut, while
    the label marginals are kept. Samples whose group is unknown (a
    missing label of another task) keep weight 1. Only training is
    reweighted: validation and evaluation losses are the plain ones.

    Args:
        encoder: `keras.layers.Layer`. The shared network.
        heads: dict of task name to head layer.
        groups: `keras_mtcrl.models.LabelGroups`. The training counts.
        router: router layer or None (hard sharing). Defaults to `None`.
        share: float in [0, 1]. Share of the reweighted risk: each weight
            `w` becomes `1 - share + share * w`, so 1 is full reweighting
            and 0 the observed risk. Defaults to `1.0`.
        input_shape: tuple, dict of tuples, or None. As in
            `MultiTaskModel`. Defaults to `None`.
        **kwargs: `MultiTaskModel` arguments (`environment_key`,
            `loss_weighting`, `name`, ...).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_mtcrl.layers import TaskHead
    >>> from keras_mtcrl.models import LabelGroups
    >>> heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
    >>> y = {"a": np.array([0, 0, 0, 1], "float32"),
    ...      "b": np.array([0, 0, 1, 1], "float32")}
    >>> x = np.zeros((4, 3), "float32")
    >>> import tensorflow as tf
    >>> groups = LabelGroups.from_dataset(
    ...     tf.data.Dataset.from_tensor_slices((x, y)), heads)
    >>> model = ReweightedModel(keras.layers.Dense(4), heads, groups,
    ...                         input_shape=(None, 3))
    >>> model.compile()
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> model.sample_weights(y, None)["a"].numpy().tolist()
    [0.75, 0.75, 1.5, 0.5]
    """

    def __init__(
        self,
        encoder,
        heads,
        groups,
        router=None,
        input_shape=None,
        share=1.0,
        **kwargs,
    ):
        share = check_share(share, "share")
        super().__init__(encoder, heads, router=router, **kwargs)
        self.share = share
        self.groups = revive_groups(groups)
        self._input_shape_arg = input_shape
        if input_shape is not None:
            self.build(input_shape)

    def sample_weights(self, labels, environment):
        """Dict task -> `(batch,)` training weight of every sample."""
        weights = {}
        for task in self.task_names:
            cells, valid = self.groups.cells(labels, environment, task)
            table = tf.constant(self.groups.balancing_weights(task))
            full = tf.where(valid > 0, tf.gather(table, cells), 1.0)
            weights[task] = mixed_weights(full, self.share)
        return weights

    def forward(self, inputs, labels, sample_weight, training):
        forward = super().forward(inputs, labels, sample_weight, training)
        if not training:
            return forward
        weights = self.sample_weights(labels, forward["environment"])
        return weighted_per_sample(forward, weights)

    def get_config(self):
        config = super().get_config()
        config["groups"] = self.groups.get_config()
        config["share"] = self.share
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**revive_layers(config))
