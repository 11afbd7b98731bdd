"""Dynamic Weight Average: up-weight tasks whose loss falls slowest."""

from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.weighting.loss_weighting import LossWeighting


@keras_mtcrl_export
class DynamicWeightAverage(LossWeighting):
    """Weights from the rate at which each task's loss went down.

    Liu, Johns and Davison, "End-to-End Multi-Task Learning with
    Attention", CVPR 2019 (DWA). With `L_t(e)` task `t`'s mean training
    loss in epoch `e`, the weights of epoch `e` are
    `lambda_t = T exp(r_t / temperature) / sum_j exp(r_j / temperature)`,
    `r_t = L_t(e-1) / L_t(e-2)`: they sum to `T`, and the task whose loss
    decreased least gets the largest weight. The first two epochs use
    `lambda_t = 1`.

    The two previous epochs' losses are non-trainable weights
    (`previous_losses`, `num_epochs`), so they are saved and restored with
    the model. `MultiTaskModel.fit` hands the epoch losses over (the
    logged `loss_<task>`) through a callback it adds; outside `fit`, call
    `record_epoch(losses)` yourself.

    Args:
        temperature: float. Softness of the weights, > 0; larger is closer
            to equal. Defaults to `2.0`.
        **kwargs: base layer keyword arguments.

    Example:

    >>> import numpy as np
    >>> dwa = DynamicWeightAverage()
    >>> dwa.build((2,))
    >>> dwa.record_epoch([1.0, 1.0])
    >>> dwa.record_epoch([0.5, 1.0])
    >>> [round(float(w), 3) for w in dwa(np.zeros(2, "float32"))]
    [0.876, 1.124]
    """

    records_epoch_losses = True

    def __init__(self, temperature=2.0, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not temperature > 0
        ):
            raise ValueError(
                "`temperature` must be a positive number. Received: "
                f"temperature={temperature!r}"
            )
        self.temperature = float(temperature)

    def build(self, input_shape):
        super().build(input_shape)
        self.previous_losses = self.add_weight(
            name="previous_losses",
            shape=(2, self.num_tasks),
            initializer="ones",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.num_epochs = self.add_weight(
            name="num_epochs",
            shape=(),
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
        )

    def call(self, losses, step=None, training=None):
        previous = ops.convert_to_tensor(self.previous_losses)
        ratios = ops.divide_no_nan(previous[1], previous[0])
        weights = self.num_tasks * ops.softmax(ratios / self.temperature)
        return ops.where(
            self.num_epochs >= 2.0, weights, ops.ones_like(weights)
        )

    def record_epoch(self, losses):
        losses = ops.cast(ops.reshape(losses, (1, self.num_tasks)), "float32")
        previous = ops.convert_to_tensor(self.previous_losses)
        self.previous_losses.assign(
            ops.concatenate([previous[1:], losses], axis=0)
        )
        self.num_epochs.assign(self.num_epochs + 1.0)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
