"""The confusion matrix of class predictions, in numpy.

Framework-neutral like the rest of mnist_data: importing it never imports
TensorFlow. runtime/figures.py draws it for the ten digits, and
mnist_data/breast_cancer.py uses it for its two classes.
"""

import numpy as np
from runtime import errors


def confusion_matrix(
    true_labels: np.ndarray, predicted_labels: np.ndarray, num_classes: int
) -> np.ndarray:
    """Counts of (true class, predicted class) pairs.

    Args:
      true_labels: True class ids, [n] integers (or integral floats) in
        [0, num_classes).
      predicted_labels: Predicted class ids, [n], in the same range.
      num_classes: Number of classes, >= 1.

    Returns:
      int64 [num_classes, num_classes]: entry [i, j] counts examples of true
      class i predicted as j, so row i sums to the count of class i and the
      whole to n (scikit-learn's layout).
    """
    true_labels, predicted_labels = np.asarray(true_labels), np.asarray(predicted_labels)
    if true_labels.ndim != 1 or true_labels.shape != predicted_labels.shape:
        raise errors.FixableError(
            "true_labels and predicted_labels must be [n] arrays of the same length, "
            f"got shapes {list(true_labels.shape)} and {list(predicted_labels.shape)}; "
            "pass class ids, e.g. np.argmax(logits, axis=1), not one-hot rows."
        )
    for name, labels in (("true_labels", true_labels), ("predicted_labels", predicted_labels)):
        if not np.all((labels >= 0) & (labels < num_classes) & (labels == np.round(labels))):
            raise errors.FixableError(
                f"{name} must hold integer class ids in [0, {num_classes}); "
                "pass np.argmax(outputs, axis=1) rather than scores or probabilities."
            )
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true_labels.astype(np.int64), predicted_labels.astype(np.int64)), 1)
    return matrix
