"""The multi-task improvement `delta_m` over single-task baselines."""

import math


def delta_m(results, baselines, higher_is_better=True):
    """Mean relative improvement of a multi-task model over baselines, in %.

    Maninis, Radosavovic and Kokkinos, "Attentive Single-Tasking of
    Multiple Tasks", CVPR 2019; Vandenhende et al., "Multi-Task Learning
    for Dense Prediction Tasks: A Survey", TPAMI 2021. For each metric
    `k`, with `M_k` the multi-task value and `B_k` the single-task
    baseline's,

    `delta_k = s_k (M_k - B_k) / |B_k|`, `s_k = +1` if higher is better,
    `-1` if lower is better,

    so **positive means better than the baselines**. With flat dicts
    (metric -> value), `delta_m` is `100 * mean_k delta_k`. With nested
    dicts (task -> metric -> value), each task's metrics are averaged
    first and then the tasks (every task counts the same, however many
    metrics it reports). A value may be a list of runs (e.g. seeds): its
    mean is used.

    Args:
        results: dict metric -> value, or task -> (metric -> value): the
            multi-task model's metrics.
        baselines: same structure: the single-task baselines' metrics.
            Every metric in `baselines` must be in `results`; extra metrics
            in `results` are ignored.
        higher_is_better: bool for all metrics, or a dict of the same
            structure as `baselines` (for nested dicts, a task may map to
            one bool for all its metrics). Defaults to `True`.

    Returns:
        float: `delta_m` in percent.

    Example:

    >>> results = {"seg": {"miou": 0.55}, "depth": {"abs_err": 0.9}}
    >>> baselines = {"seg": {"miou": 0.50}, "depth": {"abs_err": 1.0}}
    >>> better = {"seg": True, "depth": False}
    >>> round(delta_m(results, baselines, better), 6)
    10.0
    """
    if not isinstance(baselines, dict) or not baselines:
        raise ValueError(
            "`baselines` must be a non-empty dict. Received: "
            f"baselines={baselines!r}"
        )
    nested = all(isinstance(v, dict) for v in baselines.values())
    if not nested:
        return 100.0 * _mean_delta(results, baselines, higher_is_better, "")
    if not isinstance(results, dict):
        raise ValueError(f"`results` must be a dict. Received: {results!r}")
    per_task = []
    for task, task_baselines in baselines.items():
        if task not in results:
            raise ValueError(
                f"`results` lacks task '{task}' of the baselines. Received "
                f"tasks: {sorted(results)}"
            )
        better = higher_is_better
        if isinstance(higher_is_better, dict):
            if task not in higher_is_better:
                raise ValueError(
                    f"`higher_is_better` lacks task '{task}'. Received: "
                    f"higher_is_better={higher_is_better!r}"
                )
            better = higher_is_better[task]
        per_task.append(
            _mean_delta(results[task], task_baselines, better, f"{task}/")
        )
    return 100.0 * sum(per_task) / len(per_task)


def _mean_delta(results, baselines, higher_is_better, prefix):
    if not isinstance(results, dict):
        raise ValueError(
            f"`results` must be a dict of metrics. Received: {results!r}"
        )
    if not baselines:
        raise ValueError(f"No baseline metrics for '{prefix}'.")
    deltas = []
    for metric, baseline in baselines.items():
        name = prefix + metric
        if metric not in results:
            raise ValueError(
                f"`results` lacks metric '{name}'. Received: {sorted(results)}"
            )
        better = higher_is_better
        if isinstance(higher_is_better, dict):
            if metric not in higher_is_better:
                raise ValueError(
                    f"`higher_is_better` lacks metric '{name}'. Received: "
                    f"{sorted(higher_is_better)}"
                )
            better = higher_is_better[metric]
        if not isinstance(better, bool):
            raise ValueError(
                f"`higher_is_better` of '{name}' must be a bool. Received: "
                f"{better!r}"
            )
        value, base = _value(results[metric], name), _value(baseline, name)
        if base == 0.0:
            raise ValueError(
                f"The baseline of '{name}' is 0: its relative change is "
                "undefined."
            )
        sign = 1.0 if better else -1.0
        deltas.append(sign * (value - base) / abs(base))
    return sum(deltas) / len(deltas)


def _value(value, name):
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"No runs given for '{name}'.")
        value = sum(float(v) for v in value) / len(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"The value of '{name}' is not finite: {value}")
    return value


def delta_m_table(results, baselines, higher_is_better=True):
    """`delta_m` of every method on every recipe, and its mean over recipes.

    Args:
        results: dict recipe -> (dict method -> metrics), the metrics as
            `delta_m` takes them (values may be lists of runs).
        baselines: dict recipe -> single-task baseline metrics.
        higher_is_better: one spec for all recipes (bool or dict, as in
            `delta_m`), or a dict recipe -> spec. It is read per recipe
            when its keys are exactly the recipes of `baselines`.

    Returns:
        Dict method -> (dict recipe -> `delta_m` in %, plus `"mean"`: the
        mean over the recipes the method was run on).

    Example:

    >>> results = {"mnist": {"mtl": {"acc": 0.99}},
    ...            "census": {"mtl": {"auc": 0.88}}}
    >>> baselines = {"mnist": {"acc": 0.90}, "census": {"auc": 0.80}}
    >>> table = delta_m_table(results, baselines)
    >>> {k: round(v, 6) for k, v in table["mtl"].items()}
    {'mnist': 10.0, 'census': 10.0, 'mean': 10.0}
    """
    per_recipe = isinstance(higher_is_better, dict) and set(
        higher_is_better
    ) == set(baselines)
    table = {}
    for recipe, methods in results.items():
        if recipe not in baselines:
            raise ValueError(
                f"No baselines for recipe '{recipe}'. Received recipes: "
                f"{sorted(baselines)}"
            )
        better = higher_is_better[recipe] if per_recipe else higher_is_better
        for method, metrics in methods.items():
            table.setdefault(method, {})[recipe] = delta_m(
                metrics, baselines[recipe], better
            )
    for row in table.values():
        row["mean"] = sum(row.values()) / len(row)
    return table
