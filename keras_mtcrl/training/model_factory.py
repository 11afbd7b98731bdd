"""Builds MT-CRL and its baselines from one recipe, with equal encoders."""

import keras

from keras_mtcrl.layers.mixture_of_experts_router import MixtureOfExpertsRouter
from keras_mtcrl.layers.task_head import TaskHead
from keras_mtcrl.losses.disentanglement import DisentanglementPenalty
from keras_mtcrl.losses.invariance import InvariancePenalty
from keras_mtcrl.losses.sparsity import SparsityPenalty
from keras_mtcrl.models.causal_mtl_model import CausalMTLModel
from keras_mtcrl.models.gmtl_adjuster import GMTLAdjuster
from keras_mtcrl.models.gmtl_adjuster import joint_label_prior
from keras_mtcrl.models.group_dro_model import GroupDROModel
from keras_mtcrl.models.invariant_risk_model import InvariantRiskModel
from keras_mtcrl.models.label_groups import LabelGroups
from keras_mtcrl.models.multi_task_model import MultiTaskModel
from keras_mtcrl.models.reweighted_model import ReweightedModel

#: The `InvariantRiskModel` method of each invariance architecture.
_INVARIANCE_METHODS = {"irm": "irmv1", "vrex": "vrex", "fishr": "fishr"}


def input_shape_of(data):
    """Batch input shape (batch axis None) of a `MultiTaskData` train split."""
    features, _ = data.split("train").element_spec
    return {
        key: (None,) + tuple(spec.shape) for key, spec in features.items()
    }


def _heads(recipe, data, tasks):
    build_head = recipe.build_head
    heads = {}
    for spec in data.tasks:
        if spec.name not in tasks:
            continue
        if build_head is None:
            heads[spec.name] = TaskHead(spec.kind, spec.units)
        else:
            heads[spec.name] = build_head(spec, recipe.config)
    return heads


def compile_options(recipe, data, tasks=None):
    """The per-task `loss` and `metrics` arguments of `model.compile`.

    Tasks the recipe has no `build_loss` / `build_metrics` for (or all,
    when the factory is None) get `"auto"`: the defaults by head kind.
    Metric objects are passed on as their serialized configs: the model
    is built before `compile`, and Keras' attribute tracking refuses new
    Metric objects in the compile arguments a built model keeps.

    Args:
        recipe: `keras_mtcrl.training.Recipe`.
        data: `MultiTaskData` from `recipe.build_data`.
        tasks: sequence of task names, or None for all.

    Returns:
        Dict with `loss` and `metrics`, each a dict task -> value.

    Example:

    >>> from keras_mtcrl.datasets.multi_task_data import MultiTaskData
    >>> from keras_mtcrl.datasets.multi_task_data import TaskSpec
    >>> from keras_mtcrl.training.recipe_config import Recipe, RecipeConfig
    >>> data = MultiTaskData({}, (TaskSpec("y", "binary", 1),), 0)
    >>> recipe = Recipe(RecipeConfig(name="demo"), dict, dict,
    ...                 build_loss=lambda spec, config: "hinge")
    >>> compile_options(recipe, data)
    {'loss': {'y': 'hinge'}, 'metrics': {'y': 'auto'}}
    """
    tasks = tuple(tasks or data.task_names)
    options = {"loss": {}, "metrics": {}}
    for spec in data.tasks:
        if spec.name not in tasks:
            continue
        for key, factory in (
            ("loss", recipe.build_loss),
            ("metrics", recipe.build_metrics),
        ):
            value = "auto"
            if factory is not None:
                value = factory(spec, recipe.config)
            if key == "metrics" and isinstance(value, (list, tuple)):
                value = [_plain_metric(m) for m in value]
            options[key][spec.name] = value
    return options


def _plain_metric(metric):
    if isinstance(metric, keras.metrics.Metric):
        return keras.saving.serialize_keras_object(metric)
    return metric


def _penalties(config, data):
    disentanglement = None
    if config.disentanglement != "none":
        disentanglement = DisentanglementPenalty(
            config.disentanglement, config.disentanglement_weight
        )
    invariance = None
    if config.invariance != "none":
        invariance = InvariancePenalty(
            config.invariance,
            weight=config.invariance_weight,
            warmup_steps=config.warmup_steps,
            ramp_steps=config.ramp_steps,
            min_env_samples=config.min_env_samples,
            num_environments=data.num_environments or None,
            environments=config.invariance_environments,
        )
    return dict(
        disentanglement=disentanglement,
        sparsity=SparsityPenalty(config.sparsity_weight),
        invariance=invariance,
    )


def build_model(recipe, data, architecture, tasks=None):
    """Returns an uncompiled model of `architecture` for the recipe's data.

    All architectures get a fresh copy of the same encoder (same size and
    K), so the comparison is at equal capacity and budget.

    Args:
        recipe: `keras_mtcrl.training.Recipe`.
        data: `MultiTaskData` from `recipe.build_data`.
        architecture: str. `"mtcrl"`, `"shared_bottom"`, `"mmoe"`,
            `"single_task"`, or an OOD baseline (`"reweight"`,
            `"groupdro"`, `"irm"`, `"vrex"`, `"fishr"`, `"gmtl"`; see
            `RecipeConfig`).
        tasks: sequence of task names, or None for all (a single-task model
            is built with one name).

    Returns:
        A built `MultiTaskModel` (or `CausalMTLModel`).
    """
    config = recipe.config
    tasks = tuple(tasks or data.task_names)
    encoder = recipe.build_encoder(config, data)
    heads = _heads(recipe, data, tasks)
    shape = input_shape_of(data)
    name = f"{architecture}_{'_'.join(tasks)}" if len(tasks) == 1 else None
    if architecture == "mtcrl":
        return CausalMTLModel(
            encoder,
            heads,
            graph_temperature=config.graph_temperature,
            gate=config.gate,
            normalize_modules=config.normalize_modules,
            balanced_risk=config.balanced_risk,
            graph_balanced_risk=config.graph_balanced_risk,
            input_shape=shape,
            environment_key=data.environment_key,
            **_penalties(config, data),
        )
    if architecture in ("reweight", "groupdro") + tuple(_INVARIANCE_METHODS):
        return _ood_model(config, data, architecture, encoder, heads, shape)
    router = None
    if architecture == "mmoe":
        router = MixtureOfExpertsRouter(tasks, encoder.num_modules)
    elif architecture not in ("shared_bottom", "single_task", "gmtl"):
        raise ValueError(f"Unknown architecture {architecture!r}.")
    return MultiTaskModel(
        encoder,
        heads,
        router=router,
        input_shape=shape,
        environment_key=data.environment_key,
        name=name,
    )


def _label_groups(config, data, heads, architecture):
    grouping = config.ood_groups
    if grouping == "auto":
        invariance = architecture in _INVARIANCE_METHODS
        grouping = (
            "environment" if invariance and data.num_environments else "labels"
        )
    return LabelGroups.from_dataset(
        data.split("train"),
        heads,
        grouping=grouping,
        num_environments=data.num_environments or None,
        environment_key=data.environment_key,
    )


def _ood_model(config, data, architecture, encoder, heads, shape):
    """The OOD baselines: a shared bottom trained another way."""
    groups = _label_groups(config, data, heads, architecture)
    common = dict(input_shape=shape, environment_key=data.environment_key)
    if architecture == "reweight":
        return ReweightedModel(
            encoder, heads, groups, share=config.reweight_share, **common
        )
    if architecture == "groupdro":
        return GroupDROModel(
            encoder, heads, groups, step_size=config.dro_step_size, **common
        )
    environments = groups
    if groups.grouping == "environment":
        environments = groups.num_environments
    return InvariantRiskModel(
        encoder,
        heads,
        method=_INVARIANCE_METHODS[architecture],
        weight=config.ood_penalty_weight,
        warmup_steps=config.ood_warmup_steps,
        ramp_steps=config.ood_ramp_steps,
        environments=environments,
        **common,
    )


def prediction_model(recipe, data, architecture, model, tasks=None):
    """The model to evaluate after training `architecture`.

    `model` itself, except for `"gmtl"`: the trained shared bottom
    wrapped in a compiled `GMTLAdjuster` with the training split's joint
    label prior and `config.gmtl_alpha`. Call it in the strategy's scope.

    Args:
        recipe: `keras_mtcrl.training.Recipe`.
        data: `MultiTaskData`.
        architecture: str.
        model: the trained model.
        tasks: sequence of task names, or None for all.

    Returns:
        A compiled model.
    """
    if architecture != "gmtl":
        return model
    prior = joint_label_prior(data.split("train"), model.heads)
    adjusted = GMTLAdjuster(model, prior, alpha=recipe.config.gmtl_alpha)
    adjusted.compile(**compile_options(recipe, data, tasks))
    return adjusted
