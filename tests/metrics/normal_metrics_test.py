import keras
import numpy as np
import pytest

from keras_mtcrl.metrics.normal_metrics import NormalAngleError
from keras_mtcrl.metrics.normal_metrics import NormalWithinAngle
from keras_mtcrl.metrics.normal_metrics import normal_angles

NAN = float("nan")
UP = [0.0, 0.0, 1.0]
# Hand-computed case: true normal (0, 0, 1) everywhere but one missing
# pixel; predictions at 0, 30, 45, 60 and 90 degrees (lengths vary).
TRUE = np.array([[UP, UP, UP, UP, UP, [NAN, NAN, NAN]]], "float32")
PRED = np.array(
    [
        [
            UP,
            [0.0, 1.0, np.sqrt(3.0)],
            [2.0, 0.0, 2.0],
            [np.sqrt(3.0), 0.0, 1.0],
            [0.0, -5.0, 0.0],
            [1.0, 0.0, 0.0],
        ]
    ],
    "float32",
)
ANGLES = [0.0, 30.0, 45.0, 60.0, 90.0]


def test_normal_angles():
    angles, valid = normal_angles(TRUE, PRED)
    angles = keras.ops.convert_to_numpy(angles)
    np.testing.assert_allclose(angles[0, :5], ANGLES, atol=1e-3)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(valid), [[True] * 5 + [False]]
    )


def test_mean_and_median_hand_computed():
    mean = NormalAngleError()
    mean.update_state(TRUE, PRED)
    assert mean.name == "mean_angle"
    assert float(mean.result()) == pytest.approx(np.mean(ANGLES), abs=1e-3)
    median = NormalAngleError("median")
    median.update_state(TRUE, PRED)
    assert median.name == "median_angle"
    assert float(median.result()) == pytest.approx(45.0, abs=0.05)


def test_streamed_median_matches_numpy_within_a_bin():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(4, 16, 16, 3))
    pred = true + rng.normal(scale=0.4, size=true.shape)
    metric = NormalAngleError("median", bin_width=0.1)
    for i in range(4):
        metric.update_state(true[i : i + 1], pred[i : i + 1])
    cosine = np.sum(true * pred, -1) / (
        np.linalg.norm(true, axis=-1) * np.linalg.norm(pred, axis=-1)
    )
    exact = np.degrees(np.arccos(np.clip(cosine, -1, 1)))
    assert float(metric.result()) == pytest.approx(np.median(exact), abs=0.1)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_sample_weight_drops_a_sample():
    metric = NormalAngleError("median")
    true = np.concatenate([TRUE, TRUE])
    pred = np.concatenate([PRED, np.tile([[1.0, 0.0, 0.0]], (1, 6, 1))])
    metric.update_state(true, pred, sample_weight=np.array([1.0, 0.0]))
    assert float(metric.result()) == pytest.approx(45.0, abs=0.05)


def test_within_angle_thresholds():
    expected = {11.25: 1 / 5, 22.5: 1 / 5, 30: 1 / 5, 40: 2 / 5, 50: 3 / 5}
    for threshold, share in expected.items():
        metric = NormalWithinAngle(threshold)
        metric.update_state(TRUE, PRED)
        assert float(metric.result()) == pytest.approx(share), threshold
    assert NormalWithinAngle(22.5).name == "within_22.5"


def test_argument_errors_and_config():
    with pytest.raises(ValueError, match="statistic"):
        NormalAngleError("mode")
    with pytest.raises(ValueError, match="bin_width"):
        NormalAngleError(bin_width=0)
    with pytest.raises(ValueError, match="threshold"):
        NormalWithinAngle(-1)
    metric = NormalAngleError("median", bin_width=0.5)
    clone = NormalAngleError.from_config(metric.get_config())
    assert (clone.statistic, clone.bin_width, clone.num_bins) == (
        "median",
        0.5,
        360,
    )
    within = NormalWithinAngle.from_config(NormalWithinAngle(30).get_config())
    assert within.threshold == 30.0 and within.name == "within_30"
