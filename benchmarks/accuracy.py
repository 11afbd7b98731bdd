"""Accuracy benchmark: MT-CRL vs baselines, ID and shifted, over seeds.

Every number comes from the shared trainer: each recipe is trained (or its
finished runs under the output folder are reused) and the summary table the
trainer prints is collected, so the tables in docs/benchmarks.md are never
typed by hand.
"""

import os

#: Recipes benchmarked in full mode, with the changes applied to them.
FULL = {
    "synthetic": {},
    "multi_mnist": {},
    "census_income": {},
    "movielens": {},
    "scenes": {},
}
#: The smoke version: one tiny recipe, one seed.
QUICK = {
    "synthetic": {
        "data_args": {"num_train": 256, "num_eval": 128},
        "epochs": 1,
        "architectures": ("mtcrl", "shared_bottom"),
    },
}


def run(quick=False, logdir=None, seeds=None):
    """Trains (or reuses) each recipe and returns a markdown section.

    Args:
        quick: bool. Tiny smoke mode. Defaults to `False`.
        logdir: str. Output folder. Defaults to `runs/benchmarks` (a temp
            folder in quick mode).
        seeds: sequence of int. Defaults to `[0, 1, 2]` (`[0]` in quick
            mode).

    Returns:
        str, markdown: one table per recipe (mean ± std over seeds).
    """
    import tempfile

    from keras_mtcrl.training import Trainer
    from keras_mtcrl.training import get_recipe
    from keras_mtcrl.training import list_recipes

    plan = QUICK if quick else FULL
    seeds = list(seeds or ([0] if quick else [0, 1, 2]))
    logdir = logdir or (tempfile.mkdtemp() if quick else "runs/benchmarks")
    known = set(list_recipes())
    sections = []
    for name, changes in plan.items():
        if name not in known:
            sections.append(f"### {name}\n\nRecipe not available yet.\n")
            continue
        recipe = get_recipe(name)
        if changes:
            recipe = recipe.with_config(**changes)
        summary = Trainer(
            recipe, os.path.join(logdir, name), "auto", verbose=0
        ).run(seeds=seeds)
        sections.append(
            f"### {name}\n\nSeeds {seeds}; command: `keras-mtcrl train "
            f"{name} --seeds {','.join(map(str, seeds))}`.\n\n"
            f"{summary['table']}\n"
        )
    return "\n".join(sections)
