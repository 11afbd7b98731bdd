"""Results of a recipe run: JSON files and the summary table."""

import json
import math
import os

import numpy as np

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
    temporary = f"{path}.tmp"
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


def format_table(stats, rows, architectures, splits):
    """Renders the summary as a markdown table.

    Args:
        stats: output of `aggregate`.
        rows: list of `(task, metric_key)` pairs.
        architectures: column order.
        splits: split names to show per task.

    Returns:
        str, a markdown table (mean ± std over seeds).
    """
    header = "| task | metric | split | " + " | ".join(architectures) + " |"
    lines = [header, "|" + "---|" * (3 + len(architectures))]
    for task, key in rows:
        for split in splits:
            cells = []
            for arch in architectures:
                value = stats.get(arch, {}).get(split, {}).get(key)
                cells.append(_cell(value))
            metric = key[len(task) + 1:]
            label = SPLIT_LABELS.get(split, split)
            lines.append(
                f"| {task} | {metric} | {label} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def _cell(value):
    if value is None or not math.isfinite(value["mean"]):
        return "-"
    if value["n"] > 1:
        return f"{value['mean']:.3f} ± {value['std']:.3f}"
    return f"{value['mean']:.3f}"
