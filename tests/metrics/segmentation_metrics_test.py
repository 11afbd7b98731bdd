import keras
import numpy as np
import pytest

from keras_mtcrl.metrics.segmentation_metrics import PixelAccuracy
from keras_mtcrl.metrics.segmentation_metrics import SegmentationMeanIoU

# Hand-computed case: 2 classes, one ignored pixel.
#   true [[0, 0], [1, -1]]   pred [[0, 1], [1, 1]]
# Labeled pixels: (0 -> 0) hit, (0 -> 1) miss, (1 -> 1) hit.
# Confusion [[1, 1], [0, 1]]: IoU_0 = 1 / (2 + 1 - 1) = 0.5,
# IoU_1 = 1 / (1 + 2 - 1) = 0.5; mean 0.5. Accuracy 2 / 3.
TRUE = np.array([[[0, 0], [1, -1]]])
PRED = np.array([[[0, 1], [1, 1]]])


def _logits(ids, num_classes):
    return np.eye(num_classes, dtype="float32")[ids] * 5.0


def test_mean_iou_hand_computed():
    metric = SegmentationMeanIoU(num_classes=2)
    metric.update_state(TRUE, PRED)
    assert float(metric.result()) == pytest.approx(0.5)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(metric.confusion), [[1, 1], [0, 1]]
    )


def test_mean_iou_takes_logits_and_channel_labels():
    metric = SegmentationMeanIoU(num_classes=2)
    metric.update_state(TRUE[..., None], _logits(PRED, 2))
    assert float(metric.result()) == pytest.approx(0.5)


def test_mean_iou_averages_present_classes_only():
    # 3 classes, class 2 never occurs: IoU_0 = 1 / 2, IoU_1 = 1 / 2.
    metric = SegmentationMeanIoU(num_classes=3)
    metric.update_state(TRUE, _logits(PRED, 3))
    assert float(metric.result()) == pytest.approx(0.5)
    # A false positive of class 2 makes it present with IoU 0:
    # true [[1]] pred [[2]] -> IoU_1 = 1 / 3, IoU_2 = 0; mean (0.5 + 1/3) / 3.
    metric.update_state(np.array([[[1]]]), np.array([[[2]]]))
    assert float(metric.result()) == pytest.approx((0.5 + 1 / 3) / 3)


def test_mean_iou_streams_and_resets():
    streamed = SegmentationMeanIoU(num_classes=2)
    streamed.update_state(TRUE[:, :1], PRED[:, :1])
    streamed.update_state(TRUE[:, 1:], PRED[:, 1:])
    assert float(streamed.result()) == pytest.approx(0.5)
    streamed.reset_state()
    assert float(streamed.result()) == 0.0


def test_mean_iou_sample_weight_and_ignore_index():
    metric = SegmentationMeanIoU(num_classes=2, ignore_index=255)
    true = np.concatenate([TRUE, np.full((1, 2, 2), 255)])
    true[0, 1, 1] = 255
    metric.update_state(
        true, np.concatenate([PRED, PRED]), sample_weight=np.array([1.0, 1.0])
    )
    assert float(metric.result()) == pytest.approx(0.5)
    weighted = SegmentationMeanIoU(num_classes=2)
    weighted.update_state(
        np.concatenate([TRUE, 1 - np.abs(TRUE)]),
        np.concatenate([PRED, PRED]),
        sample_weight=np.array([1.0, 0.0]),
    )
    assert float(weighted.result()) == pytest.approx(0.5)


def test_pixel_accuracy_hand_computed():
    metric = PixelAccuracy()
    metric.update_state(TRUE, _logits(PRED, 2))
    assert float(metric.result()) == pytest.approx(2 / 3)
    metric.update_state(np.array([[[1, 1]]]), np.array([[[1, 1]]]))
    assert float(metric.result()) == pytest.approx(4 / 5)
    with_255 = PixelAccuracy(ignore_index=255)
    with_255.update_state(np.array([[[0, 255]]]), np.array([[[1, 0]]]))
    assert float(with_255.result()) == 0.0


def test_config_round_trip_and_registration():
    for metric in (
        SegmentationMeanIoU(4, ignore_index=255, name="iou"),
        PixelAccuracy(ignore_index=3),
    ):
        config = metric.get_config()
        clone = type(metric).from_config(config)
        assert clone.get_config() == config
        assert keras.saving.get_registered_name(type(metric)).startswith(
            "keras_mtcrl>"
        )
    with pytest.raises(ValueError, match="num_classes"):
        SegmentationMeanIoU(0)


def test_metrics_inside_compiled_evaluate():
    """Graph-mode streaming over batches matches the hand computation."""
    inputs = keras.Input((2, 2, 2))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(
        metrics=[SegmentationMeanIoU(2), PixelAccuracy()],
        loss=lambda y_true, y_pred: keras.ops.sum(y_pred) * 0.0,
    )
    x = np.concatenate([_logits(PRED, 2)] * 2)
    y = np.concatenate([TRUE] * 2)
    results = model.evaluate(x, y, batch_size=1, verbose=0, return_dict=True)
    assert results["mean_iou"] == pytest.approx(0.5)
    assert results["pixel_accuracy"] == pytest.approx(2 / 3)


def test_why_not_keras_mean_iou():
    # keras.metrics.MeanIoU(ignore_class=-1, sparse_y_pred=False) gives the
    # same value on unweighted batches...
    rng = np.random.default_rng(0)
    true = rng.integers(-1, 4, (2, 5, 6)).astype("int32")
    logits = rng.random((2, 5, 6, 4)).astype("float32")
    ours = SegmentationMeanIoU(num_classes=4)
    ours.update_state(true, logits)
    theirs = keras.metrics.MeanIoU(4, ignore_class=-1, sparse_y_pred=False)
    theirs.update_state(true, logits)
    assert float(ours.result()) == pytest.approx(float(theirs.result()))
    # ...but cannot take one weight per example (what `fit` passes with
    # sample or group weights), which this metric spreads over the pixels.
    weights = np.array([1.0, 0.0], "float32")
    ours.update_state(true, logits, sample_weight=weights)
    theirs = keras.metrics.MeanIoU(4, ignore_class=-1, sparse_y_pred=False)
    with pytest.raises(Exception, match="[Ii]ncompatible shapes"):
        theirs.update_state(true, logits, sample_weight=weights.astype(int))
