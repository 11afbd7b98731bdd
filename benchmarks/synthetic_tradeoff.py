"""The in-distribution vs shifted accuracy trade-off of the synthetic data.

Task `a`'s label is `1[s + n > 0]` with `s, n ~ N(0, 1)` (its own score
`s`, `build_confounded_synthetic`'s defaults); task `b`'s label agrees with
`a`'s with probability 0.9 in training and 0.1 in the shifted test, and
`b`'s inputs reveal it almost exactly. The classifier
`logit(P(a | s)) + beta * (2 y_b - 1)` uses the shortcut with weight
`beta`: 0 ignores it, `log(9) = 2.2` is the in-distribution optimum. This
prints both accuracies per `beta`, the best any model of `a` can do.

Usage: `python -m benchmarks.synthetic_tradeoff`
"""

import math

import numpy as np

BETAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.2, 1.5, 2.2)


def tradeoff(betas=BETAS, draws=400_000, seed=0):
    """Returns `[(beta, ID accuracy, shifted accuracy)]`."""
    rng = np.random.default_rng(seed)
    score = rng.normal(size=draws)
    label = score + rng.normal(size=draws) > 0
    cdf = np.clip(
        0.5 * (1 + np.vectorize(math.erf)(score / math.sqrt(2))),
        1e-9,
        1 - 1e-9,
    )
    own = np.log(cdf / (1 - cdf))
    rows = []
    for beta in betas:
        accuracies = []
        for agreement in (0.9, 0.1):
            agree = rng.random(draws) < agreement
            other = np.where(agree, label, ~label)
            logit = own + beta * (2.0 * other - 1.0)
            accuracies.append(float(np.mean((logit > 0) == label)))
        rows.append((beta, *accuracies))
    return rows


if __name__ == "__main__":
    print("| beta | ID accuracy | shifted accuracy |\n|---|---|---|")
    for beta, in_dist, shifted in tradeoff():
        print(f"| {beta} | {in_dist:.3f} | {shifted:.3f} |")
