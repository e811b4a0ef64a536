"""The services of a TF1 training run, each written once as a hook.

Progress lines, test evaluation, the stop on a non-finite loss, checkpoints
with their run state, and TensorBoard summaries are the same on one device,
on towers and on a cluster worker; tf1_graph/session_loop.py calls every
hook of its run at the same points:

    hook.begin(session, record)              # before the first step
    fetches = hook.before_run()              # tensors to add to each step's run
    hook.after_run(session, step, results, record)
    hook.end(session, record)                # after the last step (and the peers')
    hook.close()                             # always, also when a step failed

This is the shape of TF1's tf.compat.v1.train.SessionRunHook, written as a
small protocol of its own rather than subclasses of it: a SessionRunHook
hands fetches through SessionRunArgs and SessionRunValues and is driven by a
MonitoredSession, whose own initialisation and recovery would replace the
explicit ones the runs need (numpy initial values, resume only under
--resume, a cluster chief's restore), and whose wrapped session.run would
fire every hook again on each evaluation run. Here a hook gets the 0-based
global step and the run's traces directly.
"""

import dataclasses
import os
from typing import Any, Callable, Optional, Sequence

import tensorflow as tf

from mnist_data import checks
from runtime import progress
from runtime import run_directory
from tf1_graph import summaries as tf1_summaries
from tf1_graph import weights


@dataclasses.dataclass
class RunRecord:
    """What a run has recorded so far; the hooks read and extend it.

    Attributes:
      start_step: The global step the run started (or resumed) at.
      loss_trace: The loss of every step this process knows of, before its
        update: a resumed run's starts with the saved steps' losses.
      accuracy_trace: {step: test accuracy}.
      checkpoint: Path of the latest checkpoint written or resumed from.
    """

    start_step: int
    loss_trace: list[float]
    accuracy_trace: dict[int, float]
    checkpoint: Optional[str] = None


class Hook:
    """A service of the training loop; every method does nothing by default."""

    def begin(self, session: tf.compat.v1.Session, record: RunRecord) -> None:
        """Called once, before the first step."""

    def before_run(self) -> dict[str, Any]:
        """Tensors to fetch with the step's loss and train op, by name."""
        return {}

    def after_run(
        self, session: tf.compat.v1.Session, step: int, results: dict[str, Any], record: RunRecord
    ) -> None:
        """Called after 0-based step `step`, whose loss record.loss_trace ends
        with; `results` holds every hook's fetched values by name."""

    def end(self, session: tf.compat.v1.Session, record: RunRecord) -> None:
        """Called once after the last step, when every peer has finished."""

    def close(self) -> None:
        """Releases files; called however the run stops."""


class ProgressHook(Hook):
    """Shows progress (runtime.progress): a bar on a terminal, else log
    lines; none with --quiet. It comes after EvaluationHook, so an evaluated
    step's test accuracy is shown with it."""

    def __init__(self, label: str, steps_to_run: int, batch_size: int, quiet: bool):
        self._progress = progress.make_progress(label, steps_to_run, batch_size, quiet)
        self._count = 0

    def after_run(self, session, step, results, record) -> None:
        self._count += 1
        self._progress.step_done(
            self._count, record.loss_trace[-1], record.accuracy_trace.get(step + 1))


class NonFiniteLossHook(Hook):
    """Stops the run with checks.NonFiniteLossError at a NaN or infinite
    loss, and at non-finite weights after the last update (whose loss no
    step computes), before the final checkpoint would keep them."""

    def __init__(self, loss_form: str, trainable: Sequence[tf.Variable]):
        self._loss_form = loss_form
        self._trainable = trainable

    def after_run(self, session, step, results, record) -> None:
        checks.check_finite_loss(record.loss_trace[-1], step, self._loss_form)

    def end(self, session, record) -> None:
        checks.check_finite_weights(weights.read(session, self._trainable), len(record.loss_trace))



class SummaryHook(Hook):
    """Writes the TensorBoard scalars of tf1_graph/summaries.py to an event file.

    The train step's loss and learning rate are fetched with the step; test
    accuracies come from EvaluationHook, which calls `write_test_accuracy`.
    """

    def __init__(self, logdir: str, summaries: tf1_summaries.Summaries, graph: tf.Graph):
        self._summaries = summaries
        self._writer = tf1_summaries.SummaryWriter(logdir, summaries, graph)

    def before_run(self) -> dict[str, Any]:
        return {"train_summary": self._summaries.train_step}

    def after_run(self, session, step, results, record) -> None:
        self._writer.train_step(step, results["train_summary"])

    def write_test_accuracy(self, session: tf.compat.v1.Session, step: int, accuracy: float) -> None:
        self._writer.test_accuracy(session, step, accuracy)

    def close(self) -> None:
        self._writer.close()


class EvaluationHook(Hook):
    """Records the test accuracy after the eval steps and at the end.

    Args:
      evaluate: The test accuracy of the session's current weights.
      eval_steps: After which steps (step + 1; 0 is before training) this
        process evaluates during the loop.
      final_step: The run's last step, always recorded by `end`.
      summaries: Where to write each accuracy too, or None.
    """

    def __init__(
        self,
        evaluate: Callable[[tf.compat.v1.Session], float],
        eval_steps: Sequence[int],
        final_step: int,
        summaries: Optional[SummaryHook],
    ):
        self._evaluate = evaluate
        self._eval_steps = set(eval_steps)
        self._final_step = final_step
        self._summaries = summaries

    def _record(self, session: tf.compat.v1.Session, step: int, record: RunRecord) -> None:
        record.accuracy_trace[step] = self._evaluate(session)
        if self._summaries:
            self._summaries.write_test_accuracy(session, step, record.accuracy_trace[step])

    def begin(self, session, record) -> None:
        if 0 in self._eval_steps and record.start_step == 0:
            self._record(session, 0, record)

    def after_run(self, session, step, results, record) -> None:
        if step + 1 in self._eval_steps:
            self._record(session, step + 1, record)

    def end(self, session, record) -> None:
        if self._final_step not in record.accuracy_trace:
            self._record(session, self._final_step, record)


class CheckpointHook(Hook):
    """Writes the run state, then a Saver checkpoint, into the run's directory.

    Every `every` steps during the loop (0: never) and at the end, unless
    the run resumed at its last step; runtime/run_directory.py says why
    the state comes first. The Saver writes absolute paths into the
    "checkpoint" state file; it is rewritten at once with the names alone,
    so a copied or moved run reads its own files, and the run states of the
    checkpoints the Saver deleted (max_to_keep) are deleted with them.
    """

    def __init__(self, saver: tf.compat.v1.train.Saver, side_dir: str, final_step: int, every: int):
        self._saver = saver
        self._side_dir = side_dir
        self._final_step = final_step
        self._every = every

    def save(self, session: tf.compat.v1.Session, step: int, record: RunRecord) -> str:
        """Checkpoints `step` (after its run state); returns the checkpoint's path."""
        run_directory.write_state(self._side_dir, step, record.loss_trace, record.accuracy_trace)
        record.checkpoint = self._saver.save(
            session, os.path.join(self._side_dir, "model.ckpt"), global_step=step
        )
        kept = self._saver.last_checkpoints
        tf.compat.v1.train.update_checkpoint_state(
            self._side_dir, os.path.basename(kept[-1]), [os.path.basename(path) for path in kept]
        )
        run_directory.prune_states(self._side_dir, kept)
        return record.checkpoint

    def after_run(self, session, step, results, record) -> None:
        if self._every and (step + 1) % self._every == 0 and step + 1 < self._final_step:
            self.save(session, step + 1, record)

    def end(self, session, record) -> None:
        if record.start_step < self._final_step:
            self.save(session, self._final_step, record)
