"""Progress lines and metrics files, shared by both sides' train scripts."""

import contextlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Iterator, Optional

from absl import logging

# TensorBoard tags of the scalar summaries both sides write
# (tf1_graph/summaries.py, tf2_eager/summaries.py), so the two runs overlay.
# Each sits under a name scope: TF1's tf.compat.v1.summary.scalar makes the
# tag from the op's name scope, and a bare "loss" would come out as "loss_1"
# next to the classifier's own "loss" scope.
LOSS_TAG = "train/loss"
LEARNING_RATE_TAG = "train/learning_rate"
TEST_ACCURACY_TAG = "test/accuracy"


class ProgressLogger:
    """Logs step, loss, examples/s and an ETA at most every few seconds.

    The last step logs a summary line instead (steps, seconds, mean
    examples/s, final loss), so even a short run prints one line. With
    `quiet`, nothing is logged.
    """

    def __init__(
        self,
        side: str,
        total_steps: int,
        batch_size: int,
        every_seconds: float = 5.0,
        clock: Callable[[], float] = time.perf_counter,
        quiet: bool = False,
    ):
        """Starts the clock.

        Args:
          side: "tf1_graph" or "tf2_eager", the start of every line.
          total_steps: Steps of the run, for the ETA.
          batch_size: Examples per step, for examples/s.
          every_seconds: Least time between two progress lines.
          clock: Seconds from an arbitrary origin (tests pass a fake).
          quiet: Log nothing (the --quiet flag).
        """
        self._side = side
        self._total_steps = total_steps
        self._batch_size = batch_size
        self._every_seconds = every_seconds
        self._clock = clock
        self._quiet = quiet
        self._start = clock()
        self._last_time = self._start
        self._last_step = 0

    def step_done(self, step: int, loss: float) -> None:
        """Call after training step `step` (1-based) with its loss."""
        if self._quiet:
            return
        now = self._clock()
        if step >= self._total_steps:
            seconds = now - self._start
            logging.info(
                "%s done: %d steps in %.1f s, %s examples/s, final loss %.6g",
                self._side,
                step,
                seconds,
                _rate(step * self._batch_size, seconds),
                loss,
            )
            return
        if now - self._last_time < self._every_seconds:
            return
        # examples/s over the last interval, which tracks a slowdown; the ETA
        # from the mean since the start, which is steadier.
        eta = (self._total_steps - step) * (now - self._start) / step
        logging.info(
            "%s step %d/%d  loss %.6g  %s examples/s  ETA %.0f s",
            self._side,
            step,
            self._total_steps,
            loss,
            _rate((step - self._last_step) * self._batch_size, now - self._last_time),
            eta,
        )
        self._last_time = now
        self._last_step = step


def _rate(examples: int, seconds: float) -> str:
    """examples / seconds, rounded, or "-" when no time was measured."""
    return f"{examples / seconds:.0f}" if seconds > 0 else "-"


def write_json(path: str, payload: Any, *, indent: Optional[int] = 2) -> None:
    """Writes `payload` as JSON atomically: a temporary file, then a rename.

    A crash mid-write leaves the previous file (if any) intact rather than a
    truncated one.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    file_descriptor, temporary_path = tempfile.mkstemp(
        dir=directory, prefix=".tmp-", suffix=".json"
    )
    try:
        with os.fdopen(file_descriptor, "w") as file:
            json.dump(payload, file, indent=indent, sort_keys=True)
            file.write("\n")
        os.replace(temporary_path, path)
    except BaseException:
        os.unlink(temporary_path)
        raise


def run_metrics(
    *,
    side: str,
    model: str,
    dataset: dict[str, Any],
    accuracy_trace: dict[int, float],
    loss_trace: list[float],
    seconds: float,
    checkpoint: Optional[str],
    weights: dict[str, Any],
    results: Optional[dict[str, Any]] = None,
    test_predictions: Optional[Any] = None,
) -> dict[str, Any]:
    """The result of one training run, the same shape on both sides.

    Args:
      side: "tf1_graph" or "tf2_eager".
      model: The model's name.
      dataset: A description of the data, with at least "name",
        "train_size" and "test_size" (Dataset.describe() for MNIST).
      accuracy_trace: {step: test accuracy}; its last step is the final one.
        Empty for a model without a test accuracy (multiply, linear
        regression), whose test_accuracy is then None.
      loss_trace: The loss of every step, before that step's update; empty
        for a model that does not train (multiply).
      seconds: Wall time of the training loop.
      checkpoint: Path of the checkpoint written, or None.
      weights: {variable name: final value}; for multiply, which has no
        variables, its output, so that parity compares it the same way.
      results: JSON-serialisable findings particular to the model (a
        confusion matrix, a gradient check), with a one-line "summary"
        that the train scripts print instead of the test accuracy.
      test_predictions: The final model's predicted class of every test
        example, int64 [n], for the figures; None for the standalone models.
    """
    return {
        "side": side,
        "model": model,
        "dataset": dataset,
        "steps": len(loss_trace),
        "test_accuracy": accuracy_trace[max(accuracy_trace)] if accuracy_trace else None,
        "accuracy_trace": accuracy_trace,
        "final_loss": loss_trace[-1] if loss_trace else None,
        "loss_trace": loss_trace,
        "seconds": seconds,
        "checkpoint": checkpoint,
        "weights": weights,
        "results": results or {},
        "test_predictions": test_predictions,
    }


def metrics_for_json(metrics: dict[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable part of a train() result (weights and
    predictions left out)."""
    serialisable = {
        key: value for key, value in metrics.items()
        if key not in ("weights", "test_predictions")
    }
    serialisable["accuracy_trace"] = {
        str(step): accuracy for step, accuracy in metrics["accuracy_trace"].items()
    }
    return serialisable


def finish_run(metrics: dict[str, Any], json_path: Optional[str]) -> None:
    """Logs the accuracy trace, prints the summary line, writes the JSON."""
    if metrics["accuracy_trace"]:
        trace = ", ".join(
            f"{step}: {accuracy:.2%}" for step, accuracy in metrics["accuracy_trace"].items()
        )
        logging.info("%s accuracy trace (step: test accuracy): %s", metrics["side"], trace)
    if "summary" in metrics["results"]:
        summary = metrics["results"]["summary"]
    else:
        summary = f"test accuracy {metrics['test_accuracy']:.2%}"
    if metrics["steps"]:
        summary += f" after {metrics['steps']} steps"
    print(
        f"{metrics['side']} {metrics['model']} on {metrics['dataset']['name']}: "
        f"{summary} ({metrics['seconds']:.1f} s)"
    )
    if json_path:
        write_json(json_path, metrics_for_json(metrics))


@contextlib.contextmanager
def exit_with_message_on(*error_types: type[BaseException]) -> Iterator[None]:
    """In a program's main: turns the expected errors (bad data, a bad
    configuration, a diverged loss) into one line on stderr and exit code 1,
    rather than a traceback; anything else still shows its traceback."""
    try:
        yield
    except error_types as error:
        sys.exit(f"error: {error}")
