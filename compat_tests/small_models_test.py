"""The two small models agree between tf1_graph and tf2_eager.

- multiply (the report, section 5.4): the report's [1, 2, 3] · [4, 5, 6],
  a random pair, and the mismatched-length error on both sides.
- linear regression (the gradient-learning notebook): the notebook's
  gradient check, with TF1 autodiff, TF2 GradientTape, the closed form and
  finite differences at 100 random points; training to w ≈ 3, b ≈ 0 with
  per-cycle losses equal between sides; and the project's parity ladder.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from compat_tests import ladder
from mnist_data import regression_data
from tf1_graph import linear_regression as tf1_linear_regression
from tf1_graph import multiply as tf1_multiply
from tf2_eager import linear_regression as tf2_linear_regression
from tf2_eager import multiply as tf2_multiply

MULTIPLY_SIDES = {"tf1_graph": tf1_multiply.run, "tf2_eager": tf2_multiply.run}
GRADIENT_TOLERANCE = regression_data.GRADIENT_TOLERANCE
LOSS_TOLERANCE = 1e-12


@pytest.mark.parametrize("side", sorted(MULTIPLY_SIDES))
def test_multiply_gives_the_reports_product(side):
    product = MULTIPLY_SIDES[side]([1, 2, 3], [4, 5, 6])
    assert product.dtype == np.float32
    np.testing.assert_array_equal(product, [4.0, 10.0, 18.0])


def test_multiply_sides_agree_on_a_random_pair():
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 37)).astype(np.float32)
    tf1_product = tf1_multiply.run(x1, x2)
    np.testing.assert_array_equal(tf1_product, tf2_multiply.run(x1, x2))
    np.testing.assert_array_equal(tf1_product, x1 * x2)


def test_tf2_multiply_is_a_tf_function_on_float32_vectors():
    product = tf2_multiply.multiply(tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]))
    np.testing.assert_array_equal(product.numpy(), [3.0, 8.0])
    # The input_signature refuses anything but float32 [None].
    with pytest.raises(TypeError, match="TensorSpec"):
        tf2_multiply.multiply(tf.constant([[1.0]]), tf.constant([[2.0]]))


@pytest.mark.parametrize("side", sorted(MULTIPLY_SIDES))
def test_multiply_refuses_mismatched_lengths(side):
    # A length-1 factor is the case TensorFlow would silently broadcast.
    for x2 in ([4, 5], [4]):
        with pytest.raises(ValueError, match=rf"\[3\].*\[{len(x2)}\]"):
            MULTIPLY_SIDES[side]([1, 2, 3], x2)


def test_gradient_check_all_four_methods_agree():
    x, y = regression_data.line_points()
    points = regression_data.gradient_check_points(seed=0)
    methods = {
        "tf1_autodiff": tf1_linear_regression.gradients_at(x, y, points),
        "tf2_tape": tf2_linear_regression.gradients_at(x, y, points),
        "closed_form": np.array(
            [regression_data.closed_form_gradients(x, y, w, b) for w, b in points]
        ),
        "finite_difference": np.array(
            [regression_data.finite_difference_gradients(x, y, w, b) for w, b in points]
        ),
    }
    for name, values in methods.items():
        assert values.shape == (100, 2), name
        assert values.dtype == np.float64, name
    # The points are far from the minimum, so the gradients are large and a
    # wrong formula cannot hide under the absolute tolerance.
    assert np.min(np.abs(methods["closed_form"])) > 1e-3
    differences = {
        f"{a} vs {b}": float(np.max(np.abs(methods[a] - methods[b])))
        for a, b in itertools.combinations(methods, 2)
    }
    print("gradient check max |Δ|:", differences)
    assert all(d <= GRADIENT_TOLERANCE for d in differences.values()), differences


def test_finite_differences_detect_a_wrong_gradient():
    # The check is only worth having if it tells a wrong formula apart: the
    # closed form with the factor 2 dropped must fail it.
    x, y = regression_data.line_points()
    dw, db = regression_data.closed_form_gradients(x, y, 1.5, -2.0)
    numeric_dw, numeric_db = regression_data.finite_difference_gradients(x, y, 1.5, -2.0)
    assert abs(dw - numeric_dw) <= GRADIENT_TOLERANCE
    assert abs(db - numeric_db) <= GRADIENT_TOLERANCE
    assert abs(dw / 2 - numeric_dw) > GRADIENT_TOLERANCE


def test_training_recovers_the_line_and_sides_agree_per_cycle():
    x, y = regression_data.line_points()
    tf1_result = tf1_linear_regression.train(x, y, learning_rate=0.1, cycles=100)
    tf2_result = tf2_linear_regression.train(x, y, learning_rate=0.1, cycles=100)
    print("final (w, b): tf1", (tf1_result["w"], tf1_result["b"]),
          "tf2", (tf2_result["w"], tf2_result["b"]))
    for result in (tf1_result, tf2_result):
        assert abs(result["w"] - regression_data.TRUE_SLOPE) < 0.2, result["w"]
        assert abs(result["b"]) < 0.1, result["b"]
        assert len(result["losses"]) == 100
        assert result["losses"][-1] < result["losses"][0]
    loss_difference = np.max(np.abs(np.subtract(tf1_result["losses"], tf2_result["losses"])))
    print("max per-cycle |Δloss|:", loss_difference)
    assert loss_difference <= LOSS_TOLERANCE


@pytest.mark.parametrize(
    "train",
    [tf1_linear_regression.train, tf2_linear_regression.train],
    ids=["tf1_graph", "tf2_eager"],
)
def test_both_sides_step_with_the_learning_rate_rounded_to_float32(train):
    # TF1's GradientDescentOptimizer and Keras SGD both hold 0.1 as float32
    # and cast it to the float64 variables; that shared rounding is why the
    # sides agree bit for bit. A side that stepped with the exact float64 0.1
    # would land about 3e-9 away.
    x, y = regression_data.line_points()
    dw, db = regression_data.closed_form_gradients(x, y, 0.0, 0.0)
    result = train(x, y, learning_rate=0.1, cycles=1)
    rounded_rate = float(np.float32(0.1))
    assert result["w"] == pytest.approx(-rounded_rate * dw, rel=1e-14, abs=0.0)
    assert result["b"] == pytest.approx(-rounded_rate * db, rel=1e-14, abs=0.0)
    assert abs(result["w"] - (-0.1 * dw)) > 1e-10


def test_ladder_passes_on_the_pair():
    x, y = regression_data.line_points()

    def make_tf2() -> ladder.Tf2Side:
        return ladder.Tf2Side(
            tf2_linear_regression.LinearRegression(),
            tf2_linear_regression.mse,
            tf.keras.optimizers.SGD(0.1),
        )

    report = ladder.run_ladder(
        tf1_linear_regression.build, make_tf2, (x, y), batch_size=100, steps=20,
        device="/CPU:0",
    )
    print(report.format())
    assert report.passed, report.format()
    assert report.variable_map == {
        "linear_regression/w": "linear_regression/w",
        "linear_regression/b": "linear_regression/b",
    }
    assert report.max_abs_loss_diff <= LOSS_TOLERANCE


def test_ladder_catches_a_float64_mistake_below_float32_tolerances():
    x, y = regression_data.line_points()

    class SlightlyOff(tf2_linear_regression.LinearRegression):
        """Predictions one part in a million too large: invisible in float32."""

        def __call__(self, inputs):
            return super().__call__(inputs) * (1.0 + 1e-6)

    def make_tf2() -> ladder.Tf2Side:
        return ladder.Tf2Side(SlightlyOff(), tf2_linear_regression.mse,
                              tf.keras.optimizers.SGD(0.1))

    report = ladder.run_ladder(tf1_linear_regression.build, make_tf2, (x, y),
                               batch_size=100, steps=20)
    # The weights start at zero, so the outputs agree; the scale shows in the
    # gradients, by one part in a million: far inside float32's rounding, far
    # beyond the float64 noise floor measured in the run.
    assert report.failed_rung is not None, report.format()
    assert report.failed_rung.rung == "gradients", report.format()
    assert report.failed_rung.verdict == "systematic", report.format()
    assert report.failed_rung.max_rel_diff == pytest.approx(1e-6, rel=1e-3)
    assert report.failed_rung.floor < 1e-12


def test_gradient_check_report_fails_a_wrong_autodiff():
    # The record the train scripts print must be able to say "failed": a
    # gradient off by 1e-4 at one point is caught.
    x, y = regression_data.line_points()
    points = regression_data.gradient_check_points(seed=0)
    right = tf2_linear_regression.gradients_at(x, y, points)
    assert regression_data.gradient_check(x, y, points, right)["passed"]
    wrong = right.copy()
    wrong[17, 1] += 1e-4
    check = regression_data.gradient_check(x, y, points, wrong)
    assert not check["passed"]
    assert check["max_abs_diff_closed_form"] == pytest.approx(1e-4, rel=1e-3)
    with pytest.raises(ValueError, match=r"\[k, 2\].*\[100, 1\]"):
        regression_data.gradient_check(x, y, points, right[:, :1])
