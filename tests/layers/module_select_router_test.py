import numpy as np
import pytest

from keras_mtcrl.layers.module_select_router import ModuleSelectRouter
from keras_mtcrl.testing import TestCase


class ModuleSelectRouterTest(TestCase):
    def test_default_gives_task_i_module_i(self):
        x = np.arange(12, dtype="float32").reshape(2, 6)
        out = ModuleSelectRouter(["a", "b", "c"], num_modules=3)(x)
        self.assertAllClose(out["a"], x[:, 0:2])
        self.assertAllClose(out["b"], x[:, 2:4])
        self.assertAllClose(out["c"], x[:, 4:6])

    def test_assignment_concatenates_modules(self):
        self.run_layer_test(
            ModuleSelectRouter,
            {
                "task_names": ["a", "b"],
                "num_modules": 3,
                "assignment": {"a": [0, 2], "b": [1]},
            },
            np.ones((2, 4, 4, 6), "float32"),
            {"a": (2, 4, 4, 4), "b": (2, 4, 4, 2)},
            expected_num_trainable_weights=0,
        )
        x = np.arange(6, dtype="float32").reshape(1, 6)
        out = ModuleSelectRouter(["a"], 3, {"a": [2, 0]})(x)
        self.assertAllClose(out["a"], [[4.0, 5.0, 0.0, 1.0]])

    def test_errors(self):
        with pytest.raises(ValueError, match="num_modules=3"):
            ModuleSelectRouter(["a", "b"], num_modules=3)
        with pytest.raises(ValueError, match="one entry per task"):
            ModuleSelectRouter(["a", "b"], 2, {"a": [0]})
        with pytest.raises(ValueError, match=r"assignment\['a'\]"):
            ModuleSelectRouter(["a"], 2, {"a": [5]})
