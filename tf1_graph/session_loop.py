"""The one TF1 session loop: one device, towers and cluster workers all run it.

    metrics = session_loop.train(config, dataset, placement)

prepares the run's directory (refusing an existing run unless --resume or
--overwrite says what to do with it), builds the graph with
tf1_graph/training_graph.py, starts the placement's session, runs this
process's steps with the hooks of tf1_graph/run_hooks.py (progress,
evaluation, the non-finite loss stop, summaries, checkpoints and run state),
exports a SavedModel if asked, and returns the metrics. Each step feeds
`feed_dict` batches (or none, with the in-graph pipeline) and runs
`[loss, train_op]` plus the hooks' fetches in one session.run.
"""

import contextlib
import os
import time
from typing import Any, Callable, ContextManager, Optional, Sequence

from absl import logging
import numpy as np
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from runtime import reporting
from runtime import run_directory
from tf1_graph import export
from tf1_graph import models
from tf1_graph import run_hooks
from tf1_graph import training_graph
from tf1_graph import weights

SIDE = "tf1_graph"

BatchSource = Callable[[tf.compat.v1.Session, int], Optional[np.ndarray]]


def train(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, placement: training_graph.Placement
) -> dict[str, Any]:
    """Trains config.model on dataset, placed by `placement`; returns the metrics.

    Returns:
      reporting.run_metrics: test_accuracy, accuracy_trace ({step:
      accuracy}), loss_trace (loss of each step, before its update),
      final_loss, seconds, checkpoint, the final weights and the test
      predictions.
    """
    config.check_fits(dataset.train_size)
    # Checked and locked before any graph is built: a refused --output_dir
    # costs nothing, and no other run can write into it meanwhile.
    with _run_directory(config, placement.is_chief) as side_dir:
        metrics = _train(config, dataset, placement, side_dir)
    if config.export_dir and placement.is_chief:
        # The training graph is finalised and a SavedModel builder adds ops,
        # so the export rebuilds the inference graph from the trained values.
        export.export_saved_model(
            models.MODELS[config.model].inference, config.model_config, metrics["weights"],
            config.export_dir,
        )
    return metrics


def _train(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    placement: training_graph.Placement,
    side_dir: Optional[str],
) -> dict[str, Any]:
    latest = _checkpoint_to_resume(config, side_dir, placement.is_chief)
    start_step = run_directory.checkpoint_step(latest) if latest else 0
    record = run_hooks.RunRecord(start_step, [], {}, latest)
    if latest and placement.is_chief:
        record.loss_trace, record.accuracy_trace = run_directory.read_state(side_dir, start_step)
    built = training_graph.build(
        config, dataset, placement, start_step, with_outputs=bool(side_dir) and placement.is_chief
    )
    if built.saver and latest:
        # The Saver goes on deleting the checkpoints beyond max_to_keep that
        # earlier processes of the run wrote.
        built.saver.recover_last_checkpoints(run_directory.kept_checkpoints(side_dir))
    # Finalising catches any op accidentally added inside the training loop.
    built.graph.finalize()
    steps = placement.steps(start_step, config.steps)
    hooks = _hooks(config, dataset, built, placement, side_dir, len(steps))
    # Only a process that runs every step knows the run's step, so only it
    # can checkpoint an interrupted run (a cluster's launcher stops the rest).
    stops = run_directory.stop_on_signals() if len(steps) == config.steps - start_step else None
    try:
        with placement.open_session(built.graph, _initializer(config, built, latest)) as session, (
            stops or contextlib.nullcontext(run_directory.StopRequest())
        ) as stop:
            for hook in hooks:
                hook.begin(session, record)
            placement.start_peers(session)
            seconds = run_steps(session, built, config, dataset, steps, hooks, record, stop)
            if stop.signal_name:
                raise _interrupted(session, stop.signal_name, hooks, record)
            record.loss_trace = placement.wait_for_peers(session, record.loss_trace)
            for hook in hooks:
                hook.end(session, record)
            final_weights = weights.read(session, built.trainable)
            test_predictions = session.run(built.predictions, feed_dict={built.images: dataset.test_images})
            placement.release_peers(session)
    finally:
        for hook in hooks:
            hook.close()
    return reporting.run_metrics(
        side=SIDE,
        model=config.model,
        dataset=dataset.describe(),
        accuracy_trace=record.accuracy_trace,
        loss_trace=record.loss_trace,
        seconds=seconds,
        checkpoint=record.checkpoint,
        weights=final_weights,
        test_predictions=test_predictions,
    )


def _interrupted(
    session: tf.compat.v1.Session, signal_name: str, hooks: Sequence[run_hooks.Hook],
    record: run_hooks.RunRecord,
) -> run_directory.InterruptedRun:
    """Checkpoints the step an interrupted run reached (with an
    --output_dir); returns the exit that names it and the resume command."""
    step = len(record.loss_trace)
    checkpoint = None
    for hook in hooks:
        if isinstance(hook, run_hooks.CheckpointHook):
            checkpoint = hook.save(session, step, record)
    return run_directory.interrupted(SIDE, signal_name, step, checkpoint)


def _run_directory(config: config_lib.TrainConfig, is_chief: bool) -> ContextManager[Optional[str]]:
    """OUTPUT_DIR/tf1_graph, held by the chief for the run (refused unless
    --resume or --overwrite says what to do with a run already there, and
    locked: runtime.run_directory.open_run); another cluster worker only
    reads the chief's checkpoint state there. None without --output_dir."""
    if not config.output_dir:
        return contextlib.nullcontext(None)
    if is_chief:
        return run_directory.open_run(config.output_dir, SIDE, config.resume, config.overwrite)
    return contextlib.nullcontext(os.path.join(config.output_dir, SIDE))


def _checkpoint_to_resume(
    config: config_lib.TrainConfig, side_dir: Optional[str], is_chief: bool
) -> Optional[str]:
    """The checkpoint --resume continues from, or None.

    The chief checks the state file, the checkpoint, its run state and the
    run's settings (run_directory.resume_point); another cluster worker
    reads the state file the chief has checked.
    """
    if not side_dir:
        return None
    if is_chief:
        return run_directory.resume_point(side_dir, config)
    return (run_directory.kept_checkpoints(side_dir) or [None])[-1] if config.resume else None


def _initializer(
    config: config_lib.TrainConfig, built: training_graph.TrainingGraph, latest: Optional[str]
) -> training_graph.Initialize:
    """What a new session on `built` runs first: restore `latest`, or start."""

    def initialize(session: tf.compat.v1.Session) -> None:
        if latest:
            # Restores every variable: the weights, global_step (so a
            # decaying learning rate resumes where it was) and the
            # optimizer's slots. Saver.restore runs its op only when its
            # graph is the default; a session opened outside a with block
            # has not made it so.
            with built.graph.as_default():
                built.saver.restore(session, latest)
            logging.info("%s resumes from %s, step %d", SIDE, latest, run_directory.checkpoint_step(latest))
        else:
            session.run(built.initializer)
            if config.rng == "numpy":
                shapes = {weights.variable_name(v): v.shape.as_list() for v in built.trainable}
                built.loader.load(session, config.draw_initial_values(shapes))
        if built.preloaded:
            built.preloaded.initialize(session)

    return initialize


def _hooks(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    built: training_graph.TrainingGraph,
    placement: training_graph.Placement,
    side_dir: Optional[str],
    steps_to_run: int,
) -> list[run_hooks.Hook]:
    """The run's services, in the order they act after each step."""
    _, test_labels = dataset.encoded_labels(not config.integer_labels)

    def evaluate(session: tf.compat.v1.Session) -> float:
        correct = session.run(
            built.correct, feed_dict={built.images: dataset.test_images, built.labels: test_labels}
        )
        return int(correct) / dataset.test_size

    summaries = run_hooks.SummaryHook(side_dir, built.summaries, built.graph) if built.summaries else None
    hooks: list[run_hooks.Hook] = [summaries] if summaries else []
    if not config.allow_nonfinite:
        hooks.append(run_hooks.NonFiniteLossHook(config.loss, built.trainable))
    hooks.append(run_hooks.EvaluationHook(evaluate, placement.eval_steps(config), config.steps, summaries))
    hooks.append(run_hooks.ProgressHook(placement.label, steps_to_run, config.batch_size, config.quiet))
    if built.saver:
        hooks.append(run_hooks.CheckpointHook(built.saver, side_dir, config.steps, config.checkpoint_every))
    return hooks


def run_steps(
    session: tf.compat.v1.Session,
    built: training_graph.TrainingGraph,
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    steps: Sequence[int],
    hooks: Sequence[run_hooks.Hook],
    record: run_hooks.RunRecord,
    stop: run_directory.StopRequest,
) -> float:
    """Runs the given 0-based global steps; returns the loop's seconds.

    Each step runs the loss, the train op and the hooks' fetches in one
    session.run, appends the loss to record.loss_trace and calls every
    hook's after_run. A signal (`stop`) ends the loop between two steps.
    """
    train_labels, _ = dataset.encoded_labels(not config.integer_labels)
    batch_of = _batch_source(config, built, dataset)
    fetches = {"loss": built.loss, "train_op": built.train_op}
    for hook in hooks:
        fetches.update(hook.before_run())
    start = time.perf_counter()
    for step in steps:
        if stop.signal_name:
            break
        # As the codelab fed pkeep with every batch.
        feed = {built.keep_prob: config.dropout_keep}
        batch = batch_of(session, step)
        if batch is not None:
            feed.update({built.images: dataset.train_images[batch], built.labels: train_labels[batch]})
        results = session.run(fetches, feed_dict=feed)
        record.loss_trace.append(float(results["loss"]))
        for hook in hooks:
            hook.after_run(session, step, results, record)
    return time.perf_counter() - start


def _batch_source(
    config: config_lib.TrainConfig, built: training_graph.TrainingGraph, dataset: mnist_data.Dataset
) -> BatchSource:
    """The example indices of each step's batch, or None when the graph
    gathers the scheduled batch itself (the in-graph pipeline)."""
    if built.preloaded:
        return lambda session, step: None
    if config.rng == "numpy":
        return lambda session, step: mnist_data.batch_indices(
            config.seed, step, config.batch_size, dataset.train_size
        )
    batches_per_epoch = dataset.train_size // config.batch_size
    epoch_order = None

    def shuffled(session: tf.compat.v1.Session, step: int) -> np.ndarray:
        # TensorFlow's own shuffle, drawn again at the start of each epoch.
        nonlocal epoch_order
        position = step % batches_per_epoch
        if position == 0:
            epoch_order = session.run(built.shuffled_indices)
        return epoch_order[position * config.batch_size : (position + 1) * config.batch_size]

    return shuffled
