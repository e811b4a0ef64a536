"""Multiplying two vectors in idiomatic TF2 (the report, section 5.4).

The TF2 form of tf1_graph/multiply.py. The placeholders X_1 and X_2 became
the arguments of a tf.function, whose input_signature (float32 [None] twice)
plays the placeholders' role of fixing dtype and shape; Session.run with a
feed_dict became a plain call, multiply(x1, x2), which traces the graph once
and returns an eager tensor.
"""

from typing import Any

import numpy as np
import tensorflow as tf

from flags import config as config_lib
from mnist_data import checks
from mnist_data import regression_data

_VECTOR = tf.TensorSpec([None], tf.float32)


def _product(x1: tf.Tensor, x2: tf.Tensor) -> tf.Tensor:
    """x1 * x2, float32 [n], for x1 and x2 float32 [n]."""
    return x1 * x2


multiply = tf.function(_product, input_signature=[_VECTOR, _VECTOR])


def run(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Checks the shapes, then calls multiply: the twin of tf1_graph's run.

    The shape check happens here because inside multiply both shapes are
    [None], so a mismatch could only surface as a runtime kernel error.

    Args:
      x1: First factor, a vector of numbers, cast to float32 [n].
      x2: Second factor, float32 [n] after the cast.

    Returns:
      x1 * x2, float32 [n].

    Raises:
      ValueError: if x1 and x2 differ in shape.
    """
    x1 = np.asarray(x1, dtype=np.float32)
    x2 = np.asarray(x2, dtype=np.float32)
    checks.check_same_shape(x1, x2, "tf2_eager multiply")
    return multiply(x1, x2).numpy()


def experiment(config: config_lib.TrainConfig) -> dict[str, Any]:
    """`python -m tf2_eager.train --model=multiply`: the report's [1, 2, 3] *
    [4, 5, 6]. Nothing in config applies; the report's program has no
    variables and no training."""
    del config  # Every model's experiment takes one.
    return regression_data.run_multiply("tf2_eager", run)
