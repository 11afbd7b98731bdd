"""A small synthetic two-task problem with confounded task labels."""

import numpy as np
import tensorflow as tf

from keras_mtcrl.datasets.multi_task_data import MultiTaskData
from keras_mtcrl.datasets.multi_task_data import TaskSpec


def _split(rng, size, agreement, num_features, causal_noise, env):
    """Draws one split; returns features dict and labels dict (numpy)."""
    latent_a = rng.normal(size=(size, num_features)).astype("float32")
    score_a = latent_a.mean(axis=1) * np.sqrt(num_features)
    label_a = (score_a + causal_noise * rng.normal(size=size) > 0)
    agree = rng.random(size) < agreement
    label_b = np.where(agree, label_a, ~label_a)
    sign_b = 2.0 * label_b[:, None] - 1.0
    latent_b = sign_b + 0.5 * rng.normal(size=(size, num_features))
    features = np.concatenate([latent_a, latent_b], axis=1).astype("float32")
    return (
        {"x": features, "env": np.full(size, env, "int32")},
        {"a": label_a.astype("float32"), "b": label_b.astype("float32")},
    )


def build_confounded_synthetic(
    num_train=4000,
    num_eval=2000,
    train_agreement=(0.95, 0.85),
    shifted_agreement=0.1,
    num_features=4,
    causal_noise=1.0,
    seed=0,
):
    """Two binary tasks whose labels agree in training and disagree later.

    Task `a` is caused by the first `num_features` inputs through a noisy
    rule (`causal_noise` caps how well they predict it); task `b` is
    caused, almost noiselessly, by the next `num_features` inputs. In
    training environment `e` the label of `b` equals that of `a` with
    probability `train_agreement[e]`, so `b`'s features are a shortcut for
    `a` that beats `a`'s own causal features in training and fails on the
    shifted splits, where labels agree with probability
    `shifted_agreement`. The environment id is in feature `env`.

    Args:
        num_train: int. Training examples, split evenly over environments.
            Defaults to `4000`.
        num_eval: int. Examples in each evaluation split. Defaults to
            `2000`.
        train_agreement: tuple of float. Label agreement per training
            environment. Defaults to `(0.95, 0.85)` (mean 0.9).
        shifted_agreement: float. Label agreement in the shifted splits.
            Defaults to `0.1`.
        num_features: int. Inputs per task. Defaults to `4`.
        causal_noise: float. Noise on task `a`'s causal rule. Defaults to
            `1.0`.
        seed: int. Seed of the draw. Defaults to `0`.

    Returns:
        `MultiTaskData` with splits `train`, `validation`, `test`,
        `validation_shifted`, `test_shifted`.

    Example:

    >>> data = build_confounded_synthetic(num_train=100, num_eval=50)
    >>> features, labels = next(iter(data.split("train")))
    >>> features["x"].shape, sorted(labels)
    (TensorShape([8]), ['a', 'b'])
    """
    if not all(0.0 <= p <= 1.0 for p in (*train_agreement, shifted_agreement)):
        raise ValueError(
            "Agreement rates must be probabilities in [0, 1]. Received: "
            f"train_agreement={train_agreement}, "
            f"shifted_agreement={shifted_agreement}"
        )
    rng = np.random.default_rng(seed)
    num_envs = len(train_agreement)

    def mixed(size):
        parts = [
            _split(rng, size // num_envs, p, num_features, causal_noise, e)
            for e, p in enumerate(train_agreement)
        ]
        return tuple(
            {k: np.concatenate([p[i][k] for p in parts]) for k in parts[0][i]}
            for i in range(2)
        )

    arrays = {
        "train": mixed(num_train),
        "validation": mixed(num_eval),
        "test": mixed(num_eval),
        "validation_shifted": _split(
            rng, num_eval, shifted_agreement, num_features, causal_noise,
            num_envs,
        ),
        "test_shifted": _split(
            rng, num_eval, shifted_agreement, num_features, causal_noise,
            num_envs,
        ),
    }
    return MultiTaskData(
        splits={
            name: tf.data.Dataset.from_tensor_slices(value)
            for name, value in arrays.items()
        },
        tasks=(TaskSpec("a", "binary", 1), TaskSpec("b", "binary", 1)),
        num_environments=num_envs + 1,
        description=(
            "Synthetic: task a has noisy causal inputs, task b near-perfect "
            "ones; their labels agree in training (a shortcut for a) and "
            "disagree in the shifted splits."
        ),
        sizes={name: len(value[1]["a"]) for name, value in arrays.items()},
    )
