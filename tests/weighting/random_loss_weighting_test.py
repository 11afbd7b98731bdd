import numpy as np
import pytest
from weighting_test_utils import fit
from weighting_test_utils import make_model

from keras_mtcrl.testing import TestCase
from keras_mtcrl.weighting import RandomLossWeighting


class RandomLossWeightingTest(TestCase):
    def test_random_positive_weights_summing_to_one(self):
        rlw = RandomLossWeighting(seed=4)
        rlw.build((3,))
        losses = np.ones(3, "float32")
        draws = np.stack(
            [rlw(losses, step=s, training=True).numpy() for s in range(20)]
        )
        self.assertAllClose(draws.sum(axis=1), np.ones(20), atol=1e-6)
        self.assertTrue((draws > 0).all())
        self.assertGreater(draws.std(axis=0).min(), 0.05)
        # Same step, same draw (replicas and restored runs agree).
        self.assertAllClose(rlw(losses, step=7, training=True), draws[7])
        self.assertAllClose(rlw(losses, training=False), np.full(3, 1 / 3))

    def test_fit_in_graph_and_xla(self):
        for jit_compile in (False, True):
            model = make_model(RandomLossWeighting(seed=1))
            logs, _ = fit(
                model, epochs=3, batch_size=8, jit_compile=jit_compile
            )
            total = np.add(logs["weight_a"], logs["weight_b"])
            self.assertAllClose(total, np.ones(3), atol=1e-5)
            self.assertGreater(np.std(logs["weight_a"]), 1e-3)
        with pytest.raises(ValueError, match="seed='x'"):
            RandomLossWeighting(seed="x")
