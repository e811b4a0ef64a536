"""Logistic regression on breast cancer agrees between tf1_graph and tf2_eager.

The gradient-learning notebook's classifier (mnist_data/breast_cancer.py,
tf1_graph/logistic_regression.py, tf2_eager/logistic_regression.py):
- the data: the 500/69 split, scaled with the training rows' min/max;
- the metrics: confusion matrix and precision/recall against hand counts;
- each trainer (full-batch gradient descent, minibatch SGD, momentum): the
  same loss at every step and the same final weights on both sides, within
  1e-12, and more than 85% accuracy on the 69 held-out rows;
- the project's parity ladder on the full-batch pair.
"""

import functools

import numpy as np
import pytest
import tensorflow as tf
from sklearn import datasets

from compat_tests import ladder
from mnist_data import breast_cancer
from tf1_graph import logistic_regression as tf1_logistic_regression
from tf2_eager import logistic_regression as tf2_logistic_regression

TOLERANCE = 1e-12
MIN_TEST_ACCURACY = 0.85
# The trainer name, shared by both sides, and its number of steps with the
# defaults: 100 full-batch cycles, or 100 epochs of 500 / 50 = 10 batches.
TRAINERS = {"train_gradient_descent": 100, "train_minibatch": 1000, "train_momentum": 100}
SIDES = {"tf1_graph": tf1_logistic_regression, "tf2_eager": tf2_logistic_regression}


@functools.cache
def _data():
    return breast_cancer.load()


@functools.cache
def _trained(side: str, trainer: str) -> dict:
    """One side's trainer with its defaults, run once for all the tests."""
    train_x, train_y, test_x, _ = _data()
    return getattr(SIDES[side], trainer)(train_x, train_y, eval_x=test_x)


def test_load_splits_500_69_with_float64_0_1_labels():
    train_x, train_y, test_x, test_y = _data()
    assert train_x.shape == (500, 30) and test_x.shape == (69, 30)
    assert train_y.shape == (500,) and test_y.shape == (69,)
    for array in (train_x, train_y, test_x, test_y):
        assert array.dtype == np.float64
    for labels in (train_y, test_y):
        assert set(np.unique(labels)) == {0.0, 1.0}
    # The split is scikit-learn's row order: the last 69 labels are its last 69.
    np.testing.assert_array_equal(test_y, datasets.load_breast_cancer().target[500:])


def test_load_scales_both_splits_with_the_training_min_max():
    train_x, _, test_x, _ = _data()
    raw = datasets.load_breast_cancer().data
    minimum, maximum = raw[:500].min(axis=0), raw[:500].max(axis=0)
    np.testing.assert_allclose(train_x, (raw[:500] - minimum) / (maximum - minimum), atol=1e-15)
    np.testing.assert_allclose(test_x, (raw[500:] - minimum) / (maximum - minimum), atol=1e-15)
    # Scaled with the training rows alone, every training column spans
    # exactly [0, 1], and the test rows, scaled the same way, leave it.
    np.testing.assert_array_equal(train_x.min(axis=0), 0.0)
    np.testing.assert_array_equal(train_x.max(axis=0), 1.0)
    assert test_x.min() < 0.0 or test_x.max() > 1.0


def test_load_refuses_an_empty_split():
    for train_rows in (0, 569):
        with pytest.raises(ValueError, match="both splits"):
            breast_cancer.load(train_rows)


def test_minibatch_indices_shuffle_every_row_once_per_epoch():
    steps = breast_cancer.minibatch_indices(seed=0, epochs=3, batch_size=50, count=500)
    assert len(steps) == 30
    epochs = [np.concatenate(steps[i:i + 10]) for i in range(0, 30, 10)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), np.arange(500))
    assert not np.array_equal(epochs[0], epochs[1])
    np.testing.assert_array_equal(epochs[1], np.random.default_rng([0, 1]).permutation(500))
    # A batch size that does not divide the rows leaves a smaller last batch.
    assert [len(b) for b in breast_cancer.minibatch_indices(0, 1, 3, 7)] == [3, 3, 1]


def test_confusion_matrix_and_precision_recall_match_a_hand_count():
    y_true = np.array([1, 1, 1, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 0, 0, 0, 1, 0])
    # By hand: true 0 -> predicted 0 once, 1 once; true 1 -> 0 three times,
    # 1 twice.
    np.testing.assert_array_equal(
        breast_cancer.confusion_matrix(y_true, y_pred), [[1, 1], [3, 2]]
    )
    # Class 1: 2 of 3 predicted 1 are 1, 2 of 5 true 1 found; class 0: 1 of
    # 4 predicted 0 are 0, 1 of 2 true 0 found.
    assert breast_cancer.precision_recall(y_true, y_pred) == {
        0: pytest.approx((1 / 4, 1 / 2), abs=1e-15),
        1: pytest.approx((2 / 3, 2 / 5), abs=1e-15),
    }
    # A class never predicted has precision 0 rather than 0 / 0.
    assert breast_cancer.precision_recall(y_true, np.ones(7))[0] == (0.0, 0.0)


def test_metrics_refuse_probabilities_and_mismatched_shapes():
    with pytest.raises(ValueError, match="predict"):
        breast_cancer.confusion_matrix(np.array([0, 1]), np.array([0.2, 0.9]))
    with pytest.raises(ValueError, match="same length"):
        breast_cancer.confusion_matrix(np.array([0, 1]), np.array([[0], [1]]))


@pytest.mark.parametrize("side", sorted(SIDES))
def test_model_refuses_float32_features(side):
    train_x, train_y, _, _ = _data()
    with pytest.raises(ValueError, match="float64"):
        SIDES[side].train_gradient_descent(
            train_x.astype(np.float32), train_y.astype(np.float32), cycles=1
        )


@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_sides_agree_per_step_and_classify_the_held_out_rows(trainer):
    test_y = _data()[3]
    results = {side: _trained(side, trainer) for side in SIDES}
    for side, result in results.items():
        losses = result["losses"]
        accuracy = breast_cancer.accuracy(
            test_y, breast_cancer.predict(result["eval_probabilities"])
        )
        print(f"{trainer} {side}: final train loss {losses[-1]:.10g}, "
              f"test accuracy {accuracy:.4f}")
        assert len(losses) == TRAINERS[trainer]
        # From zeros every probability is 0.5, so the first loss is log 2.
        assert losses[0] == pytest.approx(np.log(2.0), abs=1e-15)
        assert losses[-1] < 0.6
        assert result["w"].shape == (30,) and result["w"].dtype == np.float64
        assert accuracy > MIN_TEST_ACCURACY
    tf1, tf2 = results["tf1_graph"], results["tf2_eager"]
    loss_difference = float(np.max(np.abs(np.subtract(tf1["losses"], tf2["losses"]))))
    weight_difference = max(float(np.max(np.abs(tf1["w"] - tf2["w"]))), abs(tf1["b"] - tf2["b"]))
    print(f"{trainer}: max per-step |Δloss| {loss_difference:.3g}, "
          f"max |Δweight| {weight_difference:.3g}")
    assert loss_difference <= TOLERANCE
    assert weight_difference <= TOLERANCE
    np.testing.assert_allclose(
        tf1["eval_probabilities"], tf2["eval_probabilities"], rtol=0, atol=TOLERANCE
    )


def test_minibatch_comparison_sees_a_different_shuffle():
    # The minibatch sides agree only because they share the batch order: a
    # different seed on one side must part the losses far beyond 1e-12.
    train_x, train_y, _, _ = _data()
    other = tf2_logistic_regression.train_minibatch(train_x, train_y, epochs=1, seed=1)
    ours = _trained("tf1_graph", "train_minibatch")["losses"][:10]
    assert np.max(np.abs(np.subtract(ours, other["losses"]))) > 1e-6


def test_momentum_confusion_matrix_and_precision_recall():
    test_y = _data()[3]
    probabilities = _trained("tf2_eager", "train_momentum")["eval_probabilities"]
    predictions = breast_cancer.predict(probabilities)
    matrix = breast_cancer.confusion_matrix(test_y, predictions)
    per_class = breast_cancer.precision_recall(test_y, predictions)
    print("momentum confusion matrix (rows true 0/1, columns predicted 0/1):\n", matrix)
    print("momentum precision/recall per class:", per_class)
    assert matrix.sum() == 69
    np.testing.assert_array_equal(matrix.sum(axis=1), [np.sum(test_y == 0), np.sum(test_y == 1)])
    assert np.trace(matrix) / 69 == pytest.approx(breast_cancer.accuracy(test_y, predictions))
    for c in (0, 1):
        assert per_class[c] == pytest.approx(
            (matrix[c, c] / matrix[:, c].sum(), matrix[c, c] / matrix[c, :].sum())
        )


def _percent_correct(outputs: np.ndarray, labels: np.ndarray) -> float:
    return 100.0 * breast_cancer.accuracy(labels, breast_cancer.predict(outputs))


def test_ladder_passes_on_the_full_batch_pair():
    train_x, train_y, test_x, test_y = _data()

    def build_tf1(x, y):
        return tf1_logistic_regression.build(
            x, y, tf.compat.v1.train.GradientDescentOptimizer(0.1)
        )

    def make_tf2() -> ladder.Tf2Side:
        return ladder.Tf2Side(
            tf2_logistic_regression.LogisticRegression(),
            tf2_logistic_regression.loss,
            tf.keras.optimizers.SGD(0.1),
        )

    report = ladder.run_ladder(
        build_tf1, make_tf2, (train_x, train_y), batch_size=500, steps=20,
        eval_data=(test_x, test_y), metric=_percent_correct, device="/CPU:0",
    )
    print(report.format())
    assert report.passed, report.format()
    assert all(r.status == "passed" for r in report.rungs), report.format()
    assert report.variable_map == {
        "logistic_regression/w": "logistic_regression/w",
        "logistic_regression/b": "logistic_regression/b",
    }
    assert report.max_abs_loss_diff <= TOLERANCE


def test_both_sides_round_the_momentum_to_float32():
    # MomentumOptimizer and Keras SGD both hold 0.9 as float32 (0.899999976)
    # and cast it to float64; that shared rounding is why the momentum sides
    # agree to 1e-16. TF1 given the exact float64 0.9 parts from them by
    # about 3e-8 in the loss, far beyond the tolerance.
    train_x, train_y, _, _ = _data()
    rounded = tf2_logistic_regression.train_momentum(
        train_x, train_y, momentum=float(np.float32(0.9))
    )
    assert rounded["losses"] == _trained("tf2_eager", "train_momentum")["losses"]
    exact = tf1_logistic_regression.train(
        train_x, train_y,
        tf.compat.v1.train.MomentumOptimizer(0.1, lambda: tf.constant(0.9, tf.float64)),
        breast_cancer.full_batches(100, len(train_x)),
    )
    difference = np.max(np.abs(np.subtract(exact["losses"], rounded["losses"])))
    print("momentum exact 0.9 vs float32 0.9, max |Δloss|:", difference)
    assert difference > 1e-9
