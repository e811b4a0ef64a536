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

import time
from typing import Any, Callable

import numpy as np

from runtime import reporting
from runtime import errors

TRUE_SLOPE = 3.0
# The notebook's check: autodiff within 1e-5 of the closed form and of finite
# differences at 100 random (w, b) in [-50, 50].
GRADIENT_TOLERANCE = 1e-5
GRADIENT_CHECK_POINTS = 100
GRADIENT_CHECK_RANGE = 50.0
# What "recovers the line" means for the report: the fitted slope within
# 0.2 of 3 and the intercept within 0.1 of 0 (the noise is uniform in
# [-0.5, 0.5), so its mean over 100 points is within about 0.06 of 0).
SLOPE_TOLERANCE = 0.2
INTERCEPT_TOLERANCE = 0.1
# The report's two fed vectors and their product.
MULTIPLY_FACTORS = (np.array([1.0, 2.0, 3.0], np.float32), np.array([4.0, 5.0, 6.0], np.float32))
MULTIPLY_PRODUCT = np.array([4.0, 10.0, 18.0], np.float32)


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
        raise errors.FixableError(f"count must be >= 2 to span [-1, 1], got {count}.")
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
        raise errors.FixableError(f"epsilon must be > 0, got {epsilon}.")
    dw = (mse(x, y, w + epsilon, b) - mse(x, y, w - epsilon, b)) / (2.0 * epsilon)
    db = (mse(x, y, w, b + epsilon) - mse(x, y, w, b - epsilon)) / (2.0 * epsilon)
    return dw, db


def gradient_check_points(seed: int) -> np.ndarray:
    """The notebook's 100 random (w, b), uniform in [-50, 50], float64 [100, 2].

    Far from the minimum, the gradients are large, so a wrong formula cannot
    hide under the absolute tolerance.
    """
    rng = np.random.default_rng([seed, 1])
    return rng.uniform(
        -GRADIENT_CHECK_RANGE, GRADIENT_CHECK_RANGE, size=(GRADIENT_CHECK_POINTS, 2)
    )


def gradient_check(
    x: np.ndarray, y: np.ndarray, points: np.ndarray, autodiff: np.ndarray
) -> dict[str, Any]:
    """Compares autodiff gradients with the closed form and finite differences.

    Args:
      x: Inputs, float64 [n].
      y: Targets, float64 [n].
      points: The (w, b) checked, float64 [k, 2].
      autodiff: A side's (dw, db) at each point, float64 [k, 2].

    Returns:
      {"points": k, "max_abs_diff_closed_form", "max_abs_diff_finite_difference",
       "tolerance", "passed": both within the tolerance}.
    """
    autodiff = np.asarray(autodiff)
    if autodiff.shape != points.shape:
        raise errors.FixableError(
            f"autodiff gradients must be [k, 2] like the points, got "
            f"{list(autodiff.shape)} for {list(points.shape)}."
        )
    closed = np.array([closed_form_gradients(x, y, w, b) for w, b in points])
    numeric = np.array([finite_difference_gradients(x, y, w, b) for w, b in points])
    closed_diff = float(np.max(np.abs(autodiff - closed)))
    numeric_diff = float(np.max(np.abs(autodiff - numeric)))
    return {
        "points": len(points),
        "max_abs_diff_closed_form": closed_diff,
        "max_abs_diff_finite_difference": numeric_diff,
        "tolerance": GRADIENT_TOLERANCE,
        "passed": max(closed_diff, numeric_diff) <= GRADIENT_TOLERANCE,
    }


def run_linear_regression(
    side: str,
    train: Callable[..., dict[str, Any]],
    gradients_at: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    seed: int,
    learning_rate: float,
    cycles: int,
) -> dict[str, Any]:
    """The notebook's linear-regression run, as one side's train script does it.

    Args:
      side: "tf1_graph" or "tf2_eager".
      train: The side's train(x, y, learning_rate, cycles) -> {"w", "b", "losses"}.
      gradients_at: The side's autodiff gradients_at(x, y, points) -> [k, 2].
      seed: Seed of the line's noise and of the gradient-check points.
      learning_rate: Gradient-descent step.
      cycles: Number of full-batch updates.

    Returns:
      reporting.run_metrics, with results holding the fitted line, the
      gradient check and "checks" ({name: passed}).
    """
    x, y = line_points(seed)
    start = time.perf_counter()
    fitted = train(x, y, learning_rate, cycles)
    seconds = time.perf_counter() - start
    points = gradient_check_points(seed)
    check = gradient_check(x, y, points, gradients_at(x, y, points))
    recovered = (
        abs(fitted["w"] - TRUE_SLOPE) <= SLOPE_TOLERANCE and abs(fitted["b"]) <= INTERCEPT_TOLERANCE
    )
    return reporting.run_metrics(
        side=side,
        model="linear_regression",
        dataset={"name": "noisy_line", "train_size": len(x), "test_size": 0,
                 "description": f"y = 3x + uniform noise in [-0.5, 0.5), seed {seed}"},
        accuracy_trace={},
        loss_trace=fitted["losses"],
        seconds=seconds,
        checkpoint=None,
        weights={"linear_regression/w": fitted["w"], "linear_regression/b": fitted["b"]},
        results={
            "summary": (
                f"w {fitted['w']:.4f}, b {fitted['b']:.4f} (line y = 3x), final MSE "
                f"{fitted['losses'][-1]:.4f}; gradient check max |Δ| "
                f"{max(check['max_abs_diff_closed_form'], check['max_abs_diff_finite_difference']):.2g}"
                f" over {check['points']} points"
            ),
            "w": fitted["w"],
            "b": fitted["b"],
            "gradient_check": check,
            "checks": {"gradient_check": check["passed"], "recovers_the_line": recovered},
        },
    )


def run_multiply(side: str, multiply: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> dict[str, Any]:
    """The report's program, as one side's train script runs it.

    Args:
      side: "tf1_graph" or "tf2_eager".
      multiply: The side's run(x1, x2) -> x1 * x2.

    Returns:
      reporting.run_metrics with no steps; the product stands in the weights
      (multiply has no variables) so parity compares it.
    """
    start = time.perf_counter()
    product = multiply(*MULTIPLY_FACTORS)
    seconds = time.perf_counter() - start
    return reporting.run_metrics(
        side=side,
        model="multiply",
        dataset={"name": "report_vectors", "train_size": 0, "test_size": 0,
                 "description": "X_1 = [1, 2, 3], X_2 = [4, 5, 6]"},
        accuracy_trace={},
        loss_trace=[],
        seconds=seconds,
        checkpoint=None,
        weights={"product": product},
        results={
            "summary": f"X_1 * X_2 = {product.tolist()}",
            "product": product.tolist(),
            "checks": {"reports_product": bool(np.array_equal(product, MULTIPLY_PRODUCT))},
        },
    )
