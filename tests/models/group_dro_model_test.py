import keras
import numpy as np
import pytest

from keras_mtcrl import GroupDROModel
from keras_mtcrl import LabelGroups
from keras_mtcrl import TaskHead
from keras_mtcrl.testing import TestCase

KINDS = {"a": ("binary", 1), "b": ("binary", 1)}


def make_model(step_size=1.0):
    groups = LabelGroups(KINDS, {t: [[3, 1], [1, 3]] for t in KINDS})
    heads = {"a": TaskHead("binary"), "b": TaskHead("binary")}
    return GroupDROModel(
        keras.layers.Dense(4, kernel_initializer="ones"),
        heads,
        groups,
        step_size=step_size,
        input_shape=(None, 3),
    )


def data():
    # a's groups (a, b): (0,0) x3, (0,1) x1, (1,0) x1, (1,1) x3. Features
    # show b only, so the minority groups are the hard ones.
    b = np.array([0, 0, 0, 1, 0, 1, 1, 1], "float32")
    a = np.array([0, 0, 0, 0, 1, 1, 1, 1], "float32")
    x = np.stack([2 * b - 1] * 3, axis=1).astype("float32")
    return x, {"a": a, "b": b}


class GroupDROModelTest(TestCase):
    def test_step_moves_weight_to_the_worst_group_by_hand(self):
        model = make_model(step_size=1.0)
        model.compile(optimizer=keras.optimizers.SGD(0.0))
        x, y = data()
        per_sample = np.asarray(keras.losses.binary_crossentropy(
            y["a"][:, None], model.predict(x, verbose=0)["a"]
        ))
        cells = (2 * y["a"] + y["b"]).astype(int)
        group_loss = np.array([per_sample[cells == g].mean() for g in range(4)])
        q = 0.25 * np.exp(group_loss)
        q /= q.sum()
        parts = model.objective_parts(x, y, None, training=True)
        self.assertAllClose(model.group_weights["a"], q, atol=1e-5)
        self.assertAllClose(
            parts["task_shares"]["a"], np.sum(q * group_loss), atol=1e-5
        )
        worst = int(np.argmax(group_loss))
        self.assertIn(worst, (1, 2))  # a minority group
        q = np.asarray(model.group_weights["a"])
        self.assertAllClose(q[worst], q.max())
        self.assertGreater(q[worst], 0.25)

    def test_evaluation_leaves_weights_alone_and_fit_saves_them(self):
        model = make_model(step_size=0.5)
        model.compile()
        x, y = data()
        model.evaluate(x, y, verbose=0)
        self.assertAllClose(model.group_weights["a"], [0.25] * 4)
        model.fit(x, y, batch_size=8, epochs=3, verbose=0)
        q = np.asarray(model.group_weights["a"])
        self.assertGreater(q[1] + q[2], 0.5)
        revived = self.run_model_saving_test(model, x)
        self.assertAllClose(revived.group_weights["a"], q)
        self.assertEqual(revived.step_size, 0.5)

    def test_errors(self):
        with pytest.raises(ValueError, match="step_size"):
            make_model(step_size=0.0)
