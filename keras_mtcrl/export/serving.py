"""A SavedModel whose `serving_default` maps features to per-task outputs."""

import keras
import tensorflow as tf

#: Signature input name of a model whose input is one tensor, not a dict.
SINGLE_INPUT_NAME = "inputs"


def serving_signature(model, data=None):
    """The serving inputs of a multi-task model: name -> `tf.TensorSpec`.

    The environment column (`model.environment_key`) is left out: it only
    feeds the invariance penalty in training and the model ignores it in
    inference. Shapes come from `data`'s train split when given (with the
    features' dtypes) or else from the model's `input_shape` (float32).

    Args:
        model: a built `keras_mtcrl.models.MultiTaskModel`.
        data: `keras_mtcrl.datasets.MultiTaskData` or None. Defaults to
            `None`.

    Returns:
        Dict of feature name to `tf.TensorSpec` named after the feature
        (`"inputs"` for a model that takes one tensor).

    Example:

    >>> from keras_mtcrl import MultiTaskModel, ExpertEncoder, TaskHead
    >>> model = MultiTaskModel(ExpertEncoder(2, 2), {"a": TaskHead("binary")},
    ...                        input_shape={"x": (None, 3), "env": (None,)})
    >>> serving_signature(model)
    {'x': TensorSpec(shape=(None, 3), dtype=tf.float32, name='x')}
    """
    if data is not None:
        features, _ = data.split("train").element_spec
        specs = {
            name: ((None,) + tuple(spec.shape), spec.dtype)
            for name, spec in features.items()
        }
    else:
        shape = model.get_config().get("input_shape")
        if shape is None:
            raise ValueError(
                "The model was built without `input_shape`, so its serving "
                "inputs are unknown. Pass `data=` (a MultiTaskData) or "
                "build the model with `input_shape=`."
            )
        if not isinstance(shape, dict):
            shape = {SINGLE_INPUT_NAME: shape}
        specs = {name: (tuple(s), tf.float32) for name, s in shape.items()}
    specs.pop(model.environment_key, None)
    return {
        name: tf.TensorSpec(shape, dtype, name=name)
        for name, (shape, dtype) in specs.items()
    }


def export_for_serving(model, path, data=None, input_signature=None):
    """Writes `model` as a TensorFlow SavedModel for serving.

    The SavedModel's `serving_default` signature takes the model's
    features by name (without the environment column; a one-tensor model
    takes `inputs`) and returns a dict of per-task outputs keyed by task
    name: probabilities for classification heads, values for regression.
    Load it with `tf.saved_model.load(path)` (no keras_mtcrl needed) or
    serve it with TensorFlow Serving.

    `model.export(path)` (Keras' own) also works once the model has been
    called, but infers its inputs from the build shapes: the environment
    column stays a required input (as float32) and inputs are named
    `args_0...`. This function names the inputs and drops the column.

    Args:
        model: a built `keras_mtcrl.models.MultiTaskModel`.
        path: str. Output folder.
        data: `MultiTaskData` or None. Gives the inputs' dtypes; see
            `serving_signature`. Defaults to `None`.
        input_signature: dict of name -> `tf.TensorSpec`, or None for
            `serving_signature(model, data)`. Defaults to `None`.

    Returns:
        str, `path`.

    Example:

    >>> import tempfile, numpy as np
    >>> from keras_mtcrl import MultiTaskModel, ExpertEncoder, TaskHead
    >>> model = MultiTaskModel(ExpertEncoder(2, 2), {"a": TaskHead("binary")},
    ...                        input_shape={"x": (None, 3), "env": (None,)})
    >>> path = export_for_serving(model, tempfile.mkdtemp())
    >>> serve = tf.saved_model.load(path).signatures["serving_default"]
    >>> outputs = serve(x=tf.zeros((2, 3)))
    >>> sorted(outputs), tuple(outputs["a"].shape)
    (['a'], (2, 1))
    """
    if not model.built:
        raise ValueError(
            "Build the model before exporting it (pass `input_shape=` or "
            "call it on a batch)."
        )
    signature = input_signature or serving_signature(model, data)
    names = list(signature)
    single = names == [SINGLE_INPUT_NAME]
    task_names = list(model.task_names)

    def serve(features):
        inputs = features[SINGLE_INPUT_NAME] if single else features
        outputs = model(inputs, training=False)
        return {task: outputs[task] for task in task_names}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default", fn=serve, input_signature=[signature]
    )
    archive.write_out(path, verbose=False)
    return path
