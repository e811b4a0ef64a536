"""The services of tf2_eager's one training loop, written once for every path.

tf2_eager.train.train runs one loop on one device or under any
tf.distribute strategy; everything around the steps (evaluation, summaries,
the NaN stop, progress lines, checkpoints and run state, the SavedModel,
figures) is a hook here, in the shape of a Keras callback:

    for hook in hooks: hook.on_train_begin(run)
    for each step:     hook.on_step_end(run, step, loss, learning_rate)
    at the end:        hook.on_train_end(run)

`Run` is the state they share. make_hooks picks the hooks a configuration
asks for, in the order they must run, so a flag means the same on every
path. Under a multi-worker strategy only the chief keeps what it writes:
the other workers save their checkpoints and SavedModel into temporary
directories that are deleted again (saving may need every worker, as
TensorFlow's multi-worker guide says), and write no summaries and figures.
"""

import dataclasses
import os
import shutil
import tempfile
from typing import Any, Callable, Optional

from absl import logging
import numpy as np
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from mnist_data import checks
from runtime import reporting
from runtime import progress
from runtime import run_directory
from tf2_eager import export
from tf2_eager import summaries as tf2_summaries
from tf2_eager import weights

SIDE = "tf2_eager"


@dataclasses.dataclass
class Run:
    """What the loop and its hooks share about one run.

    Attributes:
      config: The run's configuration.
      dataset: Its data.
      model: The model being trained.
      optimizer: Its optimizer.
      is_chief: Whether this process keeps the run's files (always, but for
        the non-chief workers of a multi-worker strategy).
      label: How progress lines name the run ("tf2_eager", or with the
        strategy and the replicas).
      side_dir: OUTPUT_DIR/tf2_eager, or None without an output_dir.
      start_step: The step the run starts at (a resumed run's checkpoint).
      loss_trace: Every step's loss, before its update.
      accuracy_trace: {step: test accuracy}.
      checkpoint: The latest checkpoint written (or restored), or None.
      seconds: Wall time of the steps, set when they are done.
      test_predictions: The final model's class of every test digit, set
        when the steps are done.
    """

    config: config_lib.TrainConfig
    dataset: mnist_data.Dataset
    model: tf.Module
    optimizer: Any
    is_chief: bool
    label: str
    side_dir: Optional[str]
    start_step: int = 0
    loss_trace: list = dataclasses.field(default_factory=list)
    accuracy_trace: dict = dataclasses.field(default_factory=dict)
    checkpoint: Optional[str] = None
    seconds: float = 0.0
    test_predictions: Optional[np.ndarray] = None

    def metrics(self) -> dict[str, Any]:
        """The run's result, reporting.run_metrics' shape."""
        return reporting.run_metrics(
            side=SIDE,
            model=self.config.model,
            dataset=self.dataset.describe(),
            accuracy_trace=self.accuracy_trace,
            loss_trace=self.loss_trace,
            seconds=self.seconds,
            checkpoint=self.checkpoint,
            weights=weights.read(self.model.trainable_variables),
            test_predictions=self.test_predictions,
        )


class Hook:
    """A service of the loop; each method does nothing unless overridden."""

    def on_train_begin(self, run: Run) -> None:
        """Called once the model is built (and restored), before the first step."""

    def on_step_end(self, run: Run, step: int, loss: float, learning_rate: Optional[float]) -> None:
        """Called after `step` updates (1-based) with the loss of the last one,
        computed before its update, and the learning rate it used (None when
        no hook needs it)."""

    def on_train_end(self, run: Run) -> None:
        """Called after the last step, with run.seconds and run.test_predictions set."""


class Evaluation(Hook):
    """Records the test accuracy at config.eval_steps (0: before training,
    unless the run resumes)."""

    def __init__(self, count_correct: Callable[[Any, Any], tf.Tensor], test_labels: np.ndarray):
        self._count_correct = count_correct
        self._test_labels = test_labels

    def _record(self, run: Run, step: int) -> None:
        correct = self._count_correct(run.dataset.test_images, self._test_labels)
        run.accuracy_trace[step] = int(correct) / run.dataset.test_size

    def on_train_begin(self, run: Run) -> None:
        if run.start_step == 0 and 0 in run.config.eval_steps:
            self._record(run, 0)

    def on_step_end(self, run: Run, step: int, loss: float, learning_rate: Optional[float]) -> None:
        if step in run.config.eval_steps:
            self._record(run, step)


class Summaries(Hook):
    """TensorBoard scalars into the run directory: each step's loss and
    learning rate, and the test accuracies Evaluation (earlier in the list)
    recorded."""

    def __init__(self, logdir: str):
        self._writer = tf2_summaries.SummaryWriter(logdir)

    def on_train_begin(self, run: Run) -> None:
        if run.start_step == 0 and 0 in run.accuracy_trace:
            self._writer.test_accuracy(0, run.accuracy_trace[0])

    def on_step_end(self, run: Run, step: int, loss: float, learning_rate: Optional[float]) -> None:
        # Summaries number a step's loss by the 0-based step that computed it.
        self._writer.train_step(step - 1, loss, learning_rate)
        if step in run.config.eval_steps:
            self._writer.test_accuracy(step, run.accuracy_trace[step])

    def on_train_end(self, run: Run) -> None:
        self._writer.close()


class NanStop(Hook):
    """Stops the run at the first NaN or infinite loss, and at non-finite
    weights after the last update (whose loss no step computes) before the
    final checkpoint would keep them, naming the fix."""

    def on_step_end(self, run: Run, step: int, loss: float, learning_rate: Optional[float]) -> None:
        checks.check_finite_loss(loss, step - 1, run.config.loss)
        if step == run.config.steps:
            checks.check_finite_weights(weights.read(run.model.trainable_variables), step)


class Progress(Hook):
    """Shows progress (runtime.progress): a bar on a terminal, else log
    lines at most every few seconds. It comes after Evaluation, so an
    evaluated step's test accuracy is shown with it."""

    def __init__(self, label: str, config: config_lib.TrainConfig, start_step: int):
        self._progress = progress.make_progress(
            label, config.steps, config.batch_size, quiet=False, start_step=start_step)

    def on_step_end(self, run: Run, step: int, loss: float, learning_rate: Optional[float]) -> None:
        self._progress.step_done(step, loss, run.accuracy_trace.get(step))


class Checkpoints(Hook):
    """Checkpoints every config.checkpoint_every steps and after the last,
    each after the run state of its step (runtime/run_directory.py); the
    run states of the checkpoints the manager deletes (max_to_keep) go with
    them."""

    def __init__(self, manager: tf.train.CheckpointManager):
        self._manager = manager

    def save(self, run: Run, step: int) -> str:
        """Checkpoints `step` (after its run state); returns the checkpoint's path."""
        run_directory.write_state(self._manager.directory, step, run.loss_trace, run.accuracy_trace)
        run.checkpoint = self._manager.save(checkpoint_number=step)
        run_directory.prune_states(self._manager.directory, self._manager.checkpoints)
        if not run.config.quiet:
            logging.info("Saved checkpoint %s.", run.checkpoint)
        return run.checkpoint

    def on_step_end(self, run: Run, step: int, loss: float, learning_rate: Optional[float]) -> None:
        if run_directory.should_checkpoint(step, run.config.steps, run.config.checkpoint_every):
            self.save(run, step)

    def on_train_end(self, run: Run) -> None:
        if not run.is_chief:
            # Only the chief's checkpoints are kept, as the multi-worker guide does.
            shutil.rmtree(self._manager.directory, ignore_errors=True)
            run.checkpoint = None


class Export(Hook):
    """Exports the final model as a SavedModel (tf2_eager/export.py)."""

    def on_train_end(self, run: Run) -> None:
        if run.is_chief:
            export.export_saved_model(run.model, run.config.export_dir)
            return
        with tempfile.TemporaryDirectory(prefix="tf2_eager_export_") as directory:
            export.export_saved_model(run.model, os.path.join(directory, "model"))


class Figures(Hook):
    """Writes the run's PNG figures (runtime/figures.py) into plots_dir."""

    def __init__(self, plots_dir: str):
        self._plots_dir = plots_dir

    def on_train_end(self, run: Run) -> None:
        # Imported here: matplotlib is only needed for figures.
        from runtime import figures

        metrics = run.metrics()
        figures.write_run_figures(
            self._plots_dir, metrics, run.dataset.test_images, run.dataset.test_labels,
            run.test_predictions, weights=metrics["weights"].get("softmax_regression/weights"),
        )


def checkpoint_manager(run: Run) -> Optional[tf.train.CheckpointManager]:
    """The manager of run's checkpoints: in run.side_dir on the chief, in a
    temporary directory on the other workers; None without an output_dir."""
    if run.side_dir is None:
        return None
    directory = run.side_dir if run.is_chief else tempfile.mkdtemp(prefix="tf2_eager_worker_")
    return tf.train.CheckpointManager(
        tf.train.Checkpoint(model=run.model, optimizer=run.optimizer), directory, max_to_keep=3
    )


def checkpoint_to_resume(run: Run) -> Optional[str]:
    """The checkpoint run continues from, or None to start at step 0.

    The chief checks the state file, the checkpoint, its run state and the
    run's settings (run_directory.resume_point) before any manager reads
    the directory; the other workers read the state file the chief checked.
    """
    if run.side_dir is None:
        return None
    if run.is_chief:
        return run_directory.resume_point(run.side_dir, run.config)
    return (run_directory.kept_checkpoints(run.side_dir) or [None])[-1] if run.config.resume else None


def restore(run: Run, manager: tf.train.CheckpointManager, latest: str) -> None:
    """Continues run from checkpoint `latest`: the model, the optimizer, the
    start step and the traces recorded with it."""
    # Optimizers create their slots on the first update; a zero update
    # creates them (and moves no weight) so that the restore fills them. It
    # runs outside the strategy's scope, in cross-replica context, as the
    # training step's update does (tf2_eager/steps.py).
    run.optimizer.apply_gradients([(tf.zeros_like(v), v) for v in run.model.trainable_variables])
    manager.checkpoint.restore(latest).assert_existing_objects_matched()
    if run.config.learning_rate_decay == "none":
        # A Keras optimizer restores its learning rate with its slots; the
        # TF1 graph takes it from the flags, and so does this side (a rate
        # changed with --allow_changed_settings applies on both).
        run.optimizer.learning_rate = run.config.learning_rate
    run.start_step = run_directory.checkpoint_step(latest)
    run.loss_trace, run.accuracy_trace = run_directory.read_state(run.side_dir, run.start_step)
    run.checkpoint = latest
    logging.info("%s resumes from %s, step %d", SIDE, latest, run.start_step)


def interrupted(run: Run, hooks: list[Hook], signal_name: str) -> run_directory.InterruptedRun:
    """Checkpoints the step an interrupted run reached (with an output_dir)
    and closes its summaries; returns the exit that names the checkpoint
    and the resume command."""
    step = len(run.loss_trace)
    checkpoint = None
    for hook in hooks:
        if isinstance(hook, Checkpoints):
            checkpoint = hook.save(run, step)
        elif isinstance(hook, Summaries):
            hook.on_train_end(run)
    return run_directory.interrupted(SIDE, signal_name, step, checkpoint)


def make_hooks(
    run: Run,
    count_correct: Callable[[Any, Any], tf.Tensor],
    test_labels: np.ndarray,
    manager: Optional[tf.train.CheckpointManager],
    plots_dir: Optional[str],
) -> list[Hook]:
    """The hooks run.config asks for, in the order the loop must call them:
    evaluation before the summaries that write its accuracies, and the
    checkpoint last, so that its run state holds the step's accuracy."""
    config = run.config
    hooks: list[Hook] = [Evaluation(count_correct, test_labels)]
    if run.side_dir and run.is_chief:
        hooks.append(Summaries(run.side_dir))
    if not config.allow_nonfinite:
        hooks.append(NanStop())
    if not config.quiet:
        hooks.append(Progress(run.label, config, run.start_step))
    if manager is not None:
        hooks.append(Checkpoints(manager))
    if config.export_dir:
        hooks.append(Export())
    if plots_dir and run.is_chief:
        hooks.append(Figures(plots_dir))
    return hooks
