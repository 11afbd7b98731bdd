import pytest

from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import RecipeConfig
from keras_mtcrl.training import get_recipe
from keras_mtcrl.training import list_recipes
from keras_mtcrl.training import make_strategy


class RecipeConfigTest(TestCase):
    def test_replace_overrides_only_the_delta(self):
        base = RecipeConfig(name="x", epochs=3, batch_size=16)
        derived = base.replace(epochs=7)
        self.assertEqual((derived.epochs, derived.batch_size), (7, 16))
        self.assertEqual(base.epochs, 3)

    def test_errors_name_the_field(self):
        with pytest.raises(ValueError, match="Unknown config field.*'epoch'"):
            RecipeConfig(name="x").replace(epoch=3)
        with pytest.raises(ValueError, match="epochs=0"):
            RecipeConfig(name="x", epochs=0)
        with pytest.raises(ValueError, match=r"architecture\(s\) \['mlp'\]"):
            RecipeConfig(name="x", architectures=("mlp",))
        with pytest.raises(ValueError, match="balanced_risk=1.5"):
            RecipeConfig(name="x", balanced_risk=1.5)
        with pytest.raises(ValueError, match="reweight_share=-0.1"):
            RecipeConfig(name="x", reweight_share=-0.1)

    def test_builtin_recipes_are_registered(self):
        names = list_recipes()
        for name in ("multi_mnist", "multi_mnist_pairs", "synthetic"):
            self.assertIn(name, names)
        self.assertEqual(get_recipe("multi_mnist").config.name, "multi_mnist")
        with pytest.raises(KeyError, match="Known recipes"):
            get_recipe("imagenet")

    def test_strategy_choices(self):
        self.assertEqual(make_strategy("auto").num_replicas_in_sync, 1)
        with pytest.raises(ValueError, match="TF_CONFIG"):
            make_strategy("multiworker")
        with pytest.raises(ValueError, match="strategy"):
            make_strategy("horovod")
        with pytest.raises(ValueError, match="timeout_seconds=0"):
            make_strategy("multiworker", timeout_seconds=0)
