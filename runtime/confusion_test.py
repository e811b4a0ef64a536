"""Tests for runtime.confusion.confusion_matrix."""

import numpy as np
import pytest

from runtime import confusion


def test_counts_match_a_hand_count():
    true_labels = np.array([0, 0, 1, 2, 2, 2])
    predicted_labels = np.array([0, 1, 1, 2, 0, 2])

    matrix = confusion.confusion_matrix(true_labels, predicted_labels, num_classes=4)

    np.testing.assert_array_equal(
        matrix, [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    )
    assert matrix.dtype == np.int64


def test_integral_floats_count_like_integers():
    # The breast-cancer labels are float64 0.0/1.0.
    matrix = confusion.confusion_matrix(np.array([0.0, 1.0, 1.0]), np.array([1.0, 1.0, 0.0]), 2)

    np.testing.assert_array_equal(matrix, [[0, 1], [1, 1]])


@pytest.mark.parametrize(
    "true_labels, predicted_labels, message",
    [
        (np.array([0, 1, 2]), np.array([0, 1]), r"same length, got shapes \[3\] and \[2\]"),
        (np.array([0, 1]), np.eye(3)[[0, 1]], r"not one-hot rows"),
        (np.array([0, 3]), np.array([0, 1]), r"true_labels must hold integer class ids in \[0, 3\)"),
        (np.array([0, 1]), np.array([0.2, 0.9]), r"predicted_labels must hold integer class ids"),
        (np.array([0, -1]), np.array([0, 1]), r"true_labels must hold integer class ids"),
    ],
)
def test_rejects_labels_that_are_not_class_ids(true_labels, predicted_labels, message):
    with pytest.raises(ValueError, match=message):
        confusion.confusion_matrix(true_labels, predicted_labels, num_classes=3)
