"""A Keras model with one encoder, a router and one head per task."""

import keras
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.gradients.lookup import get as get_gradient_method
from keras_mtcrl.layers.layer_utils import build_sublayer
from keras_mtcrl.layers.layer_utils import check_heads
from keras_mtcrl.layers.shared_router import SharedRouter
from keras_mtcrl.losses.replica_stats import cross_replica_sum
from keras_mtcrl.losses.replica_stats import num_replicas
from keras_mtcrl.models import batch_audit
from keras_mtcrl.models import label_checks
from keras_mtcrl.models import output_checks
from keras_mtcrl.models.config_errors import names_missing_fields
from keras_mtcrl.models.per_task_step import per_task_gradient_step
from keras_mtcrl.models.task_losses import masked_per_sample_loss
from keras_mtcrl.models.task_losses import resolve_task_losses
from keras_mtcrl.models.task_metrics import resolve_task_metrics
from keras_mtcrl.weighting.lookup import get as get_loss_weighting

serialize = keras.saving.serialize_keras_object
deserialize = keras.saving.deserialize_keras_object


@keras_mtcrl_export
class MultiTaskModel(keras.Model):
    """Multi-task model: shared encoder, per-task routing, one head per task.

    The common frame of every multi-task architecture in keras_mtcrl. The
    encoder maps the input to a shared representation, the router gives
    each task its own view of it (all of it for hard parameter sharing, a
    mixture of experts for MMoE, a learned causal graph for MT-CRL) and
    each task's head predicts from that view. Outputs are a dict keyed by
    task name, so `compile(loss={task: ...}, metrics={task: [...]})` works
    as for any multi-output Keras model, with defaults chosen from each
    head's kind.

    Labels are a dict keyed by task; a missing label is NaN (float labels)
    or negative (integer labels) and is left out of that task's loss and
    metrics. If the input is a dict holding `environment_key`, that entry
    is the sample's environment id: it never reaches the encoder (a dict
    left with one entry is passed on as that tensor).

    Each task's mean loss is logged as `loss_<task>`, its metrics as
    `<task>_<metric>`; a metric of a task with no labelled sample in the
    epoch (or evaluation) is NaN, meaning "absent", never a score.

    Every training and evaluation batch is checked in the step (also under
    `jit_compile`): class ids that are non-integral or too large, binary
    or multi-label targets outside [0, 1], and negative or too large
    environment ids are left out and `fit`/`evaluate` raise a `ValueError`
    naming them after that batch (see `keras_mtcrl.models.batch_audit`).
    Predictions (`predict`, a call, an export) for samples with a NaN or
    Inf feature are NaN.

    A `loss_weighting` sets how much each task's loss counts (the
    objective becomes `sum_t lambda_t w_t R_t` plus any extra terms;
    `lambda_t` is logged as `weight_<task>`). A `gradient_method` instead
    combines the tasks' gradients of the shared parameters (those that
    two tasks' losses reach): the step then takes one gradient per task.
    Both can be combined; see `keras_mtcrl.weighting` and
    `keras_mtcrl.gradients`.

    Args:
        encoder: `keras.layers.Layer`. The shared network.
        heads: dict of task name to head layer (e.g.
            `keras_mtcrl.layers.TaskHead`).
        router: layer mapping the encoder output to a dict of per-task
            representations, or None for `SharedRouter` (hard sharing).
            Defaults to `None`.
        environment_key: str. Input key of the environment id. Defaults to
            `"env"`.
        input_shape: tuple, dict of tuples, or None. Shape of one batch of
            inputs (batch axis included, may be None); given, the model is
            built at once. Defaults to `None` (built on first call).
        loss_weighting: `keras_mtcrl.weighting.LossWeighting`, its name
            (`"equal"`, `"uncertainty"`, `"dwa"`, `"gradnorm"`, `"rlw"`),
            or None (plain weighted sum). Defaults to `None`.
        gradient_method: `keras_mtcrl.gradients.GradientMethod`, its name
            (`"pcgrad"`, `"cagrad"`, `"mgda"`, `"imtl"`), or None.
            Defaults to `None`.
        **kwargs: base model keyword arguments (`name`, ...).

    Example:

    >>> import numpy as np
    >>> from keras_mtcrl.layers import ExpertEncoder, TaskHead
    >>> model = MultiTaskModel(
    ...     encoder=ExpertEncoder(num_modules=2, module_units=4),
    ...     heads={"a": TaskHead("binary"), "b": TaskHead("regression")},
    ...     input_shape=(None, 3),
    ... )
    >>> model.compile(optimizer="adam")
    >>> x = np.zeros((8, 3), "float32")
    >>> y = {"a": np.ones(8, "float32"), "b": np.zeros(8, "float32")}
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> sorted(model.predict(x, verbose=0))
    ['a', 'b']
    """

    def __init__(
        self,
        encoder,
        heads,
        router=None,
        environment_key="env",
        input_shape=None,
        loss_weighting=None,
        gradient_method=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.task_names = check_heads(heads)
        self.encoder = encoder
        self.heads = dict(heads)
        self.router = router if router is not None else SharedRouter(
            self.task_names
        )
        router_tasks = getattr(self.router, "task_names", self.task_names)
        if tuple(router_tasks) != self.task_names:
            raise ValueError(
                f"The router's tasks {list(router_tasks)} differ from the "
                f"heads' tasks {list(self.task_names)}."
            )
        self.environment_key = environment_key
        self._input_shape_arg = input_shape
        self.task_loss_trackers = {
            task: keras.metrics.Mean(name=f"loss_{task}")
            for task in self.task_names
        }
        self._metric_bank = _MetricBank({t: [] for t in self.task_names})
        self.loss_weighting = get_loss_weighting(loss_weighting)
        self.gradient_method = get_gradient_method(gradient_method)
        self.weight_trackers = {}
        if self.loss_weighting is not None:
            self.weight_trackers = {
                task: keras.metrics.Mean(name=f"weight_{task}")
                for task in self.task_names
            }
        if input_shape is not None:
            self.build(input_shape)

    # ---- Inputs and building ------------------------------------------
    def split_environment(self, inputs):
        """Returns `(features, environment ids or None)` from model inputs."""
        environment = None
        if isinstance(inputs, dict) and self.environment_key in inputs:
            environment = inputs[self.environment_key]
            inputs = {
                k: v for k, v in inputs.items() if k != self.environment_key
            }
        if isinstance(inputs, dict) and len(inputs) == 1:
            inputs = next(iter(inputs.values()))
        return inputs, environment

    def build(self, input_shape):
        feature_shape, _ = self.split_environment(input_shape)
        modules_shape = build_sublayer(self.encoder, feature_shape)
        routed_shapes = build_sublayer(self.router, modules_shape)
        for task in self.task_names:
            build_sublayer(self.heads[task], routed_shapes[task])
        if self.loss_weighting is not None and not self.loss_weighting.built:
            self.loss_weighting.build((len(self.task_names),))
        self.built = True

    def call(self, inputs, training=None):
        batch_audit.check_inputs(self, inputs)
        features, _ = self.split_environment(inputs)
        modules = self.encoder(features, training=training)
        routed = self.router(modules, training=training)
        outputs = {
            task: self.heads[task](routed[task], training=training)
            for task in self.task_names
        }
        # Non-finite features give NaN, not a confident prediction.
        return output_checks.nan_where_non_finite(features, outputs)

    # ---- Compile ------------------------------------------------------
    def compile(
        self,
        optimizer="adam",
        loss="auto",
        loss_weights=None,
        metrics="auto",
        **kwargs,
    ):
        """Configures the model for training.

        Args:
            optimizer: optimizer name or instance. Defaults to `"adam"`.
            loss: `"auto"` (by head kind: cross-entropy for
                classification, mean squared error for regression), one
                loss for all tasks, or a dict task -> loss.
            loss_weights: None (all 1) or dict task -> float weight `w_t`.
            metrics: `"auto"`, None, a list for all tasks, or a dict task ->
                list of metrics.
            **kwargs: forwarded to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, `run_eagerly`, ...).
        """
        self._task_losses = resolve_task_losses(loss, self.heads)
        self._loss_weights = self._resolve_loss_weights(loss_weights)
        # Made after build: kept in a holder that Keras' attribute
        # tracking (locked once a model is built) does not look into.
        self._metric_bank = _MetricBank(
            resolve_task_metrics(metrics, self.heads)
        )
        super().compile(optimizer=optimizer, **kwargs)
        # Counters of bad labels/ids in each step (a plain holder too).
        self._batch_audit = batch_audit.BatchAudit(self)
        # A plain holder: Keras' tracking (locked after build) would refuse
        # metric objects passed here.
        self._compile_args = _MetricBank(dict(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=metrics,
            **kwargs,
        ))

    def _resolve_loss_weights(self, loss_weights):
        if loss_weights is None:
            return {task: 1.0 for task in self.task_names}
        if not isinstance(loss_weights, dict):
            raise ValueError(
                "`loss_weights` must be None or a dict task -> weight. "
                f"Received: loss_weights={loss_weights!r}"
            )
        unknown = sorted(set(loss_weights) - set(self.task_names))
        if unknown:
            raise ValueError(
                f"`loss_weights` names unknown task(s) {unknown}. The "
                f"model's tasks are {list(self.task_names)}."
            )
        for task, weight in loss_weights.items():
            if not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(
                    f"The loss weight of task '{task}' must be a "
                    f"non-negative number. Received: {weight!r}"
                )
        return {t: float(loss_weights.get(t, 1.0)) for t in self.task_names}

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            k: serialize(v) for k, v in self._compile_args.per_task.items()
        }

    def compile_from_config(self, config):
        config = {k: deserialize(v) for k, v in config.items()}
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def task_metrics(self):
        """Dict task -> list of that task's compiled metrics."""
        return self._metric_bank.per_task

    @property
    def metrics(self):
        metrics = []
        if self.compiled:
            metrics.append(self._loss_tracker)
        metrics.extend(self.task_loss_trackers.values())
        metrics.extend(self.extra_loss_trackers())
        metrics.extend(self.extra_metrics())
        metrics.extend(self.weight_trackers.values())
        for task in self.task_names:
            metrics.extend(self.task_metrics[task])
        return metrics

    def get_metrics_result(self):
        # A task without labels has no score: NaN, not the metric's 0.0.
        return output_checks.absent_metrics_as_nan(
            super().get_metrics_result(), self.task_metrics
        )

    def extra_loss_trackers(self):
        """Trackers of objective terms beyond the task losses (none here)."""
        return []

    def extra_metrics(self):
        """Further metrics, updated by `update_extra_metrics` (none here)."""
        return []

    def update_extra_metrics(self, forward, labels):
        """Updates `extra_metrics()` from one batch (nothing here)."""

    # ---- The objective ------------------------------------------------
    def task_specific_variables(self):
        """Variables a gradient method treats as task-specific even though
        several tasks' losses reach them (none here)."""
        return []

    def objective_terms(self, forward, labels, environment, training):
        """Extra terms of the objective.

        Returns a dict name -> `(weight, value, is_global)`. `is_global`
        marks a value computed from global-batch statistics with local
        gradients (`replica_stats.global_sum_local_gradient`); other values
        are averaged over replicas.
        """
        return {}

    def forward(self, inputs, labels, sample_weight, training):
        """Runs the model and returns everything the objective needs.

        Returns a dict with `modules`, `routed`, `environment` and what
        `run_heads` returns (`predictions`, `per_sample`: task -> (loss,
        valid, element mask, safe labels)).
        """
        features, environment = self.split_environment(inputs)
        if not self.jit_compile:
            # Stateful asserts run even unused (automatic control deps).
            label_checks.assert_finite_features(inputs)
        modules = self.encoder(features, training=training)
        routed = self.route(modules, labels, training)
        outputs = {
            "modules": modules,
            "routed": routed,
            "environment": environment,
        }
        outputs.update(
            self.run_heads(routed, labels, sample_weight, training)
        )
        return outputs

    def route(self, modules, labels, training):
        """The router applied to the encoder's output: task -> what the
        task's head reads."""
        return self.router(modules, training=training)

    def run_heads(self, routed, labels, sample_weight, training):
        """Heads and per-sample task losses: `{"predictions", "per_sample"}`."""
        predictions, per_sample = {}, {}
        for task in self.task_names:
            predictions[task] = self.heads[task](
                routed[task], training=training
            )
            per_sample[task] = self._task_loss(
                task, labels[task], predictions[task], sample_weight
            )
        return {"predictions": predictions, "per_sample": per_sample}

    def _task_loss(self, task, labels, predictions, sample_weight):
        labels = tf.convert_to_tensor(labels)
        label_checks.check_label_shape(task, labels, predictions)
        head = self.heads[task]
        kind = getattr(head, "kind", None)
        if kind == "multiclass" and not self.jit_compile:
            # The loss must wait for the check, or its own (less clear)
            # out-of-range error may fire first.
            check = label_checks.assert_class_ids_in_range(
                task, labels, head.units
            )
            with tf.control_dependencies([check]):
                labels = tf.identity(labels)
        loss, valid, mask, safe = masked_per_sample_loss(
            self._task_losses[task], labels, predictions, kind
        )
        weight = _task_sample_weight(sample_weight, task)
        if weight is not None:
            loss = loss * tf.reshape(tf.cast(weight, "float32"), (-1,))
        return loss, valid, mask, safe

    def compute_objective(self, inputs, labels, sample_weight, training):
        """Returns `(loss, logged, forward)` for one batch.

        `loss` is this replica's share of the objective (the replicas'
        shares add up to the global-batch objective); `logged` holds the
        global-batch value of every term for the trackers.
        """
        parts = self.objective_parts(inputs, labels, sample_weight, training)
        loss = 0.0
        for addend in parts["task_addends"] + parts["other_addends"]:
            loss += addend
        return loss, parts["logged"], parts["forward"]

    def objective_parts(self, inputs, labels, sample_weight, training):
        """The objective's parts, as the training step needs them.

        Returns a dict with `task_shares` (task -> this replica's share of
        `w_t R_t`), `task_weights` (`(T,)` loss-weighting weights, or
        None), `task_addends` (the shares times the weights),
        `other_addends` (extra terms' shares), `logged` and `forward`.
        """
        forward = self.forward(inputs, labels, sample_weight, training)
        per_sample = forward["per_sample"]
        sums = {t: tf.reduce_sum(per_sample[t][0]) for t in self.task_names}
        counts = {t: tf.reduce_sum(per_sample[t][1]) for t in self.task_names}
        global_sums, global_counts = cross_replica_sum(
            ({t: tf.stop_gradient(s) for t, s in sums.items()}, counts)
        )
        shares, logged = {}, {}
        for task in self.task_names:
            count = tf.maximum(global_counts[task], 1.0)
            shares[task] = self._loss_weights[task] * sums[task] / count
            logged[f"loss_{task}"] = global_sums[task] / count
        replicas = float(num_replicas())
        task_weights, task_addends, other_addends = None, [], []
        if self.loss_weighting is None:
            task_addends = [shares[t] for t in self.task_names]
            logged_total = 0.0
            for task in self.task_names:
                logged_total += self._loss_weights[task] * logged[
                    f"loss_{task}"
                ]
        else:
            task_weights = self.loss_weighting(
                tf.stack([logged[f"loss_{t}"] for t in self.task_names]),
                step=self.optimizer.iterations if self.optimizer else 0,
                training=training,
            )
            logged_total = 0.0
            for index, task in enumerate(self.task_names):
                task_addends.append(task_weights[index] * shares[task])
                logged_total += (
                    tf.stop_gradient(task_weights[index])
                    * self._loss_weights[task]
                    * logged[f"loss_{task}"]
                )
                logged[f"weight_{task}"] = tf.stop_gradient(
                    task_weights[index]
                )
            regularization = self.loss_weighting.regularization()
            if regularization is not None:
                other_addends.append(regularization / replicas)
                logged_total += tf.stop_gradient(regularization)
        terms = self.objective_terms(
            forward, labels, forward["environment"], training
        )
        for name, (weight, value, is_global) in terms.items():
            # A global-batch value carries only the local part's gradient
            # (see `replica_stats`), so it enters each replica's loss whole;
            # a per-replica value (or one without batch dependence) is
            # averaged over replicas like Keras' own losses.
            other_addends.append(
                weight * (value if is_global else value / replicas)
            )
            logged[name] = tf.stop_gradient(value)
            logged_total += weight * logged[name]
        logged["loss"] = logged_total
        return {
            "task_shares": shares,
            "task_weights": task_weights,
            "task_addends": task_addends,
            "other_addends": other_addends,
            "logged": logged,
            "forward": forward,
        }

    # ---- Steps --------------------------------------------------------
    def _unpack(self, data, training=True):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y = label_checks.labels_as_dict(y, self.task_names)
        x, y = batch_audit.audit_batch(self, x, y, training)
        return x, y, sample_weight

    def train_step(self, data):
        if self.gradient_method is not None or getattr(
            self.loss_weighting, "needs_task_gradients", False
        ):
            x, y, sample_weight = self._unpack(data)
            logged, forward = per_task_gradient_step(self, x, y, sample_weight)
            return self._update_metrics(logged, forward, y)
        x, y, sample_weight = self._unpack(data)
        with tf.GradientTape() as tape:
            loss, logged, forward = self.compute_objective(
                x, y, sample_weight, training=True
            )
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        if self.loss_weighting is not None:
            self.loss_weighting.after_step()
        return self._update_metrics(logged, forward, y)

    def test_step(self, data):
        x, y, sample_weight = self._unpack(data, training=False)
        _, logged, forward = self.compute_objective(
            x, y, sample_weight, training=False
        )
        return self._update_metrics(logged, forward, y)

    def _update_metrics(self, logged, forward, labels):
        self._loss_tracker.update_state(logged["loss"])
        for task in self.task_names:
            self.task_loss_trackers[task].update_state(logged[f"loss_{task}"])
        for tracker in self.extra_loss_trackers():
            tracker.update_state(logged[tracker.name])
        self.update_extra_metrics(forward, labels)
        for tracker in self.weight_trackers.values():
            tracker.update_state(logged[tracker.name])
        for task in self.task_names:
            _, _, mask, safe = forward["per_sample"][task]
            prediction = forward["predictions"][task]
            for metric in self.task_metrics[task]:
                metric.update_state(safe, prediction, sample_weight=mask)
        return self.get_metrics_result()

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, plus the loss weighting's epoch callback.

        A weighting that reads each epoch's mean task losses (DWA) gets
        them through a callback added first to `callbacks` (so that
        `BackupAndRestore` saves the updated state).
        """
        recorder = None
        if self.loss_weighting is not None:
            recorder = self.loss_weighting.epoch_callback(self.task_names)
        if recorder is not None:
            if len(args) > 5:
                args = list(args)
                args[5] = [recorder] + list(args[5] or [])
            else:
                callbacks = kwargs.get("callbacks")
                kwargs["callbacks"] = [recorder] + list(callbacks or [])
        args, kwargs = batch_audit.with_guard(self, args, kwargs, 5)
        self._build_optimizer()
        return super().fit(*args, **kwargs)

    def _build_optimizer(self):
        """Creates the optimizer's variables before the first step.

        Keras (without an explicit `tf.distribute` strategy) leaves them to
        the first trace of the train function; a trace that creates
        variables is traced a second time, so building them here saves
        one full trace of the training step.
        """
        optimizer = self.optimizer
        if optimizer is None or optimizer.built:
            return
        if not all(layer.built for layer in self._flatten_layers()):
            return
        with self.distribute_strategy.scope():
            optimizer.build(self.trainable_variables)

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`; raises on bad labels (`batch_audit`)."""
        args, kwargs = batch_audit.with_guard(self, args, kwargs, 6)
        return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        """`keras.Model.predict`; clear errors for string inputs."""
        batch_audit.check_arrays(args, kwargs)
        return super().predict(*args, **kwargs)

    # ---- Serialization ------------------------------------------------
    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": serialize(self.encoder),
            "heads": {t: serialize(h) for t, h in self.heads.items()},
            "router": serialize(self.router),
            "environment_key": self.environment_key,
            "input_shape": self._input_shape_arg,
        }
        # Only when set, so existing configs are unchanged.
        if self.loss_weighting is not None:
            config["loss_weighting"] = serialize(self.loss_weighting)
        if self.gradient_method is not None:
            config["gradient_method"] = serialize(self.gradient_method)
        return config

    @classmethod
    @names_missing_fields
    def from_config(cls, config):
        return cls(**revive_layers(config))


def revive_layers(config):
    """A copy of a model config with its encoder, heads and router revived."""
    config = dict(config)
    config["encoder"] = deserialize(config["encoder"])
    config["heads"] = {t: deserialize(h) for t, h in config["heads"].items()}
    if config.get("router") is not None:
        config["router"] = deserialize(config["router"])
    return config


class _MetricBank:
    """Plain holder of per-task metrics (invisible to Keras tracking)."""

    def __init__(self, per_task):
        self.per_task = per_task


def _task_sample_weight(sample_weight, task):
    if isinstance(sample_weight, dict):
        return sample_weight.get(task)
    return sample_weight
