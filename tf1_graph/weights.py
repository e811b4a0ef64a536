"""Reading and loading variable values of a TF1 graph by name.

Weights cross between tf1_graph and tf2_eager as {name: numpy array}, keyed
by the variable's name without the ":0" output suffix
("softmax_regression/weights"). Loading checks every name and shape.
"""

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from mnist_data import checks


def variable_name(variable: tf.Variable) -> str:
    """Returns the graph name of a variable without its ":0" suffix."""
    return variable.op.name


class Loader:
    """Assign ops, built once before the graph is finalised, that load values.

    TF1's Variable.load() adds a new op on every call; building one
    placeholder-fed assign per variable up front keeps the graph fixed.
    """

    def __init__(self, variables: Sequence[tf.Variable]):
        self._variables = {variable_name(v): v for v in variables}
        self._placeholders = {}
        assigns = []
        with tf.compat.v1.name_scope("weight_loader"):
            for name, variable in self._variables.items():
                placeholder = tf.compat.v1.placeholder(
                    variable.dtype.base_dtype, variable.shape
                )
                self._placeholders[name] = placeholder
                assigns.append(variable.assign(placeholder))
        self._assign_all = tf.group(*assigns)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """{name: shape} of the variables this loader loads."""
        return {name: tuple(v.shape.as_list()) for name, v in self._variables.items()}

    def load(
        self, session: tf.compat.v1.Session, values: Mapping[str, np.ndarray]
    ) -> None:
        """Loads `values` into every variable; names and shapes must match."""
        checks.check_names_and_shapes(self.shapes, values)
        session.run(
            self._assign_all,
            feed_dict={
                self._placeholders[name]: values[name] for name in self._variables
            },
        )


def read(
    session: tf.compat.v1.Session, variables: Sequence[tf.Variable]
) -> dict[str, np.ndarray]:
    """Returns {name: value} of `variables`."""
    values = session.run(list(variables))
    return {variable_name(v): value for v, value in zip(variables, values)}

