"""Running unmodified TF1 graph-building code from TF2, with given weights.

The migration guide's incremental path: `tf.compat.v1.wrap_function` traces
a TF1 function (placeholders and tf.Variable calls included) into a
concrete function that TF2 code calls like any other. TF1 code creates its
variables from graph tensors (`tf.Variable(tf.truncated_normal(...))`),
which wrap_function cannot lift out of the traced graph; a variable creator
scope hands each variable its value from a {name: array} table instead, by
the name TF1 would give it. The function itself is not modified.
"""

from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from mnist_data import checks


def wrap_graph_function(
    build: Callable[..., tf.Tensor],
    input_signature: Sequence[tf.TensorSpec],
    values: Mapping[str, np.ndarray],
) -> tf.types.experimental.ConcreteFunction:
    """Wraps a TF1 graph builder into a TF2 function holding `values`.

    Args:
      build: A TF1 function from input tensors to an output tensor, e.g.
        `lambda images: tf1_graph.softmax_regression.inference(images,
        model_config, keep_prob=None)`; it creates its variables with tf.Variable
        or get_variable under name scopes, as TF1 code does.
      input_signature: One TensorSpec per input, e.g.
        [tf.TensorSpec([None, 784], tf.float32)].
      values: {variable name without ":0": value} for every variable the
        function creates ("softmax_regression/weights").

    Returns:
      A concrete function: call it with eager tensors or numpy arrays. Its
      `.variables` are the TF1 function's variables, named as in TF1, so
      tf2_eager.weights.assign can load other values later.

    Raises:
      ValueError: Listing the variables the function creates that `values`
        misses, the values it does not use, and mis-shaped ones.
    """
    created_shapes = {}

    def from_values(next_creator, **kwargs):
        scope = tf.compat.v1.get_default_graph().get_name_scope()
        # tf.Variable without a name is named "Variable", as TF1 names it.
        base_name = kwargs.get("name") or "Variable"
        name = f"{scope}/{base_name}" if scope else base_name
        initial_value = kwargs["initial_value"]
        if callable(initial_value):
            initial_value = initial_value()
        shape = tuple(initial_value.shape.as_list())
        created_shapes[name] = shape
        value = values.get(name)
        # A missing or mis-shaped value is replaced by zeros of the right
        # shape so that tracing finishes and every mismatch is listed at once.
        if value is None or tuple(np.shape(value)) != shape:
            value = np.zeros(shape, initial_value.dtype.as_numpy_dtype)
        # A numpy value, unlike the graph tensor, can be lifted out of the trace.
        kwargs["initial_value"] = value
        return next_creator(**kwargs)

    def build_with_values(*inputs: tf.Tensor) -> tf.Tensor:
        with tf.variable_creator_scope(from_values):
            return build(*inputs)

    wrapped = tf.compat.v1.wrap_function(build_with_values, list(input_signature))
    checks.check_names_and_shapes(created_shapes, values)
    return wrapped
