"""Logs the learned task-to-module graph to TensorBoard as an image."""

import keras
import numpy as np
import tensorflow as tf

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.visualization.graph_heatmap import graph_heatmap_rgb


@keras_mtcrl_export
class CausalGraphImage(keras.callbacks.Callback):
    """Writes the causal graph of a `CausalMTLModel` to TensorBoard.

    At the end of every `every_n_epochs`-th epoch, the `(T, K)` gate matrix
    is written as an image (rows are tasks, columns modules, dark = edge
    open) and each edge weight as a scalar `graph/<task>/m<k>`. Summaries
    are written here, outside the compiled train step, so this works with
    `jit_compile=True`.

    Args:
        log_dir: str. TensorBoard log folder (a `graph` subfolder is used).
        every_n_epochs: int. Logging period in epochs. Defaults to `1`.

    Example:

    >>> import tempfile, numpy as np
    >>> from keras_mtcrl import CausalMTLModel, ExpertEncoder, TaskHead
    >>> model = CausalMTLModel(ExpertEncoder(2, 2), {"a": TaskHead("binary")},
    ...                        invariance=None, input_shape=(None, 3))
    >>> model.compile()
    >>> callback = CausalGraphImage(tempfile.mkdtemp())
    >>> _ = model.fit(np.zeros((4, 3)), {"a": np.ones(4)}, verbose=0,
    ...               callbacks=[callback])
    >>> callback.last_gates.shape
    (1, 2)
    """

    def __init__(self, log_dir, every_n_epochs=1):
        super().__init__()
        if not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(
                "`every_n_epochs` must be a positive int. Received: "
                f"every_n_epochs={every_n_epochs!r}"
            )
        self.log_dir = log_dir
        self.every_n_epochs = every_n_epochs
        self.last_gates = None
        self._writer = None

    def get_config(self):
        return {"log_dir": self.log_dir, "every_n_epochs": self.every_n_epochs}

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        if not hasattr(self.model, "causal_graph"):
            raise TypeError(
                "CausalGraphImage needs a model with a causal graph "
                f"(CausalMTLModel); got {type(self.model).__name__}."
            )
        gates = self.model.causal_graph()
        self.last_gates = gates
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                f"{self.log_dir}/graph"
            )
        image = graph_heatmap_rgb(gates)[None].astype(np.float32) / 255.0
        with self._writer.as_default(step=epoch):
            tf.summary.image("causal_graph", image)
            for task, row in zip(self.model.task_names, gates):
                for k, value in enumerate(row):
                    tf.summary.scalar(f"graph/{task}/m{k}", float(value))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
