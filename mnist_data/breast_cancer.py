"""The gradient-learning notebook's breast-cancer data and metrics, in numpy.

Framework-neutral like the rest of mnist_data: importing it never imports
TensorFlow. It holds what tf1_graph/logistic_regression.py and
tf2_eager/logistic_regression.py share:
- `load`: scikit-learn's Wisconsin breast-cancer data (569 rows, 30
  features, shipped inside the scikit-learn package, so no download), split
  into the first `train_rows` rows for training and the rest for testing,
  with min-max scaling fitted on the training rows;
- `full_batches` and `minibatch_indices`: the rows of each training step,
  the minibatch order shuffled per epoch, so both sides see the same
  batches in the same order;
- `predict`, `accuracy`, `confusion_matrix` and `precision_recall` on 0/1
  labels.
"""

import math
import time
from typing import Any, Callable

import numpy as np
from sklearn import datasets

from runtime import confusion
from runtime import reporting
from runtime import errors

NUM_FEATURES = 30
# Both sides clip probabilities to [CLIP_EPSILON, 1 - CLIP_EPSILON] before the
# log of the cross-entropy. The notebook's bounds are not known; 1e-7 is the
# project's choice (Keras' backend epsilon), which keeps the loss finite when
# the sigmoid saturates.
CLIP_EPSILON = 1e-7
# Probabilities at or above this threshold are predicted as class 1.
THRESHOLD = 0.5


def load(train_rows: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's split: the first `train_rows` rows train, the rest test.

    The rows are taken in scikit-learn's order, without shuffling, so the
    split is the same on every machine.

    Args:
      train_rows: Number of training rows, in [1, 568] so both splits are
        non-empty.

    Returns:
      (train_x, train_y, test_x, test_y): features float64 [N, 30] min-max
      scaled with the training split's per-feature minimum and maximum, and
      labels float64 [N] of 0.0/1.0 (scikit-learn's coding: 0 malignant,
      1 benign). N is `train_rows` for train and 569 - `train_rows` for
      test.
    """
    bunch = datasets.load_breast_cancer()
    features = np.asarray(bunch.data, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.float64)
    if not 1 <= train_rows < len(features):
        raise errors.FixableError(
            f"train_rows must be in [1, {len(features) - 1}] so both splits have "
            f"rows, got {train_rows}."
        )
    train_x, test_x = features[:train_rows], features[train_rows:]
    # The scaling is fitted on the training rows only, as any preprocessing
    # must be: using the test rows' min/max would leak test information into
    # training. So test features can fall outside [0, 1].
    minimum = train_x.min(axis=0)
    span = train_x.max(axis=0) - minimum
    # A feature constant over the training rows would divide by zero; it
    # carries no information, so it is only shifted to 0.
    span[span == 0] = 1.0
    return (
        (train_x - minimum) / span,
        labels[:train_rows],
        (test_x - minimum) / span,
        labels[train_rows:],
    )


def check_training_data(train_x: np.ndarray, train_y: np.ndarray) -> None:
    """Raises ValueError unless train_x is float64 [n, 30] and train_y float64 [n].

    Both sides' trainers call it: a TF1 placeholder would silently convert
    float32 features to float64, so the dtype is checked before feeding.
    """
    for name, array in (("train_x", train_x), ("train_y", train_y)):
        if array.dtype != np.float64:
            raise errors.FixableError(
                f"{name} is {array.dtype}; pass float64 (as load() returns), which "
                "the 1e-12 comparison between sides needs."
            )
    if train_x.shape[1:] != (NUM_FEATURES,) or train_y.shape != train_x.shape[:1]:
        raise errors.FixableError(
            f"train_x must be [n, {NUM_FEATURES}] and train_y [n], got "
            f"{list(train_x.shape)} and {list(train_y.shape)}."
        )


def full_batches(cycles: int, count: int) -> list[np.ndarray]:
    """`cycles` batches of all `count` rows, int64 [count] each, for
    full-batch training (`cycles` >= 1)."""
    if cycles < 1:
        raise errors.FixableError(f"cycles must be >= 1, got {cycles}.")
    return [np.arange(count)] * cycles


def minibatch_indices(seed: int, epochs: int, batch_size: int, count: int) -> list[np.ndarray]:
    """The row indices of every minibatch step, epoch after epoch.

    Each epoch visits every row once, in the order
    np.random.default_rng([seed, epoch]).permutation(count), cut into
    consecutive batches; when batch_size does not divide count, the
    epoch's last batch is smaller.

    Args:
      seed: Seed of the shuffles.
      epochs: Number of epochs, >= 1.
      batch_size: Rows per batch, in [1, count].
      count: Number of training rows, >= 1.

    Returns:
      epochs * ceil(count / batch_size) int64 arrays of indices into the
      training rows.
    """
    if epochs < 1:
        raise errors.FixableError(f"epochs must be >= 1, got {epochs}.")
    if not 1 <= batch_size <= count:
        raise errors.FixableError(f"batch_size must be in [1, {count}] (the row count), got {batch_size}.")
    steps = []
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(count)
        steps.extend(order[start:start + batch_size] for start in range(0, count, batch_size))
    return steps


def training_batches(batch_size: int, steps: int, seed: int, count: int) -> list[np.ndarray]:
    """The batches of `steps` training steps, as the notebook's trainers cut them.

    batch_size == count is full-batch training (every step sees every row);
    a smaller batch_size is minibatch SGD over minibatch_indices, as many
    epochs as `steps` needs, cut at `steps`.
    """
    if batch_size == count:
        return full_batches(steps, count)
    if not 1 <= batch_size < count:
        raise errors.FixableError(
            f"batch_size must be in [1, {count}] (the training rows), got {batch_size}; "
            f"--batch_size={count} trains on the full batch."
        )
    epochs = math.ceil(steps / math.ceil(count / batch_size))
    return minibatch_indices(seed, epochs, batch_size, count)[:steps]


def run_logistic_regression(
    side: str,
    train: Callable[..., dict[str, Any]],
    batch_size: int,
    steps: int,
    seed: int,
) -> dict[str, Any]:
    """The notebook's logistic-regression run, as one side's train script does it.

    Args:
      side: "tf1_graph" or "tf2_eager".
      train: The side's trainer with its optimizer bound, called as
        train(train_x=, train_y=, batches=, eval_x=) and returning {"w", "b",
        "losses", "eval_probabilities"}.
      batch_size: Rows per step; the 500 training rows for full batches.
      steps: Number of training steps.
      seed: Seed of the minibatch order.

    Returns:
      reporting.run_metrics with the test accuracy on the 69 held-out rows
      and results holding the confusion matrix and per-class precision and
      recall.
    """
    train_x, train_y, test_x, test_y = load()
    batches = training_batches(batch_size, steps, seed, len(train_x))
    start = time.perf_counter()
    trained = train(train_x=train_x, train_y=train_y, batches=batches, eval_x=test_x)
    seconds = time.perf_counter() - start
    predictions = predict(trained["eval_probabilities"])
    test_accuracy = accuracy(test_y, predictions)
    matrix = confusion_matrix(test_y, predictions)
    per_class = precision_recall(test_y, predictions)
    return reporting.run_metrics(
        side=side,
        model="logistic_regression",
        dataset={"name": "breast_cancer", "train_size": len(train_x), "test_size": len(test_x),
                 "description": "scikit-learn load_breast_cancer, first 500 rows train, min-max "
                                "scaled with the training rows' min and max"},
        accuracy_trace={steps: test_accuracy},
        loss_trace=trained["losses"],
        seconds=seconds,
        checkpoint=None,
        weights={"logistic_regression/w": trained["w"], "logistic_regression/b": trained["b"]},
        results={
            "summary": (
                f"test accuracy {test_accuracy:.2%}, confusion matrix {matrix.tolist()} "
                "(rows true 0/1, columns predicted 0/1), precision/recall "
                + ", ".join(f"class {c} {p:.3f}/{r:.3f}" for c, (p, r) in per_class.items())
            ),
            "confusion_matrix": matrix.tolist(),
            "precision_recall": {str(c): list(pr) for c, pr in per_class.items()},
        },
    )


def predict(probabilities: np.ndarray) -> np.ndarray:
    """0/1 predictions, float64 [n], from probabilities of class 1, [n]."""
    return (np.asarray(probabilities) >= THRESHOLD).astype(np.float64)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of equal labels, in [0, 1], of two [n] 0/1 arrays."""
    y_true, y_pred = _check_labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts of (true class, predicted class) pairs.

    Args:
      y_true: True labels, [n] of 0/1 (any numeric dtype).
      y_pred: Predicted labels, [n] of 0/1.

    Returns:
      int64 [2, 2]: entry [i, j] counts rows of true class i predicted as j,
      so the rows sum to the class counts and the whole to n (scikit-learn's
      layout).
    """
    # The 0/1 check first, for its message pointing at predict().
    return confusion.confusion_matrix(*_check_labels(y_true, y_pred), num_classes=2)


def precision_recall(y_true: np.ndarray, y_pred: np.ndarray) -> dict[int, tuple[float, float]]:
    """Per-class precision and recall, each class in turn taken as positive.

    Precision of class c is the fraction of rows predicted c that are c;
    recall is the fraction of rows that are c predicted c. A class never
    predicted (or never present) gets precision (or recall) 0.0 rather than
    a division by zero, scikit-learn's zero_division=0.

    Args:
      y_true: True labels, [n] of 0/1.
      y_pred: Predicted labels, [n] of 0/1.

    Returns:
      {0: (precision, recall), 1: (precision, recall)}, floats in [0, 1].
    """
    matrix = confusion_matrix(y_true, y_pred)
    result = {}
    for c in (0, 1):
        predicted, actual = matrix[:, c].sum(), matrix[c, :].sum()
        result[c] = (
            float(matrix[c, c] / predicted) if predicted else 0.0,
            float(matrix[c, c] / actual) if actual else 0.0,
        )
    return result


def _check_labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays as int64 [n], after checking they are 0/1 and [n]."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise errors.FixableError(
            f"y_true and y_pred must be [n] arrays of the same length, got shapes "
            f"{list(y_true.shape)} and {list(y_pred.shape)}; flatten [n, 1] arrays."
        )
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all((labels == 0) | (labels == 1)):
            raise errors.FixableError(
                f"{name} must hold only 0 and 1; threshold probabilities with predict()."
            )
    return y_true.astype(np.int64), y_pred.astype(np.int64)
