"""Names and descriptions of the built-in recipes, without importing them.

`keras-mtcrl list` prints this table so that it answers without importing
TensorFlow. It must equal the `RecipeConfig.description` of every recipe
that `keras_mtcrl.recipes` registers: `tests/cli/launcher_test.py` checks
it, so a new or edited recipe fails that test until it is listed here.
"""

from importlib import metadata

# The entry-point group through which other packages add recipes.
ENTRY_POINT_GROUP = "keras_mtcrl.recipes"

BUILTIN_RECIPES = {
    "census_income": (
        "Census-Income (KDD), MMoE's tasks income > $50K and never married; "
        "ages >= 45 form the shifted test, age bands the training "
        "environments (committed sample, or --data-dir with the UCI files)."
    ),
    "cityscapes": (
        "CityScapes (your copy via --data-dir): 19-class segmentation and "
        "disparity; shifted by city."
    ),
    "movielens": (
        "MovieLens (dslabs ml-latest-small via apt, or GroupLens files with "
        "--data-dir): rating (RMSE, MAE) and liked (AUC); movies released "
        "from 2003 on form the shifted test, release periods the training "
        "environments."
    ),
    "multi_fashion_mnist": (
        "Multi-Fashion-MNIST with label confounding; Debian's "
        "dataset-fashion-mnist is fetched on first use (or --data-dir)."
    ),
    "multi_mnist": (
        "Multi-MNIST (real MNIST digits, embedded): left/right digit tasks; "
        "labels confounded 95%/85% in two training environments, 10% in the "
        "shifted test."
    ),
    "multi_mnist_pairs": (
        "DoubleMNIST-style Multi-MNIST: disjoint (left, right) class pairs "
        "in train and the shifted splits; environments derived from the "
        "other task's label."
    ),
    "nyuv2": (
        "NYUv2 (your copy via --data-dir: preprocessed .npy layout or the "
        "labeled .mat): segmentation (13 classes in the .npy layout), "
        "depth, normals; shifted by scene type."
    ),
    "scenes": (
        "Procedural scenes (no download): segmentation, depth, normals; "
        "object colour follows the class 90%/70% in training, is random in "
        "the shifted test (a CPU run takes a few minutes)."
    ),
    "synthetic": (
        "Two binary tasks whose labels agree 90% in training and 10% in the "
        "shifted test: a label-confounding shortcut (about a minute per "
        "architecture on 2 CPU cores)."
    ),
    "taskonomy": (
        "Taskonomy (your copy via --data-dir): segmentation, depth, "
        "normals; shifted by building."
    ),
}


def plugin_recipes():
    """Returns `{name: "module:attr"}` of the installed recipe plug-ins.

    These are the entry points of the `keras_mtcrl.recipes` group. They are
    listed, not loaded: loading one imports TensorFlow.
    """
    return {
        point.name: point.value
        for point in metadata.entry_points(group=ENTRY_POINT_GROUP)
    }


def format_listing(descriptions):
    """Renders `{name: description}` as the lines of `keras-mtcrl list`.

    Args:
        descriptions: dict of str to str.

    Returns:
        str, one `name  description` line per recipe, sorted by name.

    Example:

    >>> print(format_listing({"b": "second", "a": "first"}))
    a                        first
    b                        second
    """
    return "\n".join(
        f"{name:24s} {descriptions[name]}" for name in sorted(descriptions)
    )


def listing():
    """The text of `keras-mtcrl list`: built-in recipes, then plug-ins."""
    descriptions = dict(BUILTIN_RECIPES)
    for name, target in plugin_recipes().items():
        descriptions.setdefault(name, f"(plug-in recipe from {target})")
    return format_listing(descriptions)
