"""Linear regression by gradient descent in TF1 graph style: y_hat = x w + b.

The gradient-learning notebook fits y = 3x + noise (mnist_data/
regression_data.py) with scalar w and b, both zeros, the mean squared error
and plain gradient descent, and checks the autodiff gradient against the
closed form and against finite differences. Everything is float64, because
the finite-difference check needs it: in float32 the rounding of the MSE
divided by a small epsilon swamps the gradient.

build() adds the graph to the default graph (tf.compat.v1.gradients gives
the gradients the notebook checks); train() owns its tf.Graph and Session as
tf1_graph/train.py does. The TF2 form is tf2_eager/linear_regression.py.
"""

from typing import Any

import numpy as np
import tensorflow as tf

from flags import config as config_lib
from mnist_data import checks
from mnist_data import regression_data
from tf1_graph import weights
from runtime import errors

SCOPE = "linear_regression"


def build(
    x: tf.Tensor, y: tf.Tensor, learning_rate: float = 0.1
) -> dict[str, tf.Tensor | tf.Operation | list[tf.Tensor]]:
    """Adds the model, its loss, gradients and training op to the default graph.

    Args:
      x: Inputs, float64 [None].
      y: Targets, float64 [None].
      learning_rate: Step of tf.compat.v1.train.GradientDescentOptimizer.

    Returns:
      {"outputs": y_hat float64 [None], "loss": MSE float64 [],
       "train_op": one gradient-descent step, "gradients": [dw, db] float64
       [] each, from tf.compat.v1.gradients}. The variables are
      "linear_regression/w" and "linear_regression/b", float64 [] zeros.
    """
    for name, tensor in (("x", x), ("y", y)):
        checks.check_float64(
            tensor.dtype.name, name, "tf1_graph linear_regression", "the gradient check"
        )
    with tf.compat.v1.name_scope(SCOPE):
        w = tf.Variable(tf.constant(0.0, tf.float64), name="w")
        b = tf.Variable(tf.constant(0.0, tf.float64), name="b")
        outputs = x * w + b
        loss = tf.reduce_mean(tf.square(y - outputs))
    gradients = tf.compat.v1.gradients(loss, [w, b])
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
    return {
        "outputs": outputs,
        "loss": loss,
        "train_op": optimizer.minimize(loss, var_list=[w, b]),
        "gradients": gradients,
    }


def train(
    x: np.ndarray, y: np.ndarray, learning_rate: float = 0.1, cycles: int = 100
) -> dict[str, float | list[float]]:
    """Full-batch gradient descent from w = b = 0, in its own graph and Session.

    Args:
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
      learning_rate: Gradient-descent step.
      cycles: Number of updates, >= 1.

    Returns:
      {"w": final w, "b": final b, "losses": the MSE of each cycle, before
      its update, as `cycles` floats}.
    """
    if cycles < 1:
        raise errors.FixableError(f"cycles must be >= 1, got {cycles}.")
    graph = tf.Graph()
    with graph.as_default():
        x_placeholder = tf.compat.v1.placeholder(tf.float64, [None], name="x")
        y_placeholder = tf.compat.v1.placeholder(tf.float64, [None], name="y")
        endpoints = build(x_placeholder, y_placeholder, learning_rate)
        w, b = tf.compat.v1.trainable_variables()
        initializer = tf.compat.v1.global_variables_initializer()
    # Finalising catches any op accidentally added inside the training loop.
    graph.finalize()
    feed = {x_placeholder: x, y_placeholder: y}
    losses = []
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        for _ in range(cycles):
            loss_value, _ = session.run([endpoints["loss"], endpoints["train_op"]], feed_dict=feed)
            losses.append(float(loss_value))
        final_w, final_b = session.run([w, b])
    return {"w": float(final_w), "b": float(final_b), "losses": losses}


def gradients_at(x: np.ndarray, y: np.ndarray, points: np.ndarray) -> np.ndarray:
    """tf.compat.v1.gradients of the MSE at each (w, b), float64 [k, 2].

    One graph and Session; each point is loaded into w and b before the
    gradients are fetched.

    Args:
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
      points: The (w, b) to evaluate at, float64 [k, 2].
    """
    graph = tf.Graph()
    with graph.as_default():
        x_placeholder = tf.compat.v1.placeholder(tf.float64, [None], name="x")
        y_placeholder = tf.compat.v1.placeholder(tf.float64, [None], name="y")
        gradients = build(x_placeholder, y_placeholder)["gradients"]
        loader = weights.Loader(tf.compat.v1.trainable_variables())
        initializer = tf.compat.v1.global_variables_initializer()
    graph.finalize()
    results = []
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        for w, b in points:
            loader.load(session, {f"{SCOPE}/w": w, f"{SCOPE}/b": b})
            results.append(session.run(gradients, feed_dict={x_placeholder: x, y_placeholder: y}))
    return np.array(results)


def experiment(config: config_lib.TrainConfig) -> dict[str, Any]:
    """`python -m tf1_graph.train --model=linear_regression`: the notebook's
    fit (config.steps cycles at config.learning_rate) and gradient check."""
    return regression_data.run_linear_regression(
        "tf1_graph", train, gradients_at, config.seed, config.learning_rate, config.steps
    )
