"""Reading and assigning tf.Variable values by name, the TF2 twin of
tf1_graph/weights.py: {name without ":0": numpy array}, every shape checked."""

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from mnist_data import checks


def variable_name(variable: tf.Variable) -> str:
    """Returns a variable's name without its ":0" suffix.

    Keras 3 variables carry their scoped name in `.path`; tf.Variables made
    under a tf.Module's name_scope carry it in `.name`.
    """
    path = getattr(variable, "path", None)
    if path:
        return path
    return variable.name.rsplit(":", 1)[0]


def assign(
    variables: Sequence[tf.Variable], values: Mapping[str, np.ndarray]
) -> None:
    """Assigns values[name] to each variable; names and shapes must match."""
    by_name = {variable_name(v): v for v in variables}
    checks.check_names_and_shapes(
        {name: tuple(v.shape.as_list()) for name, v in by_name.items()}, values
    )
    for name, variable in by_name.items():
        variable.assign(values[name])


def read(variables: Sequence[tf.Variable]) -> dict[str, np.ndarray]:
    """Returns {name: value} of `variables`."""
    return {variable_name(v): v.numpy() for v in variables}
