"""Embeds a dict of integer id features and appends the float features."""

import keras
from keras import ops

from keras_mtcrl.api_export import keras_mtcrl_export
from keras_mtcrl.layers.layer_utils import build_sublayer
from keras_mtcrl.layers.layer_utils import check_positive_int


@keras_mtcrl_export
class FeatureEmbedding(keras.layers.Layer):
    """Turns a dict of id and float features into one vector per example.

    The input layer of recommendation and tabular models: each integer id
    feature (user, movie, ...) gets its own embedding table, each float
    feature (a multi-hot genre vector, a standardized year) is passed
    through; the result is their concatenation in sorted name order (ids
    first, then floats). Id features are `(batch,)` or `(batch, 1)`,
    float features `(batch,)` or `(batch, d)`. Index 0 is the
    out-of-vocabulary id of keras_mtcrl's loaders; with `oov_rate > 0`,
    that share of ids is replaced by 0 while training, so the OOV
    embedding learns a "cold start" answer instead of staying at its
    random initial value (the shifted MovieLens splits hold only unseen
    movies).

    Meant as the `feature_layer` of `keras_mtcrl.layers.ExpertEncoder`
    (the model removes the environment column before the encoder).

    Args:
        vocabulary_sizes: dict. Id feature name to its `input_dim` (the
            number of ids, OOV index 0 included).
        embedding_dim: int or dict. Embedding width of every id feature,
            or per feature name. Defaults to `8`.
        dense_features: tuple of str. Names of the float features to
            append. Defaults to `()`.
        oov_rate: float. Share of ids set to the OOV index 0 while
            training, in `[0, 1)`. Defaults to `0.0`.
        embeddings_initializer: str or initializer. Defaults to
            `"uniform"`.
        seed: int or None. Seed of the OOV replacement. Defaults to
            `None`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: dict of tensors holding exactly the named features.
        training: bool. Whether to replace ids by OOV.

    Returns:
        Tensor `(batch, sum of embedding widths + float widths)`.

    Example:

    >>> import numpy as np
    >>> layer = FeatureEmbedding({"user": 10, "item": 5}, embedding_dim=4,
    ...                          dense_features=("year", "genres"))
    >>> inputs = {"user": np.array([1, 2]), "item": np.array([[0], [4]]),
    ...           "year": np.zeros(2, "float32"),
    ...           "genres": np.ones((2, 3), "float32")}
    >>> layer(inputs).shape
    TensorShape([2, 12])
    """

    def __init__(
        self,
        vocabulary_sizes,
        embedding_dim=8,
        dense_features=(),
        oov_rate=0.0,
        embeddings_initializer="uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(vocabulary_sizes, dict):
            raise ValueError(
                "`vocabulary_sizes` must be a dict of feature name to "
                f"vocabulary size. Received: vocabulary_sizes="
                f"{vocabulary_sizes!r}"
            )
        for name, size in vocabulary_sizes.items():
            check_positive_int(size, f"vocabulary_sizes[{name!r}]")
        dense_features = tuple(dense_features)
        both = sorted(set(vocabulary_sizes) & set(dense_features))
        if both or len(set(dense_features)) != len(dense_features):
            raise ValueError(
                "A feature must be named once, as an id feature or a float "
                f"feature. Received: vocabulary_sizes keys "
                f"{sorted(vocabulary_sizes)}, dense_features={dense_features}"
            )
        if not vocabulary_sizes and not dense_features:
            raise ValueError(
                "`vocabulary_sizes` and `dense_features` are both empty: "
                "the layer would have no input."
            )
        if not 0.0 <= oov_rate < 1.0:
            raise ValueError(
                f"`oov_rate` must be in [0, 1). Received: oov_rate={oov_rate!r}"
            )
        self.vocabulary_sizes = dict(vocabulary_sizes)
        self.id_features = tuple(sorted(vocabulary_sizes))
        self.embedding_dim = embedding_dim
        self.dims = self._dims(embedding_dim)
        self.dense_features = dense_features
        self.oov_rate = float(oov_rate)
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.embedding_layers = [
            keras.layers.Embedding(
                self.vocabulary_sizes[name],
                self.dims[name],
                embeddings_initializer=keras.initializers.get(
                    keras.initializers.serialize(self.embeddings_initializer)
                ),
                dtype=self.dtype_policy,
                name=f"{name}_embedding",
            )
            for name in self.id_features
        ]

    def _dims(self, embedding_dim):
        if isinstance(embedding_dim, dict):
            missing = sorted(set(self.id_features) - set(embedding_dim))
            if missing:
                raise ValueError(
                    f"`embedding_dim` has no width for id feature(s) "
                    f"{missing}. Received: embedding_dim={embedding_dim}"
                )
            dims = {name: embedding_dim[name] for name in self.id_features}
        else:
            dims = {name: embedding_dim for name in self.id_features}
        for name, dim in dims.items():
            check_positive_int(dim, f"embedding_dim[{name!r}]")
        return dims

    def _check_keys(self, input_shape):
        if not isinstance(input_shape, dict):
            raise ValueError(
                "FeatureEmbedding takes a dict of features. Received input "
                f"shape {input_shape!r}."
            )
        expected = set(self.id_features) | set(self.dense_features)
        missing = sorted(expected - set(input_shape))
        unknown = sorted(set(input_shape) - expected)
        if missing or unknown:
            raise ValueError(
                f"FeatureEmbedding's inputs must be exactly the features "
                f"{sorted(expected)}. Missing: {missing}; not declared in "
                f"`vocabulary_sizes` or `dense_features`: {unknown}."
            )
        for name in self.id_features:
            shape = tuple(input_shape[name])
            if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
                raise ValueError(
                    f"Id feature {name!r} must be shaped (batch,) or "
                    f"(batch, 1). Received: {shape}"
                )

    def build(self, input_shape):
        self._check_keys(input_shape)
        for name, layer in zip(self.id_features, self.embedding_layers):
            build_sublayer(layer, (input_shape[name][0],))
        self.built = True

    def call(self, inputs, training=None):
        parts = []
        for name, layer in zip(self.id_features, self.embedding_layers):
            ids = ops.cast(inputs[name], "int32")
            if len(ids.shape) == 2:
                ids = ops.squeeze(ids, axis=-1)
            if training and self.oov_rate > 0.0:
                draw = keras.random.uniform(
                    ops.shape(ids), seed=self.seed_generator
                )
                ids = ops.where(draw < self.oov_rate, 0, ids)
            parts.append(layer(ids))
        for name in self.dense_features:
            value = ops.cast(inputs[name], self.compute_dtype)
            if len(value.shape) == 1:
                value = ops.expand_dims(value, axis=-1)
            parts.append(value)
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        self._check_keys(input_shape)
        first = next(iter(input_shape.values()))
        width = sum(self.dims.values())
        for name in self.dense_features:
            shape = tuple(input_shape[name])
            width += 1 if len(shape) == 1 else shape[-1]
        return (first[0], width)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_sizes": dict(self.vocabulary_sizes),
                "embedding_dim": self.embedding_dim,
                "dense_features": list(self.dense_features),
                "oov_rate": self.oov_rate,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "seed": self.seed,
            }
        )
        return config
