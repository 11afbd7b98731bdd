"""How much signal each choice of environments gives the invariance penalty.

Trains an MT-CRL model with every penalty off (plain ERM through the graph)
on a recipe's training data, then evaluates, on its in-distribution
validation split taken as one batch, task `t`'s penalty (`grad_var` and
`vrex`, unweighted) under each way of forming environments:

- `column`: the dataset's environment ids;
- `balanced`: observed vs label-balanced weighting (the default's part);
- `agreement`: over- vs under-represented label pairs;
- `label value`: one group per value of the other task's label (the first
  design, measured not to work);
- `random`: a random two-way partition (the noise floor).

A choice carries signal when it is well above `random`.

`--recipe` takes a registered name or a recipe file (`my_recipe.py`, as
`keras-mtcrl train` does), so the environments of your own data can be
checked the same way; `--data-arg KEY=VALUE` sets one of its data
builder's arguments.

Usage:

    python -m benchmarks.environment_signal [--recipe synthetic]
        [--task a] [--epochs 10] [--seed 0] [--data-arg KEY=VALUE ...]
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.cli import _data_arg
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.losses import InvariancePenalty
from keras_mtcrl.models import CausalMTLModel
from keras_mtcrl.training.model_factory import input_shape_of
from keras_mtcrl.training.recipe_files import resolve_recipe

CHOICES = ("column", "balanced", "agreement", "label value", "random")


def train_erm(recipe, data, epochs):
    """An MT-CRL model of the recipe with every penalty off, trained."""
    config = recipe.config
    heads = {
        spec.name: recipe.build_head(spec, config)
        if recipe.build_head
        else TaskHead(spec.kind, spec.units)
        for spec in data.tasks
    }
    model = CausalMTLModel(
        recipe.build_encoder(config, data),
        heads,
        disentanglement=None,
        sparsity=None,
        invariance=None,
        input_shape=input_shape_of(data),
        environment_key=data.environment_key,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    train = data.batched("train", config.batch_size, shuffle=True, seed=0)
    model.fit(train, epochs=epochs, verbose=0)
    return model


def memberships(model, labels, environment, task, valid, num_envs, seed):
    """Choice -> `(batch, E)` environment weights of `task`."""
    other = next(t for t in model.task_names if t != task)
    out = {}
    if environment is not None and num_envs:
        ids = tf.reshape(tf.cast(environment, "int32"), (-1,))
        out["column"] = tf.one_hot(ids, num_envs) * valid[:, None]
    for mode in ("balanced", "agreement"):
        out[mode] = model.label_pairs.membership(labels, task, mode)
    onehot = model.label_pairs.codes(labels)[other][0]
    out["label value"] = onehot * valid[:, None]
    rng = np.random.default_rng(seed)
    part = rng.integers(0, 2, int(valid.shape[0]))
    out["random"] = tf.one_hot(part, 2) * valid[:, None]
    return out


def measure(
    recipe_name="synthetic", task=None, epochs=10, seed=0, data_args=None
):
    """Returns `(task, choice -> {"grad_var": value, "vrex": value})`.

    Args:
        recipe_name: str. A registered recipe or a recipe file.
        task: str or None. The task whose penalty is measured (the
            first by default).
        epochs: int. Epochs of ERM training.
        seed: int.
        data_args: dict or None. Entries that replace the recipe's
            `data_args`.
    """
    recipe = resolve_recipe(recipe_name)
    recipe = recipe.with_config(
        seed=seed,
        data_args={**recipe.config.data_args, **(data_args or {})},
    )
    config = recipe.config
    data = recipe.build_data(config)
    keras.utils.set_random_seed(seed)
    model = train_erm(recipe, data, epochs)
    task = task or model.task_names[0]
    size = data.sizes.get("validation", 4096)
    inputs, labels = next(iter(data.batched("validation", size)))
    # Count the label pairs of the training data (ERM never filled them).
    for _, train_labels in data.batched("train", 4096):
        model.label_pairs.update(train_labels)
    forward = _with_gradients(model, inputs, labels)
    losses, valid = forward["per_sample"][task][:2]
    scale = float(tf.reduce_sum(losses) / tf.reduce_sum(valid))
    signal = model.module_signal(forward, task)
    env = model.split_environment(inputs)[1]
    results = {}
    for name, member in memberships(
        model, labels, env, task, valid, data.num_environments, seed
    ).items():
        results[name] = {}
        for method in ("grad_var", "vrex"):
            penalty = InvariancePenalty(method, min_env_samples=8)
            values = signal if method == "grad_var" else losses[:, None]
            raw = float(penalty.statistic(member, values))
            results[name][method] = raw / (scale + 1e-3) ** 2
    return task, results


def _with_gradients(model, inputs, labels):
    """The inference-mode forward pass with per-sample `d l / d u`."""
    features, environment = model.split_environment(inputs)
    modules = model.encoder(features, training=False)
    routed = model.router(modules, training=False)
    outputs = {"modules": modules, "routed": routed,
               "environment": environment}
    watched = [routed[t] for t in model.task_names]
    with tf.GradientTape(watch_accessed_variables=False) as probe:
        probe.watch(watched)
        predictions, per_sample = {}, {}
        for t in model.task_names:
            predictions[t] = model.heads[t](routed[t], training=False)
            per_sample[t] = model._task_loss(
                t, labels[t], predictions[t], None
            )
        target = tf.add_n(
            [tf.reduce_sum(per_sample[t][0]) for t in model.task_names]
        )
    grads = probe.gradient(target, watched)
    outputs.update(
        predictions=predictions,
        per_sample=per_sample,
        routed_grads=dict(zip(model.task_names, grads)),
    )
    return outputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="synthetic")
    parser.add_argument("--task", default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-arg", action="append", default=[],
                        type=_data_arg, metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    task, results = measure(
        args.recipe, args.task, args.epochs, args.seed, dict(args.data_arg)
    )
    print(
        f"Invariance penalty of task '{task}' on an ERM model of "
        f"'{args.recipe}' (seed {args.seed}, {args.epochs} epochs), "
        "in-distribution validation split, normalised by the squared loss:"
    )
    print("| environments | grad_var | vrex |\n|---|---|---|")
    for name in CHOICES:
        if name in results:
            row = results[name]
            print(f"| {name} | {row['grad_var']:.3g} | {row['vrex']:.3g} |")


if __name__ == "__main__":
    main()
