"""Multiplying two fed vectors in TF1 graph style (the report, section 5.4).

The report's smallest TF1 program: two float32 placeholders X_1 and X_2,
their elementwise product, and a Session that feeds [1, 2, 3] and [4, 5, 6]
and prints [4, 10, 18]. build() adds the three tensors to the default graph;
run() owns its tf.Graph and Session as tf1_graph/train.py does. The TF2 form
is tf2_eager/multiply.py.
"""

from typing import Any

import numpy as np
import tensorflow as tf

from flags import config as config_lib
from mnist_data import checks
from mnist_data import regression_data


def build() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Adds X_1, X_2 and their product to the default graph.

    Returns:
      (x1, x2, product): two float32 [None] placeholders named "X_1" and
      "X_2", and their elementwise product, float32 [None].
    """
    x1 = tf.compat.v1.placeholder(tf.float32, [None], name="X_1")
    x2 = tf.compat.v1.placeholder(tf.float32, [None], name="X_2")
    return x1, x2, tf.multiply(x1, x2, name="product")


def run(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Builds the product in a new graph and evaluates it on x1 and x2.

    Args:
      x1: First factor, a vector of numbers, cast to float32 [n].
      x2: Second factor, float32 [n] after the cast.

    Returns:
      x1 * x2, float32 [n].

    Raises:
      ValueError: if x1 and x2 differ in shape (TensorFlow would broadcast a
        length-1 vector instead of refusing it).
    """
    x1 = np.asarray(x1, dtype=np.float32)
    x2 = np.asarray(x2, dtype=np.float32)
    checks.check_same_shape(x1, x2, "tf1_graph multiply")
    graph = tf.Graph()
    with graph.as_default():
        x1_placeholder, x2_placeholder, product = build()
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(product, feed_dict={x1_placeholder: x1, x2_placeholder: x2})


def experiment(config: config_lib.TrainConfig) -> dict[str, Any]:
    """`python -m tf1_graph.train --model=multiply`: the report's [1, 2, 3] *
    [4, 5, 6]. Nothing in config applies; the report's program has no
    variables and no training."""
    del config  # Every model's experiment takes one.
    return regression_data.run_multiply("tf1_graph", run)
