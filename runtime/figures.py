"""Pictures of training runs, drawn with matplotlib into PNG files.

The documents show a picture at every stage, and so does this module, in
numpy and matplotlib only (never TensorFlow, like the rest of runtime):
- `plot_digits`: up to nine test digits, 3×3, with true and predicted
  labels; misclassified ones in red;
- `plot_weights`: a linear model's ten weight images on one diverging colour
  scale (red positive, blue negative);
- `plot_confusion_matrix`: counts of (true, predicted) digit pairs;
- `plot_curves`: one run's loss per step and test accuracy;
- `plot_parity`: the TF1 and TF2 runs overlaid, and |Δloss| per step on a
  log scale.
`write_run_figures` and `write_parity_figures` write the set for a train
script and for the parity command.

Each figure is a `matplotlib.figure.Figure` with its own Agg canvas, not
pyplot, so nothing depends on a display or on pyplot's global state, and
every PNG is exactly `SIZES[kind]` inches × `DPI` pixels: figures are saved
without bbox_inches="tight", which would crop them to their content.
mnist_data/__init__.py does not import this module, so importing the
package does not import matplotlib.
"""

import os
from typing import Any, Mapping, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np

from mnist_data import checks
from runtime import confusion
from runtime import reporting
from mnist_data.idx import NUM_CLASSES
from runtime import errors

DPI = 100
# Width and height in inches of each kind of figure.
SIZES = {
    "digits": (6.0, 6.6),
    "weights": (12.0, 5.2),
    "confusion_matrix": (7.5, 6.5),
    "curves": (11.0, 4.2),
    "parity": (16.0, 4.8),
}
GRID_SIDE = 3
MAX_DIGITS = GRID_SIDE * GRID_SIDE
# A log axis cannot show |Δloss| = 0; exact zeros are drawn at this value
# when no step has a positive difference to place them below.
ZERO_FLOOR = 1e-10
_WRONG_COLOUR = "tab:red"


def plot_digits(
    path: str,
    images: np.ndarray,
    true_labels: np.ndarray,
    predicted_labels: np.ndarray,
    title: str,
) -> None:
    """Draws up to nine digits in a 3×3 grid, each labelled "true t, predicted p".

    Misclassified digits get a red frame and red label, as Hvass-Labs'
    plot_example_errors singles them out.

    Args:
      path: The PNG file to write; its directory is created if needed.
      images: float [n, 784] pixel rows in [0, 1], 1 <= n <= 9.
      true_labels: int [n] class ids.
      predicted_labels: int [n] class ids.
      title: The figure's title.
    """
    images = _check_image_rows(images, "images")
    if not 1 <= len(images) <= MAX_DIGITS:
        raise errors.FixableError(
            f"plot_digits draws 1 to {MAX_DIGITS} digits (a {GRID_SIDE}×{GRID_SIDE} grid), "
            f"got {len(images)}; pass a slice such as images[:{MAX_DIGITS}]."
        )
    true_labels = _check_class_ids(true_labels, len(images), "true_labels")
    predicted_labels = _check_class_ids(predicted_labels, len(images), "predicted_labels")
    figure = _new_figure("digits")
    for position, axes in enumerate(figure.subplots(GRID_SIDE, GRID_SIDE).flat):
        if position >= len(images):
            axes.set_axis_off()
            continue
        wrong = true_labels[position] != predicted_labels[position]
        axes.imshow(
            images[position].reshape(checks.IMAGE_SIDE, checks.IMAGE_SIDE),
            cmap="binary",
            vmin=0.0,
            vmax=1.0,
        )
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_xlabel(
            f"true {true_labels[position]}, predicted {predicted_labels[position]}"
            + (" ✗" if wrong else ""),
            color=_WRONG_COLOUR if wrong else "black",
            fontweight="bold" if wrong else "normal",
        )
        if wrong:
            for spine in axes.spines.values():
                spine.set_edgecolor(_WRONG_COLOUR)
                spine.set_linewidth(3)
    figure.suptitle(title)
    _save(figure, path)


def plot_weights(path: str, weights: np.ndarray, title: str) -> None:
    """Draws a linear model's weights as ten 28×28 images, one per digit.

    All ten share one colour scale symmetric about 0 (red positive, blue
    negative), so a colour means the same weight in every panel, and white
    is exactly 0.

    Args:
      path: The PNG file to write.
      weights: float [784, 10], the weights of logits = images @ weights + b.
      title: The figure's title.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (checks.IMAGE_PIXELS, NUM_CLASSES):
        raise errors.FixableError(
            f"weights must be [{checks.IMAGE_PIXELS}, {NUM_CLASSES}] (a linear model's "
            f"pixel-to-logit matrix), got {list(weights.shape)}; only softmax_regression "
            "has weight images."
        )
    # A zero matrix (e.g. zeros-initialised and untrained) would make the
    # scale empty; any positive limit then shows it as uniform white.
    limit = float(np.max(np.abs(weights))) or 1.0
    figure = _new_figure("weights")
    panels = figure.subplots(2, NUM_CLASSES // 2)
    for digit, axes in enumerate(panels.flat):
        image = axes.imshow(
            weights[:, digit].reshape(checks.IMAGE_SIDE, checks.IMAGE_SIDE),
            cmap="seismic",
            vmin=-limit,
            vmax=limit,
        )
        axes.set_title(f"weights of {digit}")
        axes.set_xticks([])
        axes.set_yticks([])
    figure.colorbar(image, ax=panels, label="weight (red > 0, blue < 0)", shrink=0.9)
    figure.suptitle(title)
    _save(figure, path)


def plot_confusion_matrix(
    path: str, true_labels: np.ndarray, predicted_labels: np.ndarray, title: str
) -> np.ndarray:
    """Draws the ten-digit confusion matrix with its count in every cell.

    Args:
      path: The PNG file to write.
      true_labels: int [n] class ids.
      predicted_labels: int [n] class ids.
      title: The figure's title; the count and accuracy are appended.

    Returns:
      The matrix drawn, int64 [10, 10], rows true and columns predicted.
    """
    matrix = confusion.confusion_matrix(true_labels, predicted_labels, NUM_CLASSES)
    total = int(matrix.sum())
    figure = _new_figure("confusion_matrix")
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    # White text on the darkest cells, black elsewhere, so every count reads.
    dark = matrix.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(
            column, row, str(count), ha="center", va="center", fontsize=8,
            color="white" if count > dark else "black",
        )
    axes.set_xticks(range(NUM_CLASSES))
    axes.set_yticks(range(NUM_CLASSES))
    axes.set_xlabel("predicted digit")
    axes.set_ylabel("true digit")
    figure.colorbar(image, ax=axes, label="test digits")
    figure.suptitle(
        f"{title}\n{total:,} test digits, {np.trace(matrix) / total:.2%} on the diagonal"
    )
    _save(figure, path)
    return matrix


def plot_curves(path: str, metrics: Mapping[str, Any], title: str) -> None:
    """Draws one run's training loss per step and its test accuracy.

    Args:
      path: The PNG file to write.
      metrics: A train() result; uses loss_trace (the loss of each step,
        before its update) and accuracy_trace ({step: accuracy in [0, 1]}).
      title: The figure's title.
    """
    losses, accuracies = _check_traces(metrics, "metrics")
    figure = _new_figure("curves")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    _plot_losses(loss_axes, {"": losses})
    _label(
        loss_axes, "training loss (before the step's update)", "loss",
        _nonfinite_notes({"": losses}),
    )
    steps = sorted(accuracies)
    accuracy_axes.plot(steps, [100 * accuracies[step] for step in steps], marker="o")
    _show_every_step(accuracy_axes, len(losses))
    _label(accuracy_axes, "test accuracy", "accuracy (%)")
    figure.suptitle(title)
    _save(figure, path)


def plot_parity(
    path: str, tf1_metrics: Mapping[str, Any], tf2_metrics: Mapping[str, Any], title: str
) -> None:
    """Overlays the TF1 and TF2 runs and draws |Δloss| per step, log scale.

    Exact zeros of |Δloss|, the usual result in matched mode, cannot sit on a
    log axis: they are drawn at a floor below every positive difference
    (ZERO_FLOOR when there is none), in their own colour, and a note in the
    panel gives their count and the floor. Steps where a loss is NaN or
    infinite are counted in a note too, not silently left out.

    Args:
      path: The PNG file to write.
      tf1_metrics: The TF1 run; uses loss_trace and accuracy_trace, as in
        plot_curves.
      tf2_metrics: The TF2 run, with a loss_trace as long as TF1's.
      title: The figure's title.
    """
    tf1_losses, tf1_accuracies = _check_traces(tf1_metrics, "tf1_metrics")
    tf2_losses, tf2_accuracies = _check_traces(tf2_metrics, "tf2_metrics")
    if len(tf1_losses) != len(tf2_losses):
        raise errors.FixableError(
            f"The two runs must have the same number of steps to compare losses, got "
            f"{len(tf1_losses)} (tf1_metrics) and {len(tf2_losses)} (tf2_metrics) "
            "loss_trace entries; run both sides with the same --steps."
        )
    steps = np.arange(len(tf1_losses))
    figure = _new_figure("parity")
    loss_axes, accuracy_axes, difference_axes = figure.subplots(1, 3)
    _plot_losses(loss_axes, {"tf1_graph": tf1_losses, "tf2_eager": tf2_losses})
    _label(
        loss_axes, "training loss", "loss",
        _nonfinite_notes({"tf1_graph": tf1_losses, "tf2_eager": tf2_losses}),
    )
    for name, accuracies, marker, linestyle in (
        ("tf1_graph", tf1_accuracies, "o", "-"),
        ("tf2_eager", tf2_accuracies, "x", "--"),
    ):
        eval_steps = sorted(accuracies)
        accuracy_axes.plot(
            eval_steps, [100 * accuracies[step] for step in eval_steps],
            marker=marker, linestyle=linestyle, label=name,
        )
    _show_every_step(accuracy_axes, len(steps))
    _label(accuracy_axes, "test accuracy", "accuracy (%)")
    _plot_loss_difference(difference_axes, steps, np.abs(tf1_losses - tf2_losses))
    figure.suptitle(title)
    _save(figure, path)


def write_run_figures(
    plots_dir: str,
    metrics: Mapping[str, Any],
    test_images: np.ndarray,
    test_labels: np.ndarray,
    predictions: np.ndarray,
    weights: Optional[np.ndarray] = None,
) -> list[str]:
    """Writes one run's figures into plots_dir, each named after its side.

    Files (SIDE is metrics["side"], so both train scripts can share a
    directory): SIDE_digits.png (the first nine test digits),
    SIDE_errors.png (the first nine misclassified ones; left out when there
    are none), SIDE_confusion_matrix.png, SIDE_curves.png and, with
    `weights`, SIDE_weights.png.

    Args:
      plots_dir: Directory to write into; created if needed.
      metrics: A train() result: side, model, loss_trace, accuracy_trace.
      test_images: float [n, 784], the test split the predictions are for.
      test_labels: int [n] true class ids.
      predictions: int [n] predicted class ids, argmax of the final model's
        logits on test_images.
      weights: float [784, 10] for a linear model, else None.

    Returns:
      The paths written, in the order above.
    """
    test_images = _check_image_rows(test_images, "test_images")
    test_labels = _check_class_ids(test_labels, len(test_images), "test_labels")
    predictions = _check_class_ids(predictions, len(test_images), "predictions")
    name = f"{metrics['side']} {metrics['model']}"
    paths = {kind: os.path.join(plots_dir, f"{metrics['side']}_{kind}.png") for kind in (
        "digits", "errors", "confusion_matrix", "curves", "weights")}
    plot_digits(
        paths["digits"], test_images[:MAX_DIGITS], test_labels[:MAX_DIGITS],
        predictions[:MAX_DIGITS], f"{name}: the first {MAX_DIGITS} test digits",
    )
    written = [paths["digits"]]
    wrong = np.flatnonzero(test_labels != predictions)[:MAX_DIGITS]
    if len(wrong):
        plot_digits(
            paths["errors"], test_images[wrong], test_labels[wrong], predictions[wrong],
            f"{name}: the first misclassified test digits",
        )
        written.append(paths["errors"])
    plot_confusion_matrix(paths["confusion_matrix"], test_labels, predictions, name)
    plot_curves(paths["curves"], metrics, name)
    written += [paths["confusion_matrix"], paths["curves"]]
    if weights is not None:
        plot_weights(paths["weights"], weights, f"{name}: weights after {metrics['steps']} steps")
        written.append(paths["weights"])
    return written


def write_parity_figures(
    plots_dir: str, tf1_metrics: Mapping[str, Any], tf2_metrics: Mapping[str, Any]
) -> list[str]:
    """Writes plots_dir/parity.png (see plot_parity) and returns its path.

    Args:
      plots_dir: Directory to write into; created if needed.
      tf1_metrics: The TF1 run: loss_trace, accuracy_trace and, for the
        title, model when present.
      tf2_metrics: The TF2 run, the same keys.
    """
    path = os.path.join(plots_dir, "parity.png")
    model = tf1_metrics.get("model", "")
    plot_parity(path, tf1_metrics, tf2_metrics, f"{model} tf1_graph vs tf2_eager".strip())
    return [path]


def _new_figure(kind: str) -> Figure:
    """A figure of SIZES[kind] on its own Agg canvas; constrained layout keeps
    titles and colour bars inside the fixed size."""
    figure = Figure(figsize=SIZES[kind], dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str) -> None:
    """Writes the PNG through a temporary file and a rename, so a full disk
    or an interrupt never leaves a truncated figure.

    Raises:
      reporting.OutputError: If the directory cannot be written (a file in
        its place, read-only, full), naming the fix.
    """
    if not reporting.is_remote(path):
        directory = os.path.dirname(os.path.abspath(path))
        reporting.check_directory_target(directory, "the figures", "--plots_dir", must_be_empty=False)
    reporting.write_file_atomically(
        path, lambda file: figure.savefig(file, dpi=DPI, format="png"), binary=True,
        what="the figure", flag="--plots_dir")


def _label(axes, title: str, y_label: str, notes: Sequence[str] = ()) -> None:
    """Titles and labels a panel. Notes go under the x label, where they can
    never hide a point or the legend."""
    axes.set_title(title)
    axes.set_xlabel("\n".join(["step (updates applied)", *notes]))
    axes.set_ylabel(y_label)
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend()


def _plot_losses(axes, losses: Mapping[str, np.ndarray]) -> None:
    """Draws loss traces over the run's every step; a second trace is dashed,
    so where the two are equal both stay visible. Unnamed traces get no
    legend entry."""
    for linestyle, (name, trace) in zip(("-", "--"), losses.items()):
        # Where some losses are NaN, a finite step can have no finite
        # neighbour and so no line segment; a marker keeps it visible.
        marker = None if np.isfinite(trace).all() else "."
        axes.plot(
            np.arange(len(trace)), trace, linewidth=1, linestyle=linestyle, marker=marker,
            label=name or None,
        )
    _show_every_step(axes, max(len(trace) for trace in losses.values()))


def _show_every_step(axes, steps: int) -> None:
    """Spans the x axis from step 0 to the evaluation after the last step,
    even where nothing is drawn, with a margin so end points stay inside."""
    margin = 0.02 * steps
    axes.set_xlim(-margin, steps + margin)


def _plot_loss_difference(axes, steps: np.ndarray, difference: np.ndarray) -> None:
    """|Δloss| on a log axis, exact zeros at a floor, with a note counting them."""
    finite = np.isfinite(difference)
    positive = finite & (difference > 0)
    zero = difference == 0
    # One decade below the smallest positive difference, so zeros sit
    # visibly apart from every real difference.
    floor = (
        10.0 ** (np.floor(np.log10(difference[positive].min())) - 1)
        if positive.any() else ZERO_FLOOR
    )
    axes.set_yscale("log")
    _show_every_step(axes, len(steps))
    if positive.any():
        axes.plot(
            steps[positive], difference[positive], linestyle="none", marker=".",
            markersize=3, label="|Δloss| > 0",
        )
    notes = []
    if zero.any():
        # Downward triangles: the true value is below the floor, at 0.
        axes.plot(
            steps[zero], np.full(zero.sum(), floor), linestyle="none", marker="v",
            markersize=3, color="tab:green", label=f"|Δloss| = 0, drawn at {floor:.0e}",
        )
        notes.append(
            f"|Δloss| = 0 exactly at {zero.sum():,} of {len(steps):,} steps, drawn at "
            f"{floor:.0e}:\na log axis cannot show 0"
        )
    if not finite.all():
        notes.append(f"not drawn: {(~finite).sum():,} steps with a NaN or infinite loss")
    _label(axes, "|Δloss| per step, tf1_graph vs tf2_eager (log)", "|Δloss|", notes)


def _nonfinite_notes(losses: Mapping[str, np.ndarray]) -> list[str]:
    """For each trace with NaN or infinite losses, which matplotlib leaves out
    of a line unsaid, a note with their count and the first such step."""
    notes = []
    for name, trace in losses.items():
        bad = np.flatnonzero(~np.isfinite(trace))
        if len(bad):
            notes.append(
                f"{name + ': ' if name else ''}loss not finite (not drawn) at "
                f"{len(bad):,} steps from step {bad[0]}"
            )
    return notes


def _check_image_rows(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != checks.IMAGE_PIXELS or not len(images):
        raise errors.FixableError(
            f"{name} must be [n, {checks.IMAGE_PIXELS}] pixel rows with n >= 1 (as "
            "Dataset.test_images), "
            f"got {list(images.shape)}; reshape 28×28 images with .reshape(-1, 784)."
        )
    return images


def _check_class_ids(labels: np.ndarray, count: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (count,):
        raise errors.FixableError(
            f"{name} must be [{count}] class ids, one per image, got shape "
            f"{list(labels.shape)}; pass argmax(logits, axis=1) rather than logits "
            "or one-hot rows."
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise errors.FixableError(
            f"{name} must be integer class ids in [0, {NUM_CLASSES}), got dtype "
            f"{labels.dtype} with values in [{labels.min()}, {labels.max()}]."
        )
    return labels


def _check_traces(
    metrics: Mapping[str, Any], name: str
) -> tuple[np.ndarray, dict[int, float]]:
    """The loss trace as float64 [steps] and the accuracy trace of a run."""
    missing = [key for key in ("loss_trace", "accuracy_trace") if key not in metrics]
    if missing:
        raise errors.FixableError(
            f"{name} lacks {missing}; pass the dict train() returns, or one with "
            "loss_trace [steps] and accuracy_trace {step: accuracy}."
        )
    losses = np.asarray(metrics["loss_trace"], dtype=np.float64)
    accuracies = {int(step): float(value) for step, value in metrics["accuracy_trace"].items()}
    if losses.ndim != 1 or not len(losses) or not accuracies:
        raise errors.FixableError(
            f"{name} needs a non-empty loss_trace list, got shape {list(losses.shape)}, "
            f"and a non-empty accuracy_trace, got {len(accuracies)} entries."
        )
    return losses, accuracies
