import keras
import numpy as np
import pytest

from keras_mtcrl.metrics.depth_metrics import DepthAbsError
from keras_mtcrl.metrics.depth_metrics import DepthRelError
from keras_mtcrl.metrics.depth_metrics import MaskedPixelMean
from keras_mtcrl.metrics.depth_metrics import pixel_weights

NAN = float("nan")
# Hand-computed case, one 2x2 depth map (B, H, W, 1):
#   true [[1, 2], [nan, 4]]   pred [[1.5, 2], [9, 3]]
# Known pixels: |errors| 0.5, 0, 1 -> abs error 1.5 / 3 = 0.5;
# relative 0.5 / 1, 0 / 2, 1 / 4 -> 0.75 / 3 = 0.25.
TRUE = np.array([[[[1.0], [2.0]], [[NAN], [4.0]]]], "float32")
PRED = np.array([[[[1.5], [2.0]], [[9.0], [3.0]]]], "float32")


def test_hand_computed_values():
    abs_error, rel_error = DepthAbsError(), DepthRelError()
    abs_error.update_state(TRUE, PRED)
    rel_error.update_state(TRUE, PRED)
    assert float(abs_error.result()) == pytest.approx(0.5)
    assert float(rel_error.result()) == pytest.approx(0.25)


def test_rank_mismatch_is_accepted():
    metric = DepthAbsError()
    metric.update_state(TRUE[..., 0], PRED)
    assert float(metric.result()) == pytest.approx(0.5)
    metric.reset_state()
    metric.update_state(TRUE, PRED[..., 0])
    assert float(metric.result()) == pytest.approx(0.5)


def test_streaming_is_pixel_weighted():
    # Batch 1: 3 known pixels, error sum 1.5. Batch 2: 1 pixel, error 4.5.
    # Pixel mean (1.5 + 4.5) / 4 = 1.5, not the mean of batch means 2.5.
    metric = DepthAbsError()
    metric.update_state(TRUE, PRED)
    metric.update_state(np.array([[[[2.0]]]]), np.array([[[[6.5]]]]))
    assert float(metric.result()) == pytest.approx(1.5)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_relative_error_skips_non_positive_truth():
    metric = DepthRelError()
    metric.update_state(np.array([0.0, -1.0, 2.0]), np.array([5.0, 5.0, 3.0]))
    assert float(metric.result()) == pytest.approx(0.5)


def test_nan_prediction_at_known_pixel_shows():
    metric = DepthAbsError()
    metric.update_state(TRUE, np.where(np.isnan(TRUE), 0.0, NAN))
    assert np.isnan(float(metric.result()))


def test_sample_weight_per_sample():
    metric = DepthAbsError()
    true = np.concatenate([TRUE, np.ones_like(TRUE)])
    pred = np.concatenate([PRED, 101.0 * np.ones_like(PRED)])
    metric.update_state(true, pred, sample_weight=np.array([2.0, 0.0]))
    assert float(metric.result()) == pytest.approx(0.5)


def test_pixel_weights_broadcast():
    valid = np.array([[[True, False], [True, True]]])
    weights = pixel_weights(valid, np.array([3.0]))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(weights), [[[3.0, 0.0], [3.0, 3.0]]]
    )


def test_base_class_needs_pixel_values_and_configs_round_trip():
    with pytest.raises(NotImplementedError, match="pixel_values"):
        MaskedPixelMean().update_state(TRUE, PRED)
    for cls in (DepthAbsError, DepthRelError):
        metric = cls(name="d")
        assert cls.from_config(metric.get_config()).name == "d"
        assert keras.saving.get_registered_name(cls) == (
            f"keras_mtcrl>{cls.__name__}"
        )
