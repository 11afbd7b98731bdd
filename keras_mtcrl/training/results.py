"""Results of a recipe run: JSON files and the summary table."""

import json
import math
import os
import uuid

import numpy as np

from keras_mtcrl.metrics.delta_m import delta_m

#: Metric names (after `<task>_`) where lower values are better; every other
#: reported metric (accuracy, AUC, mIoU, within-angle rates) is higher-better.
LOWER_IS_BETTER = frozenset(
    {"rmse", "mae", "mse", "abs_error", "rel_error", "mean_angle",
     "median_angle"}
)
SPLIT_LABELS = {
    "test": "ID test",
    "test_shifted": "shifted test",
    "validation": "ID val",
    "validation_shifted": "shifted val",
}


def write_json(path, payload):
    """Writes JSON atomically: a kill mid-write never leaves a torn file."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    # A unique name: two writers never share (or delete) a temporary file.
    temporary = f"{path}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=_plain)
    os.replace(temporary, path)


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def metric_name(task, kind, primary_metrics):
    """The logged metric (`<task>_<metric>`) reported for `task`."""
    return metric_names(task, kind, primary_metrics)[0]


def metric_names(task, kind, primary_metrics):
    """All logged metrics reported for `task`, the primary one first.

    Args:
        task: str. Task name.
        kind: str. The task's kind (sets the default).
        primary_metrics: dict. Task -> metric name or tuple of names.

    Returns:
        List of `<task>_<metric>` keys.

    Example:

    >>> metric_names("rating", "regression", {"rating": ("rmse", "mae")})
    ['rating_rmse', 'rating_mae']
    >>> metric_names("liked", "binary", {})
    ['liked_accuracy']
    """
    default = "rmse" if kind == "regression" else "accuracy"
    names = primary_metrics.get(task, default)
    if isinstance(names, str):
        names = (names,)
    return [f"{task}_{name}" for name in names]


def aggregate(per_seed):
    """Mean and sample std over seeds of every (arch, split, metric) value.

    Args:
        per_seed: list of dicts arch -> split -> metric -> float.

    Returns:
        Dict arch -> split -> metric -> {"mean", "std", "n"}.

    Example:

    >>> runs = [{"m": {"test": {"acc": 0.5}}}, {"m": {"test": {"acc": 0.7}}}]
    >>> stats = aggregate(runs)["m"]["test"]["acc"]
    >>> round(stats["mean"], 3), round(stats["std"], 3), stats["n"]
    (0.6, 0.141, 2)
    """
    out = {}
    for run in per_seed:
        for arch, splits in run.items():
            for split, metrics in splits.items():
                for metric, value in metrics.items():
                    out.setdefault(arch, {}).setdefault(split, {}).setdefault(
                        metric, []
                    ).append(float(value))
    for arch, splits in out.items():
        for split, metrics in splits.items():
            for metric, values in metrics.items():
                std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
                metrics[metric] = {
                    "mean": float(np.mean(values)),
                    "std": std,
                    "n": len(values),
                }
    return out


def delta_m_by_split(stats, rows, splits, baseline="single_task"):
    """`delta_m` (%) of every architecture against `baseline`, per split.

    Uses the mean over seeds of each reported metric (`rows`), each task's
    metrics averaged first (see `keras_mtcrl.metrics.delta_m`); a metric
    named in `LOWER_IS_BETTER` counts with the opposite sign. Positive means
    better than the baseline.

    Args:
        stats: output of `aggregate`.
        rows: list of `(task, metric_key)` pairs, as for `format_table`.
        splits: split names.
        baseline: str. The reference architecture. Defaults to
            `"single_task"`.

    Returns:
        Dict arch -> split -> float (missing when a value is), or `{}` when
        `baseline` was not run.

    Example:

    >>> stats = aggregate([{"single_task": {"test": {"a_rmse": 2.0}},
    ...                     "mtcrl": {"test": {"a_rmse": 1.5}}}])
    >>> delta_m_by_split(stats, [("a", "a_rmse")], ["test"])["mtcrl"]
    {'test': 25.0}
    """
    if baseline not in stats:
        return {}
    out = {}
    for arch in stats:
        for split in splits:
            results, reference, better = {}, {}, {}
            for task, key in rows:
                value = stats[arch].get(split, {}).get(key)
                base = stats[baseline].get(split, {}).get(key)
                if value is None or base is None:
                    break
                metric = key[len(task) + 1:]
                results.setdefault(task, {})[metric] = value["mean"]
                reference.setdefault(task, {})[metric] = base["mean"]
                better.setdefault(task, {})[metric] = (
                    metric not in LOWER_IS_BETTER
                )
            else:
                try:
                    out.setdefault(arch, {})[split] = delta_m(
                        results, reference, better
                    )
                except ValueError:  # a zero or non-finite baseline
                    pass
    return out


def format_table(stats, rows, architectures, splits, delta=None, diverged=None):
    """Renders the summary as a markdown table.

    Args:
        stats: output of `aggregate`.
        rows: list of `(task, metric_key)` pairs.
        architectures: column order.
        splits: split names to show per task.
        delta: output of `delta_m_by_split`, or None. When given, one last
            row per split holds each architecture's `delta_m` in %.
        diverged: dict arch -> {seed: details} or None. Every cell of an
            architecture with a diverged seed reads `diverged (seed s)`:
            a mean over the other seeds would hide the failure.

    Returns:
        str, a markdown table (mean ± std over seeds).

    Example:

    >>> stats = aggregate([{"m": {"test": {"a_accuracy": 0.5}}}])
    >>> print(format_table(stats, [("a", "a_accuracy")], ["m"], ["test"]))
    | task | metric | split | m |
    |---|---|---|---|
    | a | accuracy | ID test | 0.500 |
    """
    header = "| task | metric | split | " + " | ".join(architectures) + " |"
    lines = [header, "|" + "---|" * (3 + len(architectures))]
    for task, key in rows:
        for split in splits:
            cells = []
            for arch in architectures:
                if (diverged or {}).get(arch):
                    seeds = ", ".join(str(s) for s in diverged[arch])
                    cells.append(f"diverged (seed {seeds})")
                    continue
                value = stats.get(arch, {}).get(split, {}).get(key)
                cells.append(_cell(value))
            metric = key[len(task) + 1:]
            label = SPLIT_LABELS.get(split, split)
            lines.append(
                f"| {task} | {metric} | {label} | " + " | ".join(cells) + " |"
            )
    for split in splits if delta else ():
        cells = [
            "diverged" if (diverged or {}).get(arch)
            else _signed(delta.get(arch, {}).get(split))
            for arch in architectures
        ]
        label = SPLIT_LABELS.get(split, split)
        lines.append(
            f"| all | Δm vs single_task (%) | {label} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _signed(value):
    return "-" if value is None else f"{value:+.1f}"


def _cell(value):
    if value is None or not math.isfinite(value["mean"]):
        return "-"
    if value["n"] > 1:
        return f"{value['mean']:.3f} ± {value['std']:.3f}"
    return f"{value['mean']:.3f}"
