"""Linear regression by gradient descent in idiomatic TF2: y_hat = x w + b.

The TF2 form of tf1_graph/linear_regression.py (the gradient-learning
notebook: y = 3x + noise, scalar w and b from zeros, mean squared error,
gradient descent, float64 throughout for the finite-difference check).
The variables live in a tf.Module, tf.compat.v1.gradients became a
GradientTape, and Session.run([loss, train_op]) a call of the tf.function
step that tf2_eager/steps.py's make_train_step builds.
"""

from typing import Any

import numpy as np
import tensorflow as tf

from flags import config as config_lib
from mnist_data import checks
from mnist_data import regression_data
from tf2_eager import steps
from runtime import errors


class LinearRegression(tf.Module):
    """y_hat = x w + b with float64 scalars named as in tf1_graph."""

    def __init__(self, name: str = "linear_regression"):
        """Creates w and b, float64 [] zeros, as "<name>/w" and "<name>/b"."""
        super().__init__(name=name)
        with self.name_scope:
            self.w = tf.Variable(tf.constant(0.0, tf.float64), name="w")
            self.b = tf.Variable(tf.constant(0.0, tf.float64), name="b")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Returns y_hat, float64 [n], for x float64 [n]."""
        x = tf.convert_to_tensor(x)
        checks.check_float64(x.dtype.name, "x", "tf2_eager LinearRegression", "the gradient check")
        return x * self.w + self.b


def mse(y: tf.Tensor, y_hat: tf.Tensor) -> tf.Tensor:
    """Mean squared error, float64 [], of targets y and predictions y_hat
    (float64 [n] each; Keras' (labels, outputs) argument order)."""
    return tf.reduce_mean(tf.square(y - y_hat))


def gradients(model: LinearRegression, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(dMSE/dw, dMSE/db), float64 [] each, at the model's current w and b.

    Args:
      model: The model; its variables are not changed.
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
    """
    with tf.GradientTape() as tape:
        loss = mse(y, model(x))
    dw, db = tape.gradient(loss, [model.w, model.b])
    return dw, db


def train(
    x: np.ndarray, y: np.ndarray, learning_rate: float = 0.1, cycles: int = 100
) -> dict[str, float | list[float]]:
    """Full-batch gradient descent from w = b = 0.

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
    model = LinearRegression()
    # Keras SGD takes float64 tf.Variables. It keeps the learning rate as a
    # float32 variable and casts it to float64 (0.1 becomes 0.10000000149),
    # but TF1's GradientDescentOptimizer converts the Python float to a
    # float32 tensor and casts it too, so both sides take the same steps and
    # their losses agree bit for bit.
    step = steps.make_train_step(model, mse, tf.keras.optimizers.SGD(learning_rate))
    x, y = tf.constant(x), tf.constant(y)
    losses = [float(step(x, y)) for _ in range(cycles)]
    return {"w": float(model.w.numpy()), "b": float(model.b.numpy()), "losses": losses}


def gradients_at(x: np.ndarray, y: np.ndarray, points: np.ndarray) -> np.ndarray:
    """GradientTape gradients of the MSE at each (w, b), float64 [k, 2].

    One model; each point is assigned to w and b before the tape runs.

    Args:
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
      points: The (w, b) to evaluate at, float64 [k, 2].
    """
    model = LinearRegression()
    results = []
    for w, b in points:
        model.w.assign(w)
        model.b.assign(b)
        results.append([gradient.numpy() for gradient in gradients(model, x, y)])
    return np.array(results)


def experiment(config: config_lib.TrainConfig) -> dict[str, Any]:
    """`python -m tf2_eager.train --model=linear_regression`: the notebook's
    fit (config.steps cycles at config.learning_rate) and gradient check."""
    return regression_data.run_linear_regression(
        "tf2_eager", train, gradients_at, config.seed, config.learning_rate, config.steps
    )
