"""Processes the reliability tests start, signal and kill.

Run as `python tests/reliability/subprocess_helpers.py <command> <args>`:

- `json-writer PATH`: rewrites a large JSON file with
  `keras_mtcrl.training.results.write_json` forever, printing each count.
- `backup-writer DIR`: commits `AtomicBackupAndRestore` backups of a model
  whose every weight equals the epoch number, forever, printing each.
- `hold-lock DIR`: takes the trainer's `LogdirLock` on `DIR`, prints 1
  and sleeps until killed.
- `train-steps OUT`: a few training steps of the `synthetic` recipe under
  MultiWorkerMirroredStrategy (with TF_CONFIG) or one device; per-step
  logs to `OUT` (JSON), final weights to `OUT.npz`; then two epochs of
  the trainer's `DistributedLoop` (per-epoch logs and test scores in
  `OUT`, weights in `OUT.loop.npz`).

Importing this module has no side effects (pytest imports it for
doctests).
"""

import importlib.util
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
ROOT = os.path.abspath(ROOT)


def child_env(**extra):
    """Environment of a child process: the repo on the path, quiet TF."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def start(args, **extra_env):
    """Starts `python args...` in the repo, output piped, own group."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=child_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(process):
    """Kills a child's whole process group if it still runs; returns output."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=30)
    return output


def wait_for(predicate, process, timeout):
    """Polls `predicate()` until true; fails if `process` ends or time's up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            raise AssertionError(
                f"The child ended (rc={process.returncode}) first:\n"
                + stop(process)[-3000:]
            )
        time.sleep(0.02)
    output = stop(process)
    raise AssertionError(f"Timed out after {timeout}s:\n{output[-3000:]}")


def read_counter(process):
    """Next integer the child printed (skips log lines; blocking)."""
    while True:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"The child ended: rc={process.poll()}")
        if line.strip().isdigit():
            return int(line)


def _load_results_module():
    # By file path: importing the package would pull in TensorFlow.
    path = os.path.join(ROOT, "keras_mtcrl", "training", "results.py")
    spec = importlib.util.spec_from_file_location("results", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def json_writer(path):
    results = _load_results_module()
    count = 0
    while True:
        count += 1
        results.write_json(path, {"count": count, "blob": "x" * 4_000_000})
        print(count, flush=True)


def backup_model():
    import keras

    model = keras.Sequential([keras.Input((1000,)), keras.layers.Dense(1000)])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def backup_writer(folder):
    import keras

    from keras_mtcrl.callbacks import AtomicBackupAndRestore

    model = backup_model()
    callback = AtomicBackupAndRestore(folder)
    callback.set_model(model)
    epoch = 0
    while True:
        epoch += 1
        for variable in model.weights:
            variable.assign(keras.ops.full_like(variable, float(epoch)))
        model.optimizer.iterations.assign(epoch)
        callback.on_epoch_end(epoch - 1)
        print(epoch, flush=True)


def hold_lock(folder):
    spec = importlib.util.spec_from_file_location(
        "logdir_lock",
        os.path.join(ROOT, "keras_mtcrl", "training", "logdir_lock.py"),
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no TensorFlow: starts in a blink
    lock = module.LogdirLock(folder).acquire()  # held while alive
    print(1, flush=True)
    while lock:
        time.sleep(1)


def train_steps(out_path):
    """Trains the `synthetic` recipe with the model's own `train_step` under
    the strategy (MultiWorkerMirroredStrategy when TF_CONFIG is set, else
    one device), then tries `model.fit`; writes what happened as JSON."""
    from keras_mtcrl.training.strategy import make_strategy

    multi = "TF_CONFIG" in os.environ
    # First: collectives are configured before TensorFlow starts.
    strategy = make_strategy("multiworker" if multi else "one")
    import json

    import keras
    import numpy as np
    import tensorflow as tf

    from keras_mtcrl.training import get_recipe
    from keras_mtcrl.training.epoch_shuffle import EpochShuffle
    from keras_mtcrl.training.model_factory import build_model
    from keras_mtcrl.training.trainer import training_datasets

    # The recipe's earlier model (4 all-input experts, invariance weight
    # 100), so that every term of the objective, loss_inv included, is
    # compared across workers.
    recipe = get_recipe("synthetic").with_config(
        data_args={"num_train": 256, "num_eval": 64},
        batch_size=64,
        learning_rate=0.01,
        architectures=("mtcrl",),
        model_args={"modules": "experts"},
        num_modules=4,
        invariance_weight=100.0,
        graph_balanced_risk=None,
        graph_temperature=1.0,
    )
    config = recipe.config
    keras.utils.set_random_seed(config.seed)
    data = recipe.build_data(config)
    with strategy.scope():
        model = build_model(recipe, data, "mtcrl")
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        model.optimizer.build(model.trainable_variables)
    shuffle = EpochShuffle(config.seed)
    train, _ = training_datasets(data, config, data.task_names, shuffle)
    batches = strategy.experimental_distribute_dataset(train)

    @tf.function
    def step(batch):
        logs = strategy.run(model.train_step, args=(batch,))
        # Every logged term is already a global-batch value.
        return {
            name: strategy.experimental_local_results(value)[0]
            for name, value in logs.items()
        }

    history = []
    for epoch in range(2):
        shuffle.on_epoch_begin(epoch)
        for batch in batches:
            model.reset_metrics()
            logs = step(batch)
            history.append(
                {k: float(v) for k, v in logs.items() if k.startswith("loss")}
            )
    np.savez(out_path + ".npz", *model.get_weights())
    report = {
        "replicas": strategy.num_replicas_in_sync,
        "history": history,
        "loop": _loop_run(recipe, data, strategy, out_path),
    }
    with open(out_path + ".tmp", "w") as handle:
        json.dump(report, handle)
    os.replace(out_path + ".tmp", out_path)
    try:
        model.fit(train, epochs=1, steps_per_epoch=1, verbose=0)
        report["fit"] = "ok"
    except Exception as error:  # reported to the test
        report["fit"] = f"{type(error).__name__}: {str(error)[:300]}"
    with open(out_path + ".tmp", "w") as handle:
        json.dump(report, handle)
    os.replace(out_path + ".tmp", out_path)


def _loop_run(recipe, data, strategy, out_path):
    """Two epochs of `DistributedLoop`; weights to `OUT.loop.npz`."""
    import keras
    import numpy as np

    from keras_mtcrl.training import DistributedLoop
    from keras_mtcrl.training.epoch_shuffle import EpochShuffle
    from keras_mtcrl.training.model_factory import build_model
    from keras_mtcrl.training.model_factory import compile_options
    from keras_mtcrl.training.trainer import training_examples

    config = recipe.config
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = build_model(recipe, data, "mtcrl")
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            **compile_options(recipe, data),
        )
    shuffle = EpochShuffle(config.seed)
    loop = DistributedLoop(model, strategy, verbose=0)
    history = loop.fit(
        training_examples(data, data.task_names, shuffle),
        config.batch_size,
        2,
        callbacks=[shuffle],
    )
    np.savez(out_path + ".loop.npz", *model.get_weights())
    return {
        "logs": history["logs"],
        "test": loop.evaluate(data.split("test"), config.batch_size),
    }


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    commands = {
        "json-writer": json_writer,
        "backup-writer": backup_writer,
        "hold-lock": hold_lock,
        "train-steps": train_steps,
    }
    commands[command](argument)
