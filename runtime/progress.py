"""Training progress as a person reads it: a bar on a terminal, lines in a log.

Both sides' progress hooks (tf1_graph/run_hooks.py, tf2_eager/hooks.py) call
`make_progress`, then `step_done` after every step with its loss and, when
the step was evaluated, its test accuracy. On a terminal that is Keras'
Progbar: the running mean loss since the start, the time per step, the ETA
and the last test accuracy, redrawn in place. In a log file, a pipe or with
--quiet, it is the plain lines of ProgressLogger, at most one every few
seconds, one per evaluation, and one at the end.
"""

import sys
import time
from typing import Callable, Optional, Protocol

from absl import logging


class Progress(Protocol):
    """What a progress hook reports to."""

    def step_done(self, step: int, loss: float, test_accuracy: Optional[float] = None) -> None:
        """Call after training step `step` (1-based)."""


class ProgressLogger:
    """Logs step, loss, examples/s and an ETA at most every few seconds.

    An evaluated step logs its test accuracy as it happens. The last step
    logs a summary line instead (steps, mean examples/s, final loss), so
    even a short run prints one line. With `quiet`, nothing is
    logged.
    """

    def __init__(
        self,
        side: str,
        total_steps: int,
        batch_size: int,
        every_seconds: float = 5.0,
        clock: Callable[[], float] = time.perf_counter,
        quiet: bool = False,
        start_step: int = 0,
    ):
        """Starts the clock.

        Args:
          side: "tf1_graph" or "tf2_eager", the start of every line.
          total_steps: The run's last step, for the ETA.
          batch_size: Examples per step, for examples/s.
          every_seconds: Least time between two progress lines.
          clock: Seconds from an arbitrary origin (tests pass a fake).
          quiet: Log nothing (the --quiet flag).
          start_step: The step a resumed run starts after.
        """
        self._side = side
        self._total_steps = total_steps
        self._batch_size = batch_size
        self._every_seconds = every_seconds
        self._clock = clock
        self._quiet = quiet
        self._start = clock()
        self._start_step = start_step
        self._last_time = self._start
        self._last_step = start_step

    def step_done(self, step: int, loss: float, test_accuracy: Optional[float] = None) -> None:
        """Call after training step `step` (1-based) with its loss."""
        if self._quiet:
            return
        now = self._clock()
        if test_accuracy is not None and step < self._total_steps:
            logging.info("%s step %d: test accuracy %.2f%%", self._side, step, 100 * test_accuracy)
        if step >= self._total_steps:
            self._finish(step, loss, test_accuracy, now)
            return
        if now - self._last_time < self._every_seconds:
            return
        # examples/s over the last interval, which tracks a slowdown; the ETA
        # from the mean since the start, which is steadier.
        eta = (self._total_steps - step) * (now - self._start) / (step - self._start_step)
        logging.info(
            "%s step %d/%d  loss %.6g  %s examples/s  ETA %.0f s",
            self._side, step, self._total_steps, loss,
            _rate((step - self._last_step) * self._batch_size, now - self._last_time), eta,
        )
        self._last_time = now
        self._last_step = step

    def _finish(self, step: int, loss: float, test_accuracy: Optional[float], now: float) -> None:
        seconds = now - self._start
        accuracy = "" if test_accuracy is None else f", test accuracy {100 * test_accuracy:.2f}%"
        # The run's duration is the summary line's (reporting.finish_run),
        # so that one run reports one duration.
        logging.info(
            "%s done: %d steps, %s examples/s, final loss %.6g%s",
            self._side, step - self._start_step,
            _rate((step - self._start_step) * self._batch_size, seconds), loss, accuracy,
        )


class ProgressBar:
    """Keras' Progbar over the run's steps, for a terminal."""

    def __init__(self, side: str, total_steps: int, start_step: int = 0):
        # Imported here: Keras comes with TensorFlow, which the training
        # loops have loaded by now; the log-line path needs neither.
        from keras import utils as keras_utils

        print(f"{side}: steps {start_step + 1} to {total_steps}", file=sys.stdout)
        self._bar = keras_utils.Progbar(
            total_steps, stateful_metrics=["test accuracy"], unit_name="step")
        self._total_steps = total_steps
        if start_step:
            self._bar.update(start_step)

    def step_done(self, step: int, loss: float, test_accuracy: Optional[float] = None) -> None:
        values = [("loss", loss)]
        if test_accuracy is not None:
            values.append(("test accuracy", test_accuracy))
        self._bar.update(step, values, finalize=step >= self._total_steps)


def make_progress(
    side: str, total_steps: int, batch_size: int, quiet: bool, start_step: int = 0
) -> Progress:
    """A bar when standard output is a terminal, else log lines (none with
    `quiet`)."""
    if not quiet and sys.stdout.isatty():
        return ProgressBar(side, total_steps, start_step)
    return ProgressLogger(side, total_steps, batch_size, quiet=quiet, start_step=start_step)


def _rate(examples: int, seconds: float) -> str:
    """examples / seconds, rounded, or "-" when no time was measured."""
    return f"{examples / seconds:.0f}" if seconds > 0 else "-"
