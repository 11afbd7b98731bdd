"""Factories of the standard multi-task architectures.

Every factory returns a `MultiTaskModel` (or, with `causal=True`, a
`CausalMTLModel`) with the same dict-of-tasks interface, so any of them
combines with `loss_weighting=`, `gradient_method=`, `compile`, `fit`,
`tf.distribute` and `model.save` like the others. Extra keyword
arguments (`input_shape`, `loss_weighting`, `gradient_method`,
`environment_key`, `name`, and with `causal=True` the MT-CRL penalties)
go to the model's constructor.

`causal=True` keeps the architecture's encoder and replaces its router
by MT-CRL's causal graph (with its penalties). It is offered where the
encoder's output is made of modules: the shared bottom (read as channel
groups), MMoE's experts, and cross-stitch columns. CGC/PLE do not take
it (their per-task gates are the input-dependent routing the graph
would replace: that model is `mmoe(causal=True)`), nor does the
single-task baseline (with one task there is no cross-task spurious
correlation to regularise).
"""

import keras

from keras_mtcrl.layers.cgc_router import CGCRouter
from keras_mtcrl.layers.channel_group_encoder import ChannelGroupEncoder
from keras_mtcrl.layers.cross_stitch_encoder import CrossStitchEncoder
from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.layers.layer_utils import check_heads
from keras_mtcrl.layers.mixture_of_experts_router import MixtureOfExpertsRouter
from keras_mtcrl.layers.module_select_router import ModuleSelectRouter
from keras_mtcrl.models.causal_mtl_model import CausalMTLModel
from keras_mtcrl.models.multi_task_model import MultiTaskModel


def _mlp(hidden_units, name):
    hidden_units = tuple(hidden_units)
    if not hidden_units:
        raise ValueError(
            "`hidden_units` must list at least one width. Received: "
            f"hidden_units={hidden_units!r}"
        )
    return keras.Sequential(
        [keras.layers.Dense(u, activation="relu") for u in hidden_units],
        name=name,
    )


def _refuse_causal(name, kwargs):
    if "causal" in kwargs:
        raise ValueError(
            f"`{name}` takes no `causal` argument: see the "
            "keras_mtcrl.models.baselines module docstring for where "
            "MT-CRL's graph applies (e.g. `mmoe(causal=True)`). Received: "
            f"causal={kwargs['causal']!r}"
        )


def shared_bottom(
    heads, hidden_units=(64, 32), causal=False, num_modules=4, **kwargs
):
    """Hard parameter sharing: one shared MLP, one head per task.

    Caruana, "Multitask Learning", Machine Learning 1997.

    Args:
        heads: dict of task name to head layer.
        hidden_units: tuple of int. Widths of the shared MLP. Defaults to
            `(64, 32)`.
        causal: bool. Read the MLP's output as `num_modules` channel
            groups routed by MT-CRL's causal graph. Defaults to `False`.
        num_modules: int. K when `causal=True`; must divide
            `hidden_units[-1]`. Defaults to `4`.
        **kwargs: model constructor arguments.

    Returns:
        `MultiTaskModel`, or `CausalMTLModel` when `causal=True`.

    Example:

    >>> from keras_mtcrl.layers import TaskHead
    >>> model = shared_bottom(
    ...     {"a": TaskHead("binary"), "b": TaskHead("regression")},
    ...     hidden_units=(8,), input_shape=(None, 3))
    >>> type(model.router).__name__
    'SharedRouter'
    """
    check_heads(heads)
    bottom = _mlp(hidden_units, "shared_bottom")
    if causal:
        encoder = ChannelGroupEncoder(bottom, num_modules=num_modules)
        return CausalMTLModel(encoder=encoder, heads=heads, **kwargs)
    return MultiTaskModel(encoder=bottom, heads=heads, **kwargs)


def mmoe(
    heads,
    num_experts=4,
    expert_units=16,
    hidden_units=(64,),
    causal=False,
    **kwargs,
):
    """Multi-gate Mixture-of-Experts: shared experts, a gate per task.

    Ma et al., "Modeling Task Relationships in Multi-task Learning with
    Multi-gate Mixture-of-Experts", KDD 2018.

    Args:
        heads: dict of task name to head layer.
        num_experts: int. Number of experts. Defaults to `4`.
        expert_units: int. Output width of each expert. Defaults to `16`.
        hidden_units: tuple of int. Hidden widths of each expert.
            Defaults to `(64,)`.
        causal: bool. Route the experts with MT-CRL's causal graph instead
            of the gates (MT-CRL's modular form). Defaults to `False`.
        **kwargs: model constructor arguments.

    Returns:
        `MultiTaskModel`, or `CausalMTLModel` when `causal=True`.

    Example:

    >>> from keras_mtcrl.layers import TaskHead
    >>> model = mmoe({"a": TaskHead("binary")}, num_experts=2,
    ...              expert_units=4, input_shape=(None, 3))
    >>> type(model.router).__name__
    'MixtureOfExpertsRouter'
    """
    tasks = check_heads(heads)
    encoder = ExpertEncoder(
        num_modules=num_experts,
        module_units=expert_units,
        hidden_units=hidden_units,
    )
    if causal:
        return CausalMTLModel(encoder=encoder, heads=heads, **kwargs)
    router = MixtureOfExpertsRouter(tasks, num_experts)
    return MultiTaskModel(
        encoder=encoder, heads=heads, router=router, **kwargs
    )


def ple(
    heads,
    num_levels=2,
    num_task_experts=1,
    num_shared_experts=1,
    expert_units=(16,),
    **kwargs,
):
    """Progressive Layered Extraction: stacked CGC levels.

    Tang et al., "Progressive Layered Extraction (PLE): A Novel Multi-Task
    Learning (MTL) Model for Personalized Recommendations", RecSys 2020.
    The experts read the raw input (the encoder is an identity); see
    `keras_mtcrl.layers.CGCRouter`.

    Args:
        heads: dict of task name to head layer.
        num_levels: int. CGC levels (1 is CGC). Defaults to `2`.
        num_task_experts: int. Experts per task per level. Defaults to
            `1`.
        num_shared_experts: int. Shared experts per level. Defaults to
            `1`.
        expert_units: tuple of int. Widths of each expert's layers.
            Defaults to `(16,)`.
        **kwargs: model constructor arguments.

    Returns:
        `MultiTaskModel`.

    Example:

    >>> from keras_mtcrl.layers import TaskHead
    >>> model = ple({"a": TaskHead("binary"), "b": TaskHead("binary")},
    ...             expert_units=(4,), input_shape=(None, 3))
    >>> model.router.num_levels
    2
    """
    tasks = check_heads(heads)
    _refuse_causal("ple", kwargs)
    router = CGCRouter(
        tasks,
        num_levels=num_levels,
        num_task_experts=num_task_experts,
        num_shared_experts=num_shared_experts,
        expert_units=expert_units,
    )
    return MultiTaskModel(
        encoder=keras.layers.Identity(), heads=heads, router=router, **kwargs
    )


def cgc(
    heads, num_task_experts=1, num_shared_experts=1, expert_units=(16,),
    **kwargs,
):
    """Customized Gate Control: one level of PLE (see `ple`).

    Args:
        heads: dict of task name to head layer.
        num_task_experts: int. Experts per task. Defaults to `1`.
        num_shared_experts: int. Shared experts. Defaults to `1`.
        expert_units: tuple of int. Widths of each expert's layers.
            Defaults to `(16,)`.
        **kwargs: model constructor arguments.

    Returns:
        `MultiTaskModel`.

    Example:

    >>> from keras_mtcrl.layers import TaskHead
    >>> cgc({"a": TaskHead("binary")}, input_shape=(None, 3)).router.num_levels
    1
    """
    return ple(
        heads,
        num_levels=1,
        num_task_experts=num_task_experts,
        num_shared_experts=num_shared_experts,
        expert_units=expert_units,
        **kwargs,
    )


def cross_stitch(
    heads, hidden_units=(16, 16), self_weight=0.9, causal=False, **kwargs
):
    """Cross-stitch network: one column per task, mixed after each layer.

    Misra et al., "Cross-stitch Networks for Multi-task Learning", CVPR
    2016. Task `t`'s head reads column `t`
    (`keras_mtcrl.layers.ModuleSelectRouter`).

    Args:
        heads: dict of task name to head layer.
        hidden_units: tuple of int. Widths of each column. Defaults to
            `(16, 16)`.
        self_weight: float. Initial diagonal of the stitch matrices.
            Defaults to `0.9`.
        causal: bool. Make the columns MT-CRL modules and let the causal
            graph choose which columns each task reads. Defaults to
            `False`.
        **kwargs: model constructor arguments.

    Returns:
        `MultiTaskModel`, or `CausalMTLModel` when `causal=True`.

    Example:

    >>> from keras_mtcrl.layers import TaskHead
    >>> model = cross_stitch(
    ...     {"a": TaskHead("binary"), "b": TaskHead("binary")},
    ...     hidden_units=(4,), input_shape=(None, 3))
    >>> model.encoder.num_modules
    2
    """
    tasks = check_heads(heads)
    encoder = CrossStitchEncoder(
        len(tasks), hidden_units=hidden_units, self_weight=self_weight
    )
    if causal:
        return CausalMTLModel(encoder=encoder, heads=heads, **kwargs)
    router = ModuleSelectRouter(tasks, len(tasks))
    return MultiTaskModel(
        encoder=encoder, heads=heads, router=router, **kwargs
    )


def single_task(heads, hidden_units=(64, 32), **kwargs):
    """One independent model per task: the baselines of `delta_m`.

    Each task gets its own MLP and head, with the same dict interface
    (outputs and labels keyed by the one task name). Train each on its
    own task's labels: `models[t].fit(x, {t: y[t]})`.

    Args:
        heads: dict of task name to head layer (each goes to its task's
            model).
        hidden_units: tuple of int. Widths of each model's MLP. Defaults to
            `(64, 32)`.
        **kwargs: model constructor arguments (not `name`; each model is
            named `single_task_<task>`).

    Returns:
        Dict of task name to `MultiTaskModel`.

    Example:

    >>> from keras_mtcrl.layers import TaskHead
    >>> models = single_task(
    ...     {"a": TaskHead("binary"), "b": TaskHead("regression")},
    ...     hidden_units=(8,), input_shape=(None, 3))
    >>> {t: m.task_names for t, m in models.items()}
    {'a': ('a',), 'b': ('b',)}
    """
    tasks = check_heads(heads)
    _refuse_causal("single_task", kwargs)
    return {
        task: MultiTaskModel(
            encoder=_mlp(hidden_units, f"bottom_{task}"),
            heads={task: heads[task]},
            name=f"single_task_{task}",
            **kwargs,
        )
        for task in tasks
    }
