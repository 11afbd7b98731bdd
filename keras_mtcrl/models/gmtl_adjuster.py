"""GMTL: divide the joint label prior out of a multi-task prediction."""

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.models.label_groups import CLASSIFICATION_KINDS
from keras_mtcrl.models.label_groups import code_radix
from keras_mtcrl.models.label_groups import collect_labels
from keras_mtcrl.models.label_groups import label_codes
from keras_mtcrl.models.label_groups import task_kinds
from keras_mtcrl.models.multi_task_model import MultiTaskModel

#: Largest joint label space the adjustment enumerates.
MAX_JOINT_SIZE = 100_000
EPSILON = 1e-7


def joint_label_prior(dataset, tasks, smoothing=1.0):
    """The joint prior of the classification tasks' labels, from counts.

    Args:
        dataset: unbatched `tf.data.Dataset` of `(features, labels)` (the
            training split).
        tasks: heads, `TaskSpec`s or dict task -> `(kind, units)`; only the
            binary and multi-class tasks enter the joint, in this order.
        smoothing: float. Added to every count (Laplace). Defaults to
            `1.0`.

    Returns:
        float array `(radix_1, ..., radix_k)`, summing to 1.

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices(
    ...     (np.zeros(4), {"a": [0., 0., 1., 1.], "b": [0., 0., 0., 1.]}))
    >>> joint_label_prior(ds, {"a": ("binary", 1), "b": ("binary", 1)},
    ...                   smoothing=0.0).tolist()
    [[0.5, 0.0], [0.25, 0.25]]
    """
    kinds = {
        t: v for t, v in task_kinds(tasks).items()
        if v[0] in CLASSIFICATION_KINDS
    }
    labels, _ = collect_labels(dataset, list(kinds))
    codes, valid = [], np.ones(len(next(iter(labels.values()))), bool)
    for task, (kind, units) in kinds.items():
        code, ok = label_codes(labels[task], kind, units)
        codes.append(code.numpy())
        valid &= ok.numpy()
    shape = tuple(code_radix(*v) for v in kinds.values())
    counts = np.zeros(shape) + smoothing
    np.add.at(counts, tuple(c[valid] for c in codes), 1.0)
    return counts / counts.sum()


@keras_mtcrl_export
class GMTLAdjuster(MultiTaskModel):
    """A trained multi-task model whose predictions discount the label prior.

    Makino et al., "Generative multitask learning mitigates
    target-causing confounding", NeurIPS 2022. A discriminative model
    learns `p(y | x)`, which carries the training distribution's label
    dependence `p(y)`; when that dependence shifts, the prediction
    `p_alpha(y | x) ∝ p(y | x) / p(y)^alpha` over the *joint* label
    `y = (y_1, ..., y_T)` is more robust (`alpha = 1` is the generative
    classifier `argmax p(x | y)`). The joint `p(y | x)` is taken as the
    product of the model's per-task outputs; the outputs are the
    marginals of the adjusted joint. Only binary and multi-class tasks
    enter the joint (in order); other tasks pass through. Works on any
    trained `MultiTaskModel` (MT-CRL included): the wrapper shares its
    layers, so `compile` and `evaluate` report the adjusted predictions
    under the same metric names. Training the wrapper is not intended.

    Args:
        model: trained `keras_mtcrl.models.MultiTaskModel`.
        joint_prior: array `(radix_1, ..., radix_k)`, the training joint
            of the classification tasks (see `joint_label_prior`).
        alpha: float. Strength of the adjustment, >= 0 (0: no change).
            Defaults to `1.0`.
        **kwargs: base model arguments (`name`).

    Example:

    >>> from keras_mtcrl.layers import TaskHead
    >>> heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
    >>> model = MultiTaskModel(keras.layers.Dense(4), heads,
    ...                        input_shape=(None, 3))
    >>> adjusted = GMTLAdjuster(model, [[0.45, 0.05], [0.05, 0.45]])
    >>> adjusted.compile()
    >>> sorted(adjusted.predict(np.ones((2, 3)), verbose=0))
    ['a', 'b']
    """

    def __init__(self, model, joint_prior, alpha=1.0, **kwargs):
        super().__init__(
            encoder=model.encoder,
            heads=model.heads,
            router=model.router,
            environment_key=model.environment_key,
            **kwargs,
        )
        if not isinstance(alpha, (int, float)) or alpha < 0:
            raise ValueError(
                f"`alpha` must be >= 0. Received: alpha={alpha!r}"
            )
        self.model = model
        self.alpha = float(alpha)
        kinds = task_kinds(model.heads)
        self.joint_tasks = tuple(
            t for t, (kind, _) in kinds.items() if kind in CLASSIFICATION_KINDS
        )
        prior = np.asarray(joint_prior, "float64")
        expected = tuple(code_radix(*kinds[t]) for t in self.joint_tasks)
        if prior.shape != expected or prior.size > MAX_JOINT_SIZE:
            raise ValueError(
                f"`joint_prior` must have shape {expected} (one axis per "
                f"classification task {list(self.joint_tasks)}, at most "
                f"{MAX_JOINT_SIZE} entries). Received shape {prior.shape}."
            )
        self.joint_prior = prior / prior.sum()
        self.built = True

    def build(self, input_shape):
        self.built = True

    def adjust(self, predictions):
        """Adjusted per-task outputs from a dict of model outputs."""
        log_joint = 0.0
        for index, task in enumerate(self.joint_tasks):
            probabilities = tf.cast(predictions[task], "float32")
            if self.heads[task].kind == "binary":
                probabilities = tf.concat(
                    [1.0 - probabilities, probabilities], axis=-1
                )
            log_p = tf.math.log(tf.clip_by_value(probabilities, EPSILON, 1.0))
            shape = [-1] + [1] * len(self.joint_tasks)
            shape[index + 1] = log_p.shape[-1]
            log_joint = log_joint + tf.reshape(log_p, shape)
        log_prior = np.log(np.maximum(self.joint_prior, EPSILON))
        log_joint -= self.alpha * tf.constant(log_prior[None], "float32")
        axes = list(range(1, len(self.joint_tasks) + 1))
        joint = tf.nn.softmax(
            tf.reshape(log_joint, (tf.shape(log_joint)[0], -1)), axis=-1
        )
        joint = tf.reshape(joint, tf.shape(log_joint))
        adjusted = dict(predictions)
        for index, task in enumerate(self.joint_tasks):
            others = [a for a in axes if a != index + 1]
            marginal = tf.reduce_sum(joint, axis=others) if others else joint
            if self.heads[task].kind == "binary":
                marginal = marginal[:, 1:]
            adjusted[task] = tf.cast(marginal, predictions[task].dtype)
        return adjusted

    def call(self, inputs, training=None):
        return self.adjust(self.model(inputs, training=False))

    def forward(self, inputs, labels, sample_weight, training):
        _, environment = self.split_environment(inputs)
        predictions = self.call(inputs)
        per_sample = {
            task: self._task_loss(
                task, labels[task], predictions[task], sample_weight
            )
            for task in self.task_names
        }
        return {
            "modules": None,
            "routed": None,
            "predictions": predictions,
            "per_sample": per_sample,
            "routed_grads": {t: None for t in self.task_names},
            "environment": environment,
        }

    def compile_from_config(self, config):
        # Never trained: its optimizer (unbuilt) has no state to restore.
        self.compile(
            **{
                k: keras.saving.deserialize_keras_object(v)
                for k, v in config.items()
            }
        )

    def get_config(self):
        return {
            "name": self.name,
            "model": keras.saving.serialize_keras_object(self.model),
            "joint_prior": self.joint_prior.tolist(),
            "alpha": self.alpha,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"]
        )
        return cls(**config)

