import keras
import numpy as np
import pytest

from keras_mtcrl.layers.channel_group_encoder import ChannelGroupEncoder
from keras_mtcrl.layers.conv_backbone import SIZES
from keras_mtcrl.layers.conv_backbone import ConvBackbone
from keras_mtcrl.testing import TestCase


class ConvBackboneTest(TestCase):
    def test_layer_contract_resnet(self):
        # Stem (kernel, gamma, beta) + 1 block of 2 units + 1 strided
        # block of 2 units with a projected shortcut + the 1x1 output.
        self.run_layer_test(
            ConvBackbone,
            {"style": "resnet", "size": "tiny", "output_channels": 8},
            np.ones((2, 8, 8, 3), "float32"),
            (2, 4, 4, 8),
            expected_num_trainable_weights=3 + 6 + 9 + 3,
        )

    def test_layer_contract_segnet(self):
        # Encoder units at 16 and 32, decoder unit at 16, 1x1 output.
        self.run_layer_test(
            ConvBackbone,
            {"style": "segnet", "size": "tiny", "output_channels": 6},
            np.ones((2, 8, 8, 3), "float32"),
            (2, 8, 8, 6),
            expected_num_trainable_weights=4 * 3,
        )

    def test_output_stride_of_every_preset(self):
        for style in ("resnet", "segnet"):
            for size in SIZES:
                backbone = ConvBackbone(style, size, output_channels=4)
                stride = ConvBackbone.output_stride_of(style, size)
                self.assertEqual(backbone.output_stride, stride)
                shape = backbone.compute_output_shape((None, 32, 64, 3))
                self.assertEqual(shape, (None, 32 // stride, 64 // stride, 4))
        self.assertEqual(ConvBackbone.output_stride_of("resnet", "large"), 8)

    def test_identity_residual_without_normalization(self):
        # Zero kernels: each residual block passes its input through (then
        # ReLU), so the output is the 1x1 projection of relu(stem(x)).
        backbone = ConvBackbone(
            "resnet", "tiny", output_channels=1, batch_norm=False
        )
        x = np.random.default_rng(0).uniform(-1, 1, (1, 4, 4, 3))
        backbone.build(x.shape)
        stem = backbone.units[0]
        for unit in backbone.units[1:-1]:
            for weight in unit.weights:
                weight.assign(np.zeros(weight.shape))
        stem_kernel = np.zeros(stem.conv.kernel.shape)
        stem_kernel[1, 1, 0, :] = 1.0  # Every stem channel copies red.
        stem.conv.kernel.assign(stem_kernel)
        head = backbone.units[-1].conv
        head.kernel.assign(np.ones(head.kernel.shape))
        head.bias.assign(np.zeros(head.bias.shape))
        out = backbone(x.astype("float32")).numpy()
        # Block 2 is strided: its projected shortcut is zero too, so only
        # the zero path remains: relu(0) everywhere.
        self.assertAllClose(out, np.zeros((1, 2, 2, 1)))
        for weight in backbone.units[2].shortcut.weights:
            weight.assign(
                np.ones(weight.shape)
                if "kernel" in weight.path
                else np.zeros(weight.shape)
            )
        out = backbone(x.astype("float32")).numpy()
        # Shortcut: 1x1 stride-2 sum over the 16 channels of relu(red).
        red = np.maximum(x[0, ::2, ::2, 0], 0.0)
        expected = 32 * 16 * red
        self.assertAllClose(out[0, ..., 0], expected, atol=1e-4)

    def test_modules_as_channel_groups_and_mixed_precision(self):
        backbone = ConvBackbone(
            "resnet", "tiny", output_channels=8, dtype="mixed_bfloat16"
        )
        encoder = ChannelGroupEncoder(backbone, num_modules=4)
        out = encoder(np.ones((1, 8, 8, 3), "float32"))
        self.assertEqual(encoder.module_width, 2)
        self.assertEqual(keras.backend.standardize_dtype(out.dtype), "bfloat16")
        self.assertEqual(backbone.units[0].conv.kernel.dtype, "float32")
        self.run_serialization_test(encoder)

    def test_bad_arguments_and_sizes(self):
        with pytest.raises(ValueError, match="style"):
            ConvBackbone("vgg")
        with pytest.raises(ValueError, match="size"):
            ConvBackbone(size="huge")
        with pytest.raises(ValueError, match="output_channels"):
            ConvBackbone(output_channels=0)
        with pytest.raises(ValueError, match=r"height \(6\).*divisible by 4"):
            ConvBackbone(size="small")(np.zeros((1, 6, 8, 3), "float32"))
