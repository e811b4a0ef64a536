"""Numpy data and checks for the small models, shared by both TF sides.

Framework-neutral like the rest of mnist_data: importing it never imports
TensorFlow. It holds
- the inputs check of the placeholder multiply (the report, section 5.4),
  tf1_graph/multiply.py and tf2_eager/multiply.py;
- the gradient-learning notebook's data, a noisy line y = 3x + noise, and its
  gradient check: the closed-form gradient of the mean squared error and a
  central finite-difference estimate, which the autodiff gradients of
  tf1_graph/linear_regression.py and tf2_eager/linear_regression.py must
  match.
"""

import numpy as np

TRUE_SLOPE = 3.0


def line_points(seed: int = 0, count: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's data: `count` points of y = 3x plus uniform noise.

    Args:
      seed: Seed of np.random.default_rng, which draws the noise.
      count: Number of points, >= 2.

    Returns:
      (x, y), float64 [count] each: x evenly spaced in [-1, 1], and
      y = 3x + u with u uniform in [-0.5, 0.5).
    """
    if count < 2:
        raise ValueError(f"count must be >= 2 to span [-1, 1], got {count}.")
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 1.0, count)
    y = TRUE_SLOPE * x + (rng.random(count) - 0.5)
    return x, y


def mse(x: np.ndarray, y: np.ndarray, w: float, b: float) -> float:
    """Mean squared error of y_hat = x w + b: mean((y - (x w + b))²).

    Args:
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
      w: Slope.
      b: Intercept.
    """
    return float(np.mean((y - (x * w + b)) ** 2))


def closed_form_gradients(
    x: np.ndarray, y: np.ndarray, w: float, b: float
) -> tuple[float, float]:
    """(dMSE/dw, dMSE/db) from the formula, the notebook's reference.

    dw = -2 mean((y - (x w + b)) x) and db = -2 mean(y - (x w + b)).

    Args:
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
      w: Slope.
      b: Intercept.
    """
    residual = y - (x * w + b)
    return float(-2.0 * np.mean(residual * x)), float(-2.0 * np.mean(residual))


def finite_difference_gradients(
    x: np.ndarray, y: np.ndarray, w: float, b: float, epsilon: float = 1e-6
) -> tuple[float, float]:
    """(dMSE/dw, dMSE/db) by central differences of `mse`.

    The MSE is quadratic in (w, b), so central differences have no
    truncation error; what remains is float64 rounding of the MSE, about
    1e-16 · MSE / epsilon.

    Args:
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
      w: Slope.
      b: Intercept.
      epsilon: Step of each difference, > 0.
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}.")
    dw = (mse(x, y, w + epsilon, b) - mse(x, y, w - epsilon, b)) / (2.0 * epsilon)
    db = (mse(x, y, w, b + epsilon) - mse(x, y, w, b - epsilon)) / (2.0 * epsilon)
    return dw, db
