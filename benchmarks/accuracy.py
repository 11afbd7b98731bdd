"""Accuracy benchmark: MT-CRL vs baselines, ID and shifted, over seeds.

Every number comes from the shared trainer: each recipe is trained (or its
finished runs under the output folder are reused) and the summary the
trainer returns is collected, so the tables in docs/benchmarks.md are never
typed by hand. The first table gathers every recipe's `delta_m` against the
single-task baseline (the paper's headline measure); one table per recipe
follows, with every reported metric.
"""

import os
import time

#: MT-CRL and the multi-task baselines every recipe is compared on.
COMPARED = ("mtcrl", "shared_bottom", "mmoe", "single_task")
#: Those plus the out-of-distribution baselines of a shared-bottom model
#: (label-balanced reweighting, group DRO, IRMv1, V-REx, Fishr at the
#: recipe's `ood_*` settings, and GMTL's prediction-time prior correction),
#: on the recipes with labels.
WITH_OOD = {
    "architectures": COMPARED
    + ("reweight", "groupdro", "irm", "vrex", "fishr", "gmtl")
}
#: Those plus label-balanced reweighting, the baseline the MT-CRL issue
#: names for confounded labels.
WITH_REWEIGHT = {"architectures": COMPARED + ("reweight",)}
#: The synthetic recipe, left out of the second mean so that its large
#: gain cannot carry it.
SYNTHETIC = ("synthetic",)
#: Recipes benchmarked in full mode, with the changes applied to them.
FULL = {
    "synthetic": WITH_OOD,
    # Since the spatial-region modules (2026-12-03) without GroupDRO, IRM,
    # V-REx, Fishr and GMTL, for time; their rows with the earlier encoder
    # are in docs/benchmarks.md's history.
    "multi_mnist": WITH_REWEIGHT,
    "multi_mnist_pairs": {},
    "multi_fashion_mnist": {},
    "census_income": WITH_OOD,
    "movielens": {},
    # The recipe trains two architectures by default; the benchmark adds
    # the rest, so that its delta_m has the single-task reference.
    "scenes": {"architectures": COMPARED},
}
#: Registered recipes left out of the full run, and why.
NOT_RUN = {
    "nyuv2": "needs your copy of NYUv2 (`--data-dir`); not on this machine",
    "cityscapes": "needs your copy of CityScapes (`--data-dir`); not on "
    "this machine",
    "taskonomy": "needs your copy of Taskonomy (`--data-dir`); not on this "
    "machine",
}
#: The smoke version: one tiny recipe, one seed.
QUICK = {
    "synthetic": {
        "data_args": {"num_train": 256, "num_eval": 128},
        "epochs": 1,
        "architectures": ("mtcrl", "shared_bottom", "single_task"),
    },
}
SPLITS = (("test", "ID"), ("test_shifted", "shifted"))


def run(quick=False, logdir=None, seeds=None):
    """Trains (or reuses) each recipe and returns a markdown section.

    Args:
        quick: bool. Tiny smoke mode. Defaults to `False`.
        logdir: str. Output folder. Defaults to `runs/benchmarks` (a temp
            folder in quick mode).
        seeds: sequence of int. Defaults to `[0, 1, 2]` (`[0]` in quick
            mode).

    Returns:
        str, markdown: the `delta_m` table over recipes, then one table per
        recipe (mean ± std over seeds).
    """
    import tempfile

    from keras_mtcrl.training import Trainer
    from keras_mtcrl.training import get_recipe
    from keras_mtcrl.training import list_recipes

    plan = QUICK if quick else FULL
    seeds = list(seeds or ([0] if quick else [0, 1, 2]))
    logdir = logdir or (tempfile.mkdtemp() if quick else "runs/benchmarks")
    known = set(list_recipes())
    summaries, sections = {}, []
    for index, (name, changes) in enumerate(plan.items(), start=1):
        # The full run takes about an hour: say where it is.
        print(
            f"[benchmarks] accuracy: {name} ({index}/{len(plan)}), seeds "
            f"{seeds}, in {os.path.join(logdir, name)}",
            flush=True,
        )
        started = time.time()
        if name not in known:
            sections.append(f"### {name}\n\nRecipe not available yet.\n")
            continue
        recipe = get_recipe(name)
        if changes:
            recipe = recipe.with_config(**changes)
        summary = Trainer(
            recipe, os.path.join(logdir, name), "auto", verbose=0
        ).run(seeds=seeds)
        print(
            f"[benchmarks] accuracy: {name} done in "
            f"{time.time() - started:.0f} s",
            flush=True,
        )
        summaries[name] = summary
        sections.append(
            f"### {name}\n\nSeeds {seeds}; command: "
            f"`{train_command(name, changes, seeds)}`.\n\n"
            f"{summary['table']}\n"
        )
    head = [delta_m_overview(summaries)]
    if not quick:
        head.append(_not_run_lines(known))
    return "\n".join(head + sections)


def train_command(name, changes, seeds):
    """The `keras-mtcrl train` command line that trains what the benchmark
    trains for one recipe.

    Args:
        name: str. The recipe.
        changes: dict. Config fields the benchmark overrides.
        seeds: sequence of int.

    Returns:
        str, the command.

    Example:

    >>> command = train_command(
    ...     "toy", {"architectures": ("mtcrl", "mmoe"),
    ...             "data_args": {"num_train": 8}}, [0, 1])
    >>> command.split(" --")[0]
    'keras-mtcrl train toy'
    >>> command.split(" --")[1:]
    ['seeds 0,1', 'architectures mtcrl,mmoe', 'data-arg num_train=8']
    """
    from keras_mtcrl.cli import config_flag

    words = ["keras-mtcrl", "train", name, "--seeds", ",".join(map(str, seeds))]
    for field, value in changes.items():
        flag = config_flag(field)
        if field == "data_args":
            words += [f"--data-arg {k}={v}" for k, v in value.items()]
        elif isinstance(value, bool):
            words.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, (tuple, list)):
            words.append(f"{flag} {','.join(value)}")
        else:
            words.append(f"{flag} {value}")
    return " ".join(words)


def delta_m_overview(summaries):
    """One markdown table: each recipe's `delta_m` (%) per architecture.

    Args:
        summaries: dict recipe -> the summary `Trainer.run` returned.

    Returns:
        str, markdown. Rows are recipes (and their mean); columns are
        (architecture, split) pairs; cells are `delta_m` against
        `single_task` in %, positive = better than single-task models.

    Example:

    >>> summary = {"delta_m": {"mtcrl": {"test": 1.0, "test_shifted": 4.0},
    ...                        "single_task": {"test": 0.0,
    ...                                        "test_shifted": 0.0}},
    ...            "config": {"architectures": ["mtcrl", "single_task"]}}
    >>> print(delta_m_overview({"toy": summary}).splitlines()[-3])
    | mean over recipes | +1.0 | +4.0 |
    """
    architectures = []
    for summary in summaries.values():
        for arch in summary["config"]["architectures"]:
            if arch != "single_task" and arch not in architectures:
                architectures.append(arch)
    columns = [(arch, split) for arch in architectures for split, _ in SPLITS]
    labels = dict(SPLITS)
    lines = [
        "#### Δm against single-task models (%), all recipes",
        "",
        "Mean relative change of every reported metric over the "
        "single-task baseline trained on the same data (each task's "
        "metrics averaged first, then the tasks; lower-is-better metrics "
        "with the opposite sign), from the seed means of the tables below. "
        "Positive = better than one model per task.",
        "",
        "| recipe | "
        + " | ".join(f"{arch} {labels[split]}" for arch, split in columns)
        + " |",
        "|---|" + "---:|" * len(columns),
    ]
    totals = {column: [] for column in columns}
    for name, summary in summaries.items():
        cells = []
        for arch, split in columns:
            value = summary.get("delta_m", {}).get(arch, {}).get(split)
            if value is not None:
                totals[(arch, split)].append(value)
            cells.append("-" if value is None else f"{value:+.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = [
        f"{sum(v) / len(v):+.1f}" if v else "-"
        for v in (totals[column] for column in columns)
    ]
    lines.append("| mean over recipes | " + " | ".join(means) + " |")
    real = [n for n in summaries if n not in SYNTHETIC]
    if real and len(real) < len(summaries):
        cells = []
        for arch, split in columns:
            values = [
                summaries[n].get("delta_m", {}).get(arch, {}).get(split)
                for n in real
            ]
            values = [v for v in values if v is not None]
            cells.append(f"{sum(values) / len(values):+.1f}" if values else "-")
        lines.append(
            "| mean without synthetic | " + " | ".join(cells) + " |"
        )
    lines.append(
        "\nA mean covers the recipes where that architecture ran "
        f"(left out of the second: {', '.join(SYNTHETIC)})."
    )
    return "\n".join(lines) + "\n"


def _not_run_lines(known):
    lines = [
        f"- `{name}`: {why}." for name, why in NOT_RUN.items() if name in known
    ]
    if not lines:
        return ""
    return "Registered recipes not in this run:\n\n" + "\n".join(lines) + "\n"
