import numpy as np

from keras_mtcrl.layers import MixtureOfExpertsRouter
from keras_mtcrl.layers import SharedRouter
from keras_mtcrl.testing import TestCase


class RoutersTest(TestCase):
    def test_shared_router_passes_everything(self):
        x = np.arange(6, dtype="float32").reshape(2, 3)
        out = SharedRouter(["a", "b"])(x)
        self.assertAllClose(out["a"], x)
        self.assertAllClose(out["b"], x)
        self.run_serialization_test(SharedRouter(["a"]))

    def test_mixture_is_convex_combination_of_modules(self):
        router = MixtureOfExpertsRouter(["a"], num_modules=2)
        x = np.concatenate(
            [np.full((3, 2), 1.0), np.full((3, 2), 3.0)], axis=-1
        ).astype("float32")
        mix = router(x)["a"].numpy()
        self.assertEqual(mix.shape, (3, 2))
        self.assertTrue(((mix >= 1.0) & (mix <= 3.0)).all())

    def test_mixture_on_feature_maps(self):
        self.run_layer_test(
            MixtureOfExpertsRouter,
            {"task_names": ["a", "b"], "num_modules": 2},
            np.ones((2, 3, 3, 4), "float32"),
            {"a": (2, 3, 3, 2), "b": (2, 3, 3, 2)},
            expected_num_trainable_weights=4,
        )
