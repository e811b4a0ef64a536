"""Tests for runtime.figures: real PNG files of the stated size.

The run figures are drawn from the embedded MNIST test split and a
nearest-class-mean classifier computed in numpy: a real linear model
(logits = images @ means.T - |means|² / 2), so the weights, the digits and
the confusion matrix are real without importing TensorFlow.
"""

import os
import struct
import warnings

import numpy as np
import pytest

import mnist_data
from runtime import figures
from runtime import reporting

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path: str) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    # IHDR is always the first chunk: 4-byte length, b"IHDR", width, height.
    assert header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def _expected_size(kind: str) -> tuple[int, int]:
    width, height = figures.SIZES[kind]
    return round(width * figures.DPI), round(height * figures.DPI)


@pytest.fixture(scope="module")
def nearest_mean_run():
    """(dataset, weights [784, 10], test predictions [10000]) of the nearest-mean classifier."""
    dataset = mnist_data.load_dataset("mnist_embedded")
    means = np.stack(
        [dataset.train_images[dataset.train_labels == digit].mean(axis=0) for digit in range(10)]
    )
    weights = means.T
    biases = -0.5 * np.sum(means**2, axis=1)
    predictions = np.argmax(dataset.test_images @ weights + biases, axis=1)
    return dataset, weights, predictions


def _metrics(losses, accuracy_trace, side="tf1_graph"):
    return {
        "side": side,
        "model": "softmax_regression",
        "steps": len(losses),
        "loss_trace": list(losses),
        "accuracy_trace": accuracy_trace,
    }


def test_run_figures_are_pngs_of_the_stated_size(nearest_mean_run, tmp_path):
    dataset, weights, predictions = nearest_mean_run
    metrics = _metrics([2.3, 1.1, 0.7, 0.5], {0: 0.098, 4: 0.8})

    paths = figures.write_run_figures(
        str(tmp_path), metrics, dataset.test_images, dataset.test_labels, predictions, weights
    )

    kinds = ["digits", "errors", "confusion_matrix", "curves", "weights"]
    assert paths == [str(tmp_path / f"tf1_graph_{kind}.png") for kind in kinds]
    for path, kind in zip(paths, kinds):
        size = _png_size(path)
        # The errors grid has the digits grid's size.
        assert size == _expected_size("digits" if kind == "errors" else kind), path


def test_errors_grid_is_left_out_when_no_digit_is_misclassified(nearest_mean_run, tmp_path):
    dataset, _, _ = nearest_mean_run

    paths = figures.write_run_figures(
        str(tmp_path), _metrics([0.5], {1: 1.0}, side="tf2_eager"),
        dataset.test_images, dataset.test_labels, dataset.test_labels,
    )

    assert [os.path.basename(path) for path in paths] == [
        "tf2_eager_digits.png", "tf2_eager_confusion_matrix.png", "tf2_eager_curves.png"
    ]


def test_confusion_matrix_counts_add_up_to_the_test_set(nearest_mean_run, tmp_path):
    dataset, _, predictions = nearest_mean_run
    path = str(tmp_path / "confusion.png")

    matrix = figures.plot_confusion_matrix(path, dataset.test_labels, predictions, "nearest mean")

    assert matrix.sum() == dataset.test_size == 10_000
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(dataset.test_labels, minlength=10))
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(predictions, minlength=10))
    assert np.trace(matrix) == np.sum(predictions == dataset.test_labels)
    # The nearest mean is a weak but real classifier: most digits on the diagonal.
    assert 0.7 < np.trace(matrix) / matrix.sum() < 0.95
    assert _png_size(path) == _expected_size("confusion_matrix")


@pytest.mark.parametrize(
    "tf2_losses",
    [
        pytest.param([2.3, 1.2, 0.8, 0.6], id="equal, every |Δloss| exactly 0"),
        pytest.param([2.3, 1.2000001, 0.79, 0.6], id="zeros and positive differences"),
        pytest.param([2.3, float("nan"), float("nan"), float("nan")], id="a side diverged"),
    ],
)
def test_parity_figure_draws_zero_and_nan_differences_without_warnings(tf2_losses, tmp_path):
    tf1 = _metrics([2.3, 1.2, 0.8, 0.6], {0: 0.1, 4: 0.85})
    tf2 = _metrics(tf2_losses, {0: 0.1, 4: 0.84}, side="tf2_eager")
    # A metrics file read back from JSON has string steps; the figure takes those too.
    tf2["accuracy_trace"] = reporting.metrics_for_json(tf2)["accuracy_trace"]

    # Zeros or NaN on a log axis would make matplotlib warn ("Data has no
    # positive values"); the floor must keep it silent.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = figures.write_parity_figures(str(tmp_path), tf1, tf2)

    assert paths == [str(tmp_path / "parity.png")]
    assert _png_size(paths[0]) == _expected_size("parity")


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda data, path: figures.plot_digits(
                path, data.test_images[:9].reshape(9, 28, 28), data.test_labels[:9],
                data.test_labels[:9], "t"),
            r"images must be \[n, 784\] pixel rows .* got \[9, 28, 28\]; reshape",
        ),
        (
            lambda data, path: figures.plot_digits(
                path, data.test_images[:10], data.test_labels[:10], data.test_labels[:10], "t"),
            r"draws 1 to 9 digits .* got 10",
        ),
        (
            lambda data, path: figures.plot_digits(
                path, data.test_images[:9], data.test_labels[:8], data.test_labels[:9], "t"),
            r"true_labels must be \[9\] class ids, one per image, got shape \[8\]",
        ),
        (
            lambda data, path: figures.write_run_figures(
                path, _metrics([1.0], {1: 0.5}), data.test_images, data.test_labels,
                np.eye(10)[data.test_labels]),
            r"predictions must be \[10000\] class ids.* got shape \[10000, 10\]; pass argmax",
        ),
        (
            lambda data, path: figures.plot_digits(
                path, data.test_images[:2], np.array([0, 10]), np.array([0, 1]), "t"),
            r"true_labels must be integer class ids in \[0, 10\), .* values in \[0, 10\]",
        ),
        (
            lambda data, path: figures.plot_weights(path, np.zeros((10, 784)), "t"),
            r"weights must be \[784, 10\] .* got \[10, 784\]",
        ),
        (
            lambda data, path: figures.write_parity_figures(
                path, _metrics([1.0, 0.5], {2: 0.5}), _metrics([1.0], {1: 0.5})),
            r"same number of steps .* got 2 \(tf1_metrics\) and 1 \(tf2_metrics\)",
        ),
        (
            lambda data, path: figures.plot_curves(path, {"accuracy_trace": {1: 0.5}}, "t"),
            r"metrics lacks \['loss_trace'\]",
        ),
        (
            lambda data, path: figures.plot_curves(path, _metrics([], {}), "t"),
            r"non-empty loss_trace .* got shape \[0\]",
        ),
    ],
)
def test_bad_inputs_raise_value_error_naming_what_was_expected(
    call, message, nearest_mean_run, tmp_path
):
    dataset, _, _ = nearest_mean_run
    path = str(tmp_path / "figure.png")

    with pytest.raises(ValueError, match=message):
        call(dataset, path)

    assert not os.listdir(tmp_path)
