"""Recipes: frozen configs plus the factories that turn them into models."""

import dataclasses
from typing import Callable

ARCHITECTURES = ("mtcrl", "shared_bottom", "mmoe", "single_task")
#: Out-of-distribution baselines on the shared bottom (opt-in: not in the
#: default `architectures`).
OOD_ARCHITECTURES = ("reweight", "groupdro", "irm", "vrex", "fishr", "gmtl")
OOD_GROUPINGS = ("auto", "labels", "environment")


@dataclasses.dataclass(frozen=True)
class RecipeConfig:
    """Everything one training run needs to know, as plain values.

    A recipe's config is derived from a base config by overriding only what
    differs (`config.replace(epochs=3)`); command-line flags map one-to-one
    onto fields.

    Args:
        name: str. The recipe's registered name.
        description: str. One paragraph for `keras-mtcrl list`.
        data_args: dict. Keyword arguments of the recipe's data builder.
        num_modules: int. K, modules of the shared encoder.
        architectures: tuple of str. What to train: `"mtcrl"` and the
            baselines `"shared_bottom"`, `"mmoe"`, `"single_task"`, and the
            out-of-distribution baselines on the shared bottom
            `"reweight"` (`ReweightedModel`), `"groupdro"`
            (`GroupDROModel`), `"irm"`, `"vrex"`, `"fishr"`
            (`InvariantRiskModel`) and `"gmtl"` (shared bottom evaluated
            through `GMTLAdjuster`).
        disentanglement: str. `"crosscorr"`, `"hsic"` or `"none"`.
        disentanglement_weight: float.
        sparsity_weight: float.
        invariance: str. `"grad_var"`, `"irmv1"`, `"vrex"` or `"none"`.
        invariance_weight: float.
        invariance_environments: str. `"auto"`, `"column"`, `"balanced"`
            or `"agreement"` (see `InvariancePenalty`).
        warmup_steps: int. Steps before the invariance penalty is on.
        ramp_steps: int. Steps of its linear ramp after the warm-up.
        min_env_samples: int.
        graph_temperature: float.
        gate: str. `"hard_concrete"` or `"sigmoid"` graph gates.
        normalize_modules: bool. Unit-RMS modules before gating.
        balanced_risk: float in [0, 1]. MT-CRL's task risk mixes the
            observed and the label-balanced environment by this share.
        graph_balanced_risk: float in [0, 1] or None. The share in the
            risk the graph's logits are trained on (None: `balanced_risk`).
        learning_rate: float.
        epochs: int.
        batch_size: int. Global batch size.
        seed: int.
        jit_compile: bool. XLA.
        mixed_precision: str or None. A Keras dtype policy name such as
            `"mixed_float16"` or `"mixed_bfloat16"`.
        primary_metrics: dict. Task -> metric reported in the summary table
            (defaults by kind: accuracy, or rmse for regression), or a
            tuple of metrics, all reported, the first one primary.
        early_stopping_patience: int or None.
        divergence_factor: float or None. Training stops and the run is
            reported as diverged when the loss exceeds this many times
            its first batch's (see `keras_mtcrl.callbacks.DivergenceGuard`);
            0 or None turns the check off. Defaults to `1e4`.
        ood_groups: str. Groups of the OOD baselines: `"labels"` (task
            label crossed with the other tasks' labels; agreement groups
            for IRM/V-REx/Fishr), `"environment"` (the environment
            column), or `"auto"`: labels for reweighting and GroupDRO, the
            column (when the data has one) for IRM, V-REx and Fishr.
        dro_step_size: float. GroupDRO's `eta`.
        reweight_share: float in [0, 1]. Share of the reweighted risk of
            `reweight` (1: full label-balanced reweighting).
        ood_penalty_weight: float. IRM / V-REx / Fishr weight after the
            ramp.
        ood_warmup_steps: int. IRM / V-REx / Fishr steps without the
            penalty.
        ood_ramp_steps: int. IRM / V-REx / Fishr steps of the linear ramp.
        gmtl_alpha: float. GMTL's strength (1 divides the prior out).
        model_args: dict. Options of the recipe's encoder, head, loss and
            metric builders (e.g. a backbone size), read by the recipe's
            factories. Defaults to `{}`.

    Example:

    >>> config = RecipeConfig(name="demo", epochs=2)
    >>> config.replace(epochs=5).epochs
    5
    """

    name: str
    description: str = ""
    data_args: dict = dataclasses.field(default_factory=dict)
    num_modules: int = 4
    architectures: tuple = ARCHITECTURES
    disentanglement: str = "crosscorr"
    disentanglement_weight: float = 0.1
    sparsity_weight: float = 0.01
    invariance: str = "grad_var"
    invariance_weight: float = 100.0
    invariance_environments: str = "auto"
    warmup_steps: int = 200
    ramp_steps: int = 200
    min_env_samples: int = 4
    graph_temperature: float = 1.0
    gate: str = "hard_concrete"
    normalize_modules: bool = True
    balanced_risk: float = 0.0
    graph_balanced_risk: float = None
    learning_rate: float = 1e-3
    epochs: int = 5
    batch_size: int = 128
    seed: int = 0
    jit_compile: bool = False
    mixed_precision: str = None
    primary_metrics: dict = dataclasses.field(default_factory=dict)
    early_stopping_patience: int = None
    divergence_factor: float = 1e4
    model_args: dict = dataclasses.field(default_factory=dict)
    ood_groups: str = "auto"
    dro_step_size: float = 0.01
    reweight_share: float = 1.0
    ood_penalty_weight: float = 100.0
    ood_warmup_steps: int = 100
    ood_ramp_steps: int = 100
    gmtl_alpha: float = 1.0

    def __post_init__(self):
        known = ARCHITECTURES + OOD_ARCHITECTURES
        unknown = sorted(set(self.architectures) - set(known))
        if unknown:
            raise ValueError(
                f"Unknown architecture(s) {unknown} in recipe "
                f"'{self.name}'. Known: {list(known)}"
            )
        if self.ood_groups not in OOD_GROUPINGS:
            raise ValueError(
                f"`ood_groups` must be one of {OOD_GROUPINGS}. Received: "
                f"ood_groups={self.ood_groups!r}"
            )
        for field in ("epochs", "batch_size", "num_modules"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{field}` must be a positive int. Received: "
                    f"{field}={value!r}"
                )
        for field in ("balanced_risk", "graph_balanced_risk",
                      "reweight_share"):
            value = getattr(self, field)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"`{field}` of recipe '{self.name}' must be in [0, 1]. "
                    f"Received: {field}={value!r}"
                )

    def replace(self, **changes):
        """Returns a copy with `changes` applied (unknown fields raise)."""
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise ValueError(
                f"Unknown config field(s) {unknown}. Fields: "
                f"{[f.name for f in dataclasses.fields(self)]}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A registered recipe: its config and the factories that use it.

    Args:
        config: `RecipeConfig`.
        build_data: callable `(config) -> MultiTaskData`.
        build_encoder: callable `(config, data) -> keras Layer` with a
            `num_modules` attribute (a fresh encoder per call).
        build_head: callable `(task_spec, config) -> keras Layer`, or None
            for `keras_mtcrl.layers.TaskHead(kind, units)`.
        build_metrics: callable `(task_spec, config) -> list of metrics`
            (or `"auto"`), or None for the defaults by head kind.
        build_loss: callable `(task_spec, config) -> loss` (or `"auto"`),
            or None for the defaults by head kind.

    Example:

    >>> recipe = Recipe(RecipeConfig(name="demo"), dict, dict)
    >>> recipe.config.name
    'demo'
    """

    config: RecipeConfig
    build_data: Callable
    build_encoder: Callable
    build_head: Callable = None
    build_metrics: Callable = None
    build_loss: Callable = None

    def with_config(self, **changes):
        """Returns this recipe with `config.replace(**changes)`."""
        return dataclasses.replace(self, config=self.config.replace(**changes))
