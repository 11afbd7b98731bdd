import keras
import numpy as np
import pytest
from weighting_test_utils import fit
from weighting_test_utils import fit_graph_and_xla
from weighting_test_utils import make_data
from weighting_test_utils import make_model

from keras_mtcrl.testing import TestCase
from keras_mtcrl.weighting import UncertaintyWeighting


class UncertaintyWeightingTest(TestCase):
    def test_objective_by_hand(self):
        model = make_model(UncertaintyWeighting())
        model.loss_weighting.log_variances.assign([0.0, np.log(4.0)])
        model.compile()
        x, labels = make_data()
        result = model.evaluate(x, labels, verbose=0, return_dict=True)
        # 0.5 exp(-s) R + 0.5 s, summed over tasks.
        expected = (
            0.5 * result["loss_a"]
            + 0.125 * result["loss_b"]
            + 0.5 * np.log(4.0)
        )
        self.assertAllClose(result["loss"], expected, atol=1e-5)
        self.assertAllClose(result["weight_a"], 0.5)
        self.assertAllClose(result["weight_b"], 0.125)

    def test_noisier_task_gets_the_larger_sigma(self):
        model = make_model("uncertainty")
        logs, _ = fit(
            model,
            epochs=40,
            data=make_data(n=64, noise=(0.1, 1.5)),
            optimizer=keras.optimizers.Adam(0.05),
        )
        sigmas = model.loss_weighting.sigmas().numpy()
        self.assertGreater(sigmas[1], 1.5 * sigmas[0])
        # For fixed losses the optimum is sigma^2 = R.
        self.assertAllClose(sigmas[1] ** 2, logs["loss_b"][-1], rtol=0.5)
        # Task b is weighted down accordingly.
        weights = model.loss_weighting(np.zeros(2, "float32")).numpy()
        self.assertLess(weights[1], weights[0])

    def test_log_variances_are_saved(self):
        model = make_model(UncertaintyWeighting(initial_log_variance=0.5))
        fit(model, epochs=2)
        x, _ = make_data()
        revived = self.run_model_saving_test(model, x)
        self.assertAllClose(
            revived.loss_weighting.log_variances.numpy(),
            model.loss_weighting.log_variances.numpy(),
        )
        self.assertGreater(
            np.abs(model.loss_weighting.log_variances.numpy() - 0.5).max(),
            1e-4,
        )
        with pytest.raises(ValueError, match="initial_log_variance='x'"):
            UncertaintyWeighting(initial_log_variance="x")

    @pytest.mark.slow  # over 40 s on 2 CPU cores
    def test_xla_matches_graph_mode(self):
        logs, after, xla_logs, xla_after, initial = fit_graph_and_xla(
            lambda: UncertaintyWeighting(), epochs=2
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)
