import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.testing import TestCase
from keras_mtcrl.testing.distribution import mirrored_strategy
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training.epoch_shuffle import EpochShuffle
from keras_mtcrl.training.trainer import training_datasets
from keras_mtcrl.training.trainer import without_auto_shard


def tiny_recipe(**changes):
    # Two modules (two groups of input columns) and one or two epochs keep
    # each run to a few seconds of tracing: these tests check the Trainer,
    # not what the recipe learns.
    changes.setdefault("epochs", 2)
    changes.setdefault("num_modules", 2)
    return get_recipe("synthetic").with_config(
        data_args={"num_train": 256, "num_eval": 128},
        batch_size=64,
        **changes,
    )


class _KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.kill_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.kill_epoch:
            raise KeyboardInterrupt("simulated kill")


def _weights(path):
    return keras.saving.load_model(path).get_weights()


class TrainerTest(TestCase):
    def test_run_writes_results_table_graph_and_logs_once(self):
        folder = tempfile.mkdtemp()
        recipe = tiny_recipe(epochs=1, architectures=("mtcrl", "single_task"))
        summary = Trainer(recipe, folder, "one", verbose=0).run(seeds=[0, 1])
        with open(os.path.join(folder, "results.json")) as handle:
            saved = json.load(handle)
        self.assertEqual(saved["seeds"], [0, 1])
        stats = saved["stats"]["mtcrl"]["test_shifted"]["a_accuracy"]
        self.assertEqual(stats["n"], 2)
        self.assertTrue(0.0 <= stats["mean"] <= 1.0)
        self.assertIn("b_accuracy", saved["stats"]["single_task"]["test"])
        self.assertIn("| a | accuracy | shifted test |", summary["table"])
        self.assertEqual(
            np.asarray(summary["graph"]).shape,
            (2, recipe.config.num_modules),
        )
        graph_png = os.path.join(folder, "causal_graph.png")
        self.assertTrue(os.path.exists(graph_png))
        run_dir = os.path.join(folder, "seed_0", "mtcrl")
        self.assertTrue(os.path.exists(os.path.join(run_dir, "best.keras")))
        events = os.listdir(os.path.join(run_dir, "tensorboard", "train"))
        self.assertTrue(events)
        self.assertTrue(
            os.path.exists(os.path.join(folder, "seed_0", "single_task", "a"))
        )
        # Finished architectures are not retrained: a second run of the
        # same folder leaves every result.json as it was.
        results = [
            os.path.join(folder, f"seed_{seed}", architecture, "result.json")
            for seed in (0, 1)
            for architecture in ("mtcrl", "single_task")
        ]
        stamps = [os.path.getmtime(path) for path in results]
        Trainer(recipe, folder, "one", verbose=0).run(seeds=[0, 1])
        self.assertEqual([os.path.getmtime(p) for p in results], stamps)

    def test_resume_after_kill_matches_uninterrupted_run(self):
        recipe = tiny_recipe(architectures=("mtcrl",))
        clean = tempfile.mkdtemp()
        Trainer(recipe, clean, "one", verbose=0).run()
        killed = tempfile.mkdtemp()
        with self.assertRaises(KeyboardInterrupt):
            Trainer(
                recipe, killed, "one", verbose=0,
                callbacks=[_KillAfterEpoch(0)],
            ).run()
        run_dir = os.path.join(killed, "seed_0", "mtcrl")
        self.assertFalse(os.path.exists(os.path.join(run_dir, "final.keras")))
        Trainer(recipe, killed, "one", verbose=0).run()
        final = os.path.join(clean, "seed_0", "mtcrl", "final.keras")
        expected = _weights(final)
        resumed = _weights(os.path.join(run_dir, "final.keras"))
        for a, b in zip(resumed, expected):
            self.assertAllClose(a, b, atol=1e-6)

    def test_mirrored_strategy_runs_the_recipe(self):
        strategy = mirrored_strategy()
        recipe = tiny_recipe(epochs=1, architectures=("mtcrl",))
        summary = Trainer(recipe, tempfile.mkdtemp(), strategy, 0).run()
        value = summary["stats"]["mtcrl"]["test"]["a_accuracy"]["mean"]
        self.assertTrue(0.0 <= value <= 1.0)


class WithoutAutoShardTest(TestCase):
    def test_turns_off_only_the_auto_sharding_of_the_train_split(self):
        recipe = tiny_recipe()
        data = recipe.build_data(recipe.config)
        train, _ = training_datasets(
            data, recipe.config, data.task_names, EpochShuffle(0)
        )
        # Multi-worker runs (tests/reliability) shard these datasets.
        default = train.options().experimental_distribute.auto_shard_policy
        self.assertEqual(default, tf.data.experimental.AutoShardPolicy.AUTO)
        train = without_auto_shard(train)
        policy = train.options().experimental_distribute.auto_shard_policy
        self.assertEqual(policy, tf.data.experimental.AutoShardPolicy.OFF)
        # Batches are unchanged: 256 examples in batches of 64.
        self.assertEqual(int(train.cardinality()), 4)
