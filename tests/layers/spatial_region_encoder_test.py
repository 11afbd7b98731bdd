import keras
import numpy as np
import pytest

from keras_mtcrl import CausalMTLModel
from keras_mtcrl.layers import SpatialRegionEncoder
from keras_mtcrl.layers import TaskHead
from keras_mtcrl.layers.spatial_region_encoder import region_spans
from keras_mtcrl.testing import TestCase


def identity_backbone():
    """A 1 x 1 convolution: cell (i, j) of the map sees pixel (i, j) only."""
    return keras.Sequential(
        [keras.layers.Conv2D(2, 1, bias_initializer="ones")]
    )


class RegionSpansTest(TestCase):
    def test_regions_cover_the_axis_and_overlap_by_the_asked_cells(self):
        for side in range(1, 13):
            for parts in range(1, side + 1):
                for overlap in (0, 1, 2):
                    starts, size = region_spans(side, parts, overlap)
                    self.assertLen(starts, parts)
                    self.assertEqual(starts[0], 0)
                    self.assertEqual(starts[-1] + size, side)
                    gaps = np.diff(starts)
                    # No cell is left out and no region is repeated.
                    self.assertTrue(np.all(gaps <= size), (side, parts))
                    if parts > 1 and parts < side:
                        self.assertTrue(np.all(gaps >= 1), (side, parts))


class SpatialRegionEncoderTest(TestCase):
    def test_layer_contract(self):
        encoder = self.run_layer_test(
            SpatialRegionEncoder,
            {"backbone": identity_backbone(), "grid": 2, "module_units": 3},
            np.ones((2, 6, 6, 1), "float32"),
            (2, 12),
            expected_num_trainable_weights=4,
        )
        self.assertEqual((encoder.num_modules, encoder.module_width), (4, 3))

    def test_a_module_sees_only_its_region(self):
        encoder = SpatialRegionEncoder(
            identity_backbone(), grid=(2, 2), module_units=4, overlap=0,
            activation="linear",
        )
        rng = np.random.default_rng(0)
        image = rng.uniform(size=(1, 6, 6, 1)).astype("float32")
        changed = image.copy()
        # Bottom-right 3 x 3 region = module 3 of a 2 x 2 grid, overlap 0.
        changed[0, 3:, 3:, 0] = rng.uniform(size=(3, 3))
        before = np.reshape(encoder(image), (4, 4))
        after = np.reshape(encoder(changed), (4, 4))
        self.assertAllClose(after[:3], before[:3])
        self.assertGreater(float(np.abs(after[3] - before[3]).max()), 0.0)

    def test_each_module_has_its_own_projection(self):
        encoder = SpatialRegionEncoder(
            identity_backbone(), grid=2, module_units=2, overlap=0,
            activation="linear",
        )
        image = np.ones((1, 4, 4, 1), "float32")
        modules = np.reshape(encoder(image), (4, 2))
        # Equal regions, different weights: different modules.
        self.assertGreater(float(np.abs(modules[0] - modules[1]).max()), 0.0)

    def test_rectangular_grid_orders_modules_row_by_row(self):
        encoder = SpatialRegionEncoder(
            identity_backbone(), grid=(1, 3), module_units=2, overlap=0
        )
        image = np.zeros((1, 3, 6, 1), "float32")
        base = np.reshape(encoder(image), (3, 2))
        image[0, :, 4:, 0] = 1.0  # the right-most third
        changed = np.reshape(encoder(image), (3, 2))
        self.assertAllClose(changed[:2], base[:2])

    def test_causal_model_saves_and_loads(self):
        encoder = SpatialRegionEncoder(
            keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu")]),
            grid=2,
            module_units=4,
        )
        model = CausalMTLModel(
            encoder,
            {"a": TaskHead("binary"), "b": TaskHead("multiclass", 3)},
            input_shape=(None, 8, 8, 1),
        )
        self.assertEqual(tuple(model.causal_graph().shape), (2, 4))
        images = np.random.default_rng(1).uniform(size=(4, 8, 8, 1))
        self.run_model_saving_test(model, images.astype("float32"))

    def test_a_grid_finer_than_the_map_names_both(self):
        encoder = SpatialRegionEncoder(identity_backbone(), grid=(2, 5))
        with pytest.raises(ValueError, match="5 regions along W.*4 cells"):
            encoder(np.ones((1, 4, 4, 1), "float32"))

    def test_a_vector_backbone_is_a_clear_error(self):
        encoder = SpatialRegionEncoder(
            keras.Sequential([keras.layers.Dense(4)]), grid=2
        )
        with pytest.raises(ValueError, match="feature map \\(batch, H, W, C"):
            encoder(np.ones((1, 3), "float32"))

    def test_bad_arguments_are_named(self):
        with pytest.raises(TypeError, match="backbone"):
            SpatialRegionEncoder(lambda x: x)
        with pytest.raises(ValueError, match="grid"):
            SpatialRegionEncoder(identity_backbone(), grid=0)
        with pytest.raises(ValueError, match="overlap=-1"):
            SpatialRegionEncoder(identity_backbone(), overlap=-1)
