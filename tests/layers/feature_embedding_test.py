import keras
import numpy as np
import pytest

from keras_mtcrl.layers.expert_encoder import ExpertEncoder
from keras_mtcrl.layers.feature_embedding import FeatureEmbedding
from keras_mtcrl.layers.task_head import TaskHead
from keras_mtcrl.models.multi_task_model import MultiTaskModel
from keras_mtcrl.testing import TestCase


def inputs(batch=2):
    return {
        "user": np.arange(1, batch + 1).astype("int32"),
        "item": np.zeros((batch, 1), "int32"),
        "year": np.full(batch, 0.5, "float32"),
        "genres": np.ones((batch, 3), "float32"),
    }


class FeatureEmbeddingTest(TestCase):
    def setUp(self):
        super().setUp()
        self.init_kwargs = {
            "vocabulary_sizes": {"user": 5, "item": 3},
            "embedding_dim": {"user": 2, "item": 5},
            "dense_features": ("year", "genres"),
        }

    def test_layer_contract(self):
        self.run_layer_test(
            FeatureEmbedding,
            self.init_kwargs,
            inputs(),
            (2, 2 + 5 + 1 + 3),
            expected_num_trainable_weights=2,
        )

    def test_output_by_hand(self):
        layer = FeatureEmbedding(**self.init_kwargs)
        layer.build({k: (None,) + v.shape[1:] for k, v in inputs().items()})
        # Sorted ids first: item (row i = 10 * i), then user (row i = i).
        item, user = layer.embedding_layers
        item.set_weights([np.arange(3)[:, None] * 10.0 * np.ones((3, 5))])
        user.set_weights([np.arange(5)[:, None] * np.ones((5, 2))])
        out = layer(inputs()).numpy()
        expected = np.array(
            [
                [0] * 5 + [1, 1] + [0.5] + [1] * 3,
                [0] * 5 + [2, 2] + [0.5] + [1] * 3,
            ],
            "float32",
        )
        self.assertAllClose(out, expected)
        self.assertEqual(
            layer.compute_output_shape(
                {
                    "user": (None,),
                    "item": (None, 1),
                    "year": (None,),
                    "genres": (None, 3),
                }
            ),
            (None, 11),
        )

    def test_oov_replacement_only_while_training(self):
        layer = FeatureEmbedding({"user": 50}, 1, oov_rate=0.5, seed=3)
        layer.build({"user": (None,)})
        layer.embedding_layers[0].set_weights(
            [np.arange(50, dtype="float32")[:, None]]
        )
        ids = {"user": np.arange(1, 50).repeat(20).astype("int32")}
        trained = layer(ids, training=True).numpy()[:, 0]
        share = np.mean(trained == 0.0)
        self.assertTrue(0.4 < share < 0.6, share)
        replaced = trained != 0.0
        self.assertAllClose(trained[replaced], ids["user"][replaced])
        self.assertAllClose(layer(ids).numpy()[:, 0], ids["user"])

    def test_wrong_inputs_and_arguments(self):
        layer = FeatureEmbedding(**self.init_kwargs)
        bad = dict(inputs())
        bad["env"] = bad.pop("year")
        with pytest.raises(ValueError, match=r"Missing: \['year'\].*\['env'\]"):
            layer(bad)
        with pytest.raises(ValueError, match="dict of features"):
            FeatureEmbedding({"a": 2})(np.zeros((2,), "int32"))
        with pytest.raises(ValueError, match="once"):
            FeatureEmbedding({"a": 2}, dense_features=("a",))
        with pytest.raises(ValueError, match="oov_rate"):
            FeatureEmbedding({"a": 2}, oov_rate=1.0)
        with pytest.raises(ValueError, match="vocabulary_sizes"):
            FeatureEmbedding({"a": 0})
        with pytest.raises(ValueError, match="no width"):
            FeatureEmbedding({"a": 2, "b": 2}, embedding_dim={"a": 3})
        with pytest.raises(ValueError, match=r"\(batch, 1\)"):
            FeatureEmbedding({"a": 2})({"a": np.zeros((2, 3), "int32")})

    def test_saved_inside_an_expert_encoder_model(self):
        features = FeatureEmbedding(**self.init_kwargs)
        model = MultiTaskModel(
            ExpertEncoder(2, 3, (4,), feature_layer=features),
            {"y": TaskHead("binary")},
            input_shape={k: (None,) + v.shape[1:] for k, v in inputs().items()},
        )
        revived = self.run_model_saving_test(model, inputs(4))
        layer = revived.encoder.feature_layer
        self.assertIsInstance(layer, FeatureEmbedding)
        self.assertEqual(layer.dims, {"item": 5, "user": 2})
        self.assertEqual(
            keras.saving.get_registered_name(FeatureEmbedding),
            "keras_mtcrl>FeatureEmbedding",
        )
