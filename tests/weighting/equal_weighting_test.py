import keras
from weighting_test_utils import fit
from weighting_test_utils import fit_graph_and_xla
from weighting_test_utils import make_model

from keras_mtcrl.testing import TestCase
from keras_mtcrl.weighting import EqualWeighting


class EqualWeightingTest(TestCase):
    def test_trains_exactly_like_no_weighting(self):
        plain = make_model()
        initial = plain.get_weights()
        logs1, after1 = fit(plain, initial, epochs=2)
        logs2, after2 = fit(make_model("equal"), initial, epochs=2)
        self.assertAllClose(logs2["loss"], logs1["loss"])
        for a, b in zip(after2, after1):
            self.assertAllClose(a, b)
        self.assertEqual(logs2["weight_a"], [1.0, 1.0])
        self.assertEqual(logs2["weight_b"], [1.0, 1.0])
        self.assertNotIn("weight_a", logs1)

    def test_serialization(self):
        revived = self.run_serialization_test(EqualWeighting())
        self.assertIsInstance(revived, EqualWeighting)
        config = keras.saving.serialize_keras_object(make_model("equal"))
        self.assertIn("loss_weighting", config["config"])
        self.assertNotIn(
            "loss_weighting",
            keras.saving.serialize_keras_object(make_model())["config"],
        )

    def test_xla_matches_graph_mode(self):
        logs, after, xla_logs, xla_after, _ = fit_graph_and_xla(
            EqualWeighting, epochs=2
        )
        self.assertAllClose(xla_logs["loss"], logs["loss"], atol=1e-5)
        for a, b in zip(xla_after, after):
            self.assertAllClose(a, b, atol=1e-5)
