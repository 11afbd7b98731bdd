"""Label dependence between tasks: the raw material of a label shortcut."""

import numpy as np

from keras_mtcrl.models.label_groups import code_radix
from keras_mtcrl.models.label_groups import collect_labels
from keras_mtcrl.models.label_groups import label_codes
from keras_mtcrl.models.label_groups import task_kinds

#: Shuffled pairings that estimate the finite-sample (chance) dependence.
NUM_PERMUTATIONS = 5


def normalized_mutual_information(codes_t, codes_s, radix_t, radix_s):
    """`I(y_t; y_s) / H(y_t)` from paired integer codes (0 if `H = 0`).

    The share of task `t`'s label uncertainty that task `s`'s label
    removes: 0 for independent labels, 1 when `y_s` determines `y_t`.

    Example:

    >>> a = np.array([0, 0, 1, 1])
    >>> normalized_mutual_information(a, a, 2, 2)
    1.0
    >>> normalized_mutual_information(a, np.array([0, 1, 0, 1]), 2, 2)
    0.0
    """
    joint = np.zeros((radix_t, radix_s))
    np.add.at(joint, (codes_t, codes_s), 1.0)
    joint /= max(joint.sum(), 1.0)
    p_t, p_s = joint.sum(1), joint.sum(0)
    entropy = -np.sum(p_t[p_t > 0] * np.log(p_t[p_t > 0]))
    if entropy <= 0:
        return 0.0
    expected = np.outer(p_t, p_s)
    nonzero = joint > 0
    information = np.sum(
        joint[nonzero] * np.log(joint[nonzero] / expected[nonzero])
    )
    return float(max(information, 0.0) / entropy)


def label_dependence(
    dataset, tasks, environment_key=None, threshold=0.05, seed=0
):
    """Per ordered task pair, how much one label tells about the other.

    For each ordered pair `(t, s)` this measures the normalised mutual
    information `I(y_t; y_s) / H(y_t)` on the empirical joint, and the
    same on `y_s` shuffled (the independent reference: what a finite
    sample shows by chance). A pair is flagged as likely confounded when
    the excess over the reference exceeds `threshold`: a model of `t`
    can then lean on features of `s` (a shortcut that fails when the
    dependence shifts). With an environment column, the same is reported
    per environment: a dependence that differs across environments is
    the shift itself. Regression labels are cut at their mean,
    multi-label targets at their first positive label.

    Args:
        dataset: unbatched `tf.data.Dataset` of `(features, labels)`.
        tasks: heads, `TaskSpec`s or dict task -> `(kind, units)`.
        environment_key: str or None. Feature key of the environment id.
            Defaults to `None`.
        threshold: float. Excess NMI that flags a pair. Defaults to
            `0.05`.
        seed: int. Seed of the shuffles. Defaults to `0`.

    Returns:
        List of dicts with `task`, `given`, `environment` (`"all"` or an
        id), `n`, `nmi`, `reference`, `flagged` (bool).

    Example:

    >>> import tensorflow as tf
    >>> a = np.arange(200) % 2
    >>> ds = tf.data.Dataset.from_tensor_slices(
    ...     (np.zeros(200), {"a": a * 1.0, "b": a * 1.0}))
    >>> rows = label_dependence(ds, {"a": ("binary", 1), "b": ("binary", 1)})
    >>> [(r["task"], r["given"], r["flagged"]) for r in rows]
    [('a', 'b', True), ('b', 'a', True)]
    """
    kinds = task_kinds(tasks)
    labels, environments = collect_labels(
        dataset, list(kinds), environment_key
    )
    codes, valid = {}, {}
    for task, (kind, units) in kinds.items():
        threshold_t = float(np.nanmean(labels[task])) if (
            kind == "regression"
        ) else 0.0
        code, ok = label_codes(labels[task], kind, units, threshold_t)
        codes[task], valid[task] = code.numpy(), ok.numpy()
    scopes = [("all", None)]
    if environments is not None:
        scopes += [(int(e), environments == e) for e in np.unique(environments)]
    rng = np.random.default_rng(seed)
    rows = []
    for task in kinds:
        for given in kinds:
            if given == task:
                continue
            radix = (code_radix(*kinds[task]), code_radix(*kinds[given]))
            for scope, members in scopes:
                keep = valid[task] & valid[given]
                if members is not None:
                    keep &= members
                y_t, y_s = codes[task][keep], codes[given][keep]
                nmi = normalized_mutual_information(y_t, y_s, *radix)
                reference = float(np.mean([
                    normalized_mutual_information(
                        y_t, rng.permutation(y_s), *radix
                    )
                    for _ in range(NUM_PERMUTATIONS)
                ]))
                rows.append({
                    "task": task,
                    "given": given,
                    "environment": scope,
                    "n": int(keep.sum()),
                    "nmi": nmi,
                    "reference": reference,
                    "flagged": bool(nmi - reference > threshold),
                })
    return rows


def format_dependence_table(rows):
    """A markdown table of `label_dependence` rows.

    Example:

    >>> print(format_dependence_table([{"task": "a", "given": "b",
    ...     "environment": "all", "n": 10, "nmi": 0.5, "reference": 0.01,
    ...     "flagged": True}]))
    | task | given | environment | n | NMI | chance NMI | likely confounded |
    |---|---|---|---|---|---|---|
    | a | b | all | 10 | 0.500 | 0.010 | YES |
    """
    lines = [
        "| task | given | environment | n | NMI | chance NMI "
        "| likely confounded |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['task']} | {row['given']} | {row['environment']} "
            f"| {row['n']} | {row['nmi']:.3f} | {row['reference']:.3f} "
            f"| {'YES' if row['flagged'] else 'no'} |"
        )
    return "\n".join(lines)
