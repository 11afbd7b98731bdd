"""Per-sample task losses of a forward pass, reweighted or as observed.

`MultiTaskModel.forward` returns `per_sample`: task -> `(loss, valid,
element mask, safe labels)`. Training methods that reweight the risk
(label-balanced reweighting, GroupDRO, `CausalMTLModel(balanced_risk=)`)
scale `loss`; penalties and selection metrics that must see the observed
data read it back with `observed_losses`. Label-balanced reweighting and
`balanced_risk` train on a share of the reweighted risk (`check_share`,
`mixed_weights`).
"""

import tensorflow as tf

OBSERVED = "observed_per_sample"


def weighted_per_sample(forward, weights, keep_observed=False):
    """`forward` with each task's per-sample loss times `weights[task]`.

    Args:
        forward: dict. A forward pass (`MultiTaskModel.forward`).
        weights: dict task -> `(batch,)` weights.
        keep_observed: bool. Also keep the unweighted losses under
            `"observed_per_sample"` (see `observed_losses`). Defaults to
            `False`.

    Example:

    >>> import tensorflow as tf
    >>> forward = {"per_sample": {"a": (tf.ones(2), 1.0, None, None)}}
    >>> out = weighted_per_sample(forward, {"a": tf.constant([2.0, 0.5])},
    ...                           keep_observed=True)
    >>> out["per_sample"]["a"][0].numpy().tolist()
    [2.0, 0.5]
    >>> observed_losses(out)["a"][0].numpy().tolist()
    [1.0, 1.0]
    """
    per_sample = dict(forward["per_sample"])
    for task, (loss, valid, mask, safe) in per_sample.items():
        weight = tf.cast(weights[task], loss.dtype)
        per_sample[task] = (loss * weight, valid, mask, safe)
    extra = {OBSERVED: forward["per_sample"]} if keep_observed else {}
    return {**forward, **extra, "per_sample": per_sample}


def observed_losses(forward):
    """Per-task `(loss, valid, mask, safe)` of the observed samples, before
    any reweighting of the training risk."""
    return forward.get(OBSERVED, forward["per_sample"])


def check_share(value, name, meaning=""):
    """Returns `value` as a float; raises unless it is in [0, 1].

    Args:
        value: the share of the reweighted risk.
        name: str. The argument's name, for the message.
        meaning: str. Appended to "must be in [0, 1]" (e.g. what 0 and 1
            mean). Defaults to `""`.

    Example:

    >>> check_share(0.25, "share")
    0.25
    """
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"`{name}` must be in [0, 1]{meaning}. Received: "
            f"{name}={value!r}"
        )
    return float(value)


def mixed_weights(weights, share):
    """Per-sample weights of `(1 - share) * observed + share * reweighted`
    risk, from the full reweighting's `weights`.

    Example:

    >>> mixed_weights(tf.constant([2.0, 0.0]), 0.5).numpy().tolist()
    [1.5, 0.5]
    """
    return 1.0 - share + share * weights
