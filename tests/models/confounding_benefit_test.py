"""MT-CRL against a same-size shared-bottom model under label confounding.

The `synthetic` recipe: labels of tasks a and b agree 90% in training (two
environments, 95% and 85%) and 10% in the shifted test, and b's inputs are
a near-perfect shortcut for a. Same encoder, heads, data and budget; three
seeds. The same numbers come from
`keras-mtcrl train synthetic --architectures mtcrl,shared_bottom --seeds 0,1,2`.
"""

import tempfile

import pytest

from keras_mtcrl.testing import TestCase
from keras_mtcrl.training import Trainer
from keras_mtcrl.training import get_recipe


@pytest.mark.slow
class ConfoundingBenefitTest(TestCase):
    def test_mtcrl_beats_shared_bottom_on_the_shifted_test(self):
        recipe = get_recipe("synthetic").with_config(
            architectures=("mtcrl", "shared_bottom")
        )
        summary = Trainer(recipe, tempfile.mkdtemp(), "one", verbose=0).run(
            seeds=[0, 1, 2]
        )
        stats = summary["stats"]
        mtcrl = stats["mtcrl"]["test_shifted"]["a_accuracy"]["mean"]
        shared = stats["shared_bottom"]["test_shifted"]["a_accuracy"]["mean"]
        self.assertGreater(mtcrl, shared + 0.05, summary["table"])
        # The shortcut-free task b must not pay for it.
        self.assertGreater(
            stats["mtcrl"]["test_shifted"]["b_accuracy"]["mean"], 0.95
        )
