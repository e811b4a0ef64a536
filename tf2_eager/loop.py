"""The one training loop of the tf2_eager MNIST classifiers.

`train(config, dataset, strategy=None)` trains on one device (the default
strategy) or under the tf.distribute strategy it is given (MirroredStrategy,
MultiWorkerMirroredStrategy), the tensorflow/models `strategy_override`
pattern. Every path takes the same step (tf2_eager/steps.py, or
multi_step.py's in-graph loop, under strategy.run when replicated) and
calls the same services (tf2_eager/hooks.py), so every flag means the same
on every path. tf2_eager.train re-exports it; tf2_eager.distributed builds
the strategies and the command around it.
"""

import contextlib
import os
import time
from typing import Any, Callable, ContextManager, Iterator, Optional

import numpy as np
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import replication
from runtime import run_directory
from tf2_eager import classifier
from tf2_eager import hooks as hooks_lib
from tf2_eager import multi_step
from tf2_eager import optimizers
from tf2_eager import models
from tf2_eager import steps
from tf2_eager import summaries as tf2_summaries
from tf2_eager import weights
from runtime import errors

# (step, loss, learning rate) of each step, step 0-based and the rate None
# when nothing reads it.
StepLosses = Iterator[tuple[int, float, Optional[float]]]


def train(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    strategy: Optional[tf.distribute.Strategy] = None,
    plots_dir: Optional[str] = None,
) -> dict[str, Any]:
    """Trains config.model on dataset and evaluates it on the test split.

    With config.rng == "numpy", initial values and batches come from
    mnist_data (the same numbers tf1_graph.train uses); with "tensorflow",
    from a seeded tf.random.Generator and a tf.data shuffle (one device only).
    Under a strategy, config.batch_size is the global batch, split evenly
    over the replicas (flags/replication.py), so each step is the
    one-device step up to the order of float additions.

    Args:
      config: The run's configuration.
      dataset: The data; every worker of a multi-worker strategy reads its own copy.
      strategy: The strategy to replicate the steps with; None uses
        tf.distribute.get_strategy(), one device unless called in a scope.
      plots_dir: Write the run's figures here at the end (the chief only).

    Returns:
      reporting.run_metrics' dict, the same as tf1_graph.train.train; on a
      multi-worker strategy's other workers, "checkpoint" is None.

    Raises:
      ValueError: If the configuration does not fit the data or the strategy,
        or config.output_dir holds a run and neither config.resume nor
        config.overwrite says what to do with it.
    """
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        replicated = tf.distribute.has_strategy()
    config.check_fits(dataset.train_size)
    if replicated:
        _check_replicable(config, strategy)
    device = tf.device(config.device) if config.device else contextlib.nullcontext()
    with device:
        return _train(config, dataset, strategy if replicated else None, plots_dir)


def _check_replicable(config: config_lib.TrainConfig, strategy: tf.distribute.Strategy) -> None:
    num_replicas = strategy.num_replicas_in_sync
    replication.check_batch_split(config.batch_size, num_replicas)
    replication.check_numpy_rng(config, type(strategy).__name__)
    if config.device:
        raise errors.FixableError(
            f"{type(strategy).__name__} places replicas on {num_replicas} devices; "
            f"--device={config.device} pins a run to one. Drop --device."
        )


def _train(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    strategy: Optional[tf.distribute.Strategy],
    plots_dir: Optional[str],
) -> dict[str, Any]:
    train_labels, test_labels = dataset.encoded_labels(not config.integer_labels)
    if config.rng == "tensorflow":
        # The TF2 form of TF1's graph-level seed: ops without a seed of their
        # own (the dropout masks) draw from it, so a run is repeatable.
        tf.random.set_seed(config.seed)
    is_chief = is_chief_worker(strategy)
    # Checked and locked before anything is built: a refused --output_dir
    # costs nothing, and no other run can write into it meanwhile.
    with _run_directory(config, is_chief) as side_dir:
        run = hooks_lib.Run(config, dataset, *_build(config, strategy), is_chief, _label(strategy), side_dir)
        latest = hooks_lib.checkpoint_to_resume(run)
        manager = hooks_lib.checkpoint_manager(run)
        if latest:
            hooks_lib.restore(run, manager, latest)
        hooks = hooks_lib.make_hooks(
            run, steps.make_count_correct(run.model), test_labels, manager, plots_dir
        )
        # Only a process that runs the whole model can checkpoint an
        # interrupted run: a multi-worker checkpoint needs every worker.
        multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        stops = contextlib.nullcontext(run_directory.StopRequest()) if multi_worker else (
            run_directory.stop_on_signals())
        with stops as stop:
            _run_steps(run, hooks, train_labels, strategy, stop)
        if stop.signal_name:
            raise hooks_lib.interrupted(run, hooks, stop.signal_name)
        run.test_predictions = tf.argmax(run.model(dataset.test_images), axis=1).numpy()
        for hook in hooks:
            hook.on_train_end(run)
        return run.metrics()


def _run_steps(
    run: hooks_lib.Run,
    hooks: list[hooks_lib.Hook],
    train_labels: np.ndarray,
    strategy: Optional[tf.distribute.Strategy],
    stop: run_directory.StopRequest,
) -> None:
    """Takes the run's steps, calling the hooks after each, until the last
    one or a signal (`stop`); sets run.seconds."""
    reads_learning_rate = any(isinstance(hook, hooks_lib.Summaries) for hook in hooks)
    step_losses = _step_losses(run, train_labels, strategy, reads_learning_rate, stop)
    for hook in hooks:
        hook.on_train_begin(run)
    start = time.perf_counter()
    for step, loss_value, learning_rate in step_losses:
        run.loss_trace.append(loss_value)
        for hook in hooks:
            hook.on_step_end(run, step + 1, loss_value, learning_rate)
    run.seconds = time.perf_counter() - start


def _build(
    config: config_lib.TrainConfig, strategy: Optional[tf.distribute.Strategy]
) -> tuple[tf.Module, Any]:
    """The model, with its initial values, and the optimizer; under a
    strategy their variables are mirrored, one copy per replica, kept equal
    because every copy gets the same update."""
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope:
        model = models.MODELS[config.model].create(config.model_config, config.seed)
        if config.rng == "numpy":
            weights.assign(
                model.trainable_variables,
                config.draw_initial_values(
                    {weights.variable_name(v): v.shape.as_list() for v in model.trainable_variables}
                ),
            )
        return model, optimizers.create(config.optimizer_config)


def prepare_run_directory(config: config_lib.TrainConfig) -> Optional[str]:
    """Checks that a run may start in OUTPUT_DIR/tf2_eager and returns it
    (None without an output_dir); changes nothing, so a launcher can call
    it before any device or process exists (run_directory.prepare).

    Raises:
      ValueError: If the directory holds a run and neither config.resume
        nor config.overwrite says what to do with it, or a live run holds it.
    """
    if not config.output_dir:
        return None
    return run_directory.prepare(config.output_dir, hooks_lib.SIDE, config.resume, config.overwrite)


def _run_directory(config: config_lib.TrainConfig, is_chief: bool) -> ContextManager[Optional[str]]:
    """OUTPUT_DIR/tf2_eager, held by the chief for the run (refused, replaced
    or kept for resuming, and locked: run_directory.open_run); the other
    workers only read it. None without an output_dir."""
    if not config.output_dir:
        return contextlib.nullcontext(None)
    if not is_chief:
        return contextlib.nullcontext(os.path.join(config.output_dir, hooks_lib.SIDE))
    return run_directory.open_run(config.output_dir, hooks_lib.SIDE, config.resume, config.overwrite)


def _label(strategy: Optional[tf.distribute.Strategy]) -> str:
    if strategy is None:
        return hooks_lib.SIDE
    return f"{hooks_lib.SIDE} {type(strategy).__name__} x{strategy.num_replicas_in_sync}"


def is_chief_worker(strategy: Optional[tf.distribute.Strategy]) -> bool:
    """Whether this process keeps the run's files: always, but on the
    workers of a multi-worker strategy other than the chief (worker 0 when
    the cluster has no "chief" task)."""
    resolver = strategy.cluster_resolver if strategy else None
    if resolver is None or resolver.task_type in (None, "chief"):
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0


def _step_losses(
    run: hooks_lib.Run,
    train_labels: np.ndarray,
    strategy: Optional[tf.distribute.Strategy],
    reads_learning_rate: bool,
    stop: run_directory.StopRequest,
) -> StepLosses:
    """The steps from run.start_step on: one tf.function call per step, or
    config.steps_per_call steps per call; none after a signal (`stop`)
    between two calls, so the model is always that of the last step."""
    config = run.config
    loss_fn = classifier.keras_loss(config.loss)
    if strategy is not None:
        weight = replication.loss_weight(config.loss, strategy.num_replicas_in_sync)
        loss_fn = _weighted(loss_fn, weight)
    arguments = dict(training=config.dropout_keep < 1, strategy=strategy)
    if config.steps_per_function_call > 1:
        return _multi_step_losses(
            config, run.dataset, train_labels, run.start_step,
            multi_step.make_multi_step(run.model, loss_fn, run.optimizer, **arguments), stop,
        )
    return _single_step_losses(
        config, run.dataset, train_labels, run.start_step,
        steps.make_train_step(run.model, loss_fn, run.optimizer, **arguments),
        run.optimizer if reads_learning_rate else None, stop,
    )


def _weighted(loss_fn: steps.LossFunction, weight: float) -> steps.LossFunction:
    """A replica's share of the loss (replication.loss_weight)."""

    def weighted_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return loss_fn(labels, logits) * weight

    return weighted_loss


def _single_step_losses(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    train_labels: np.ndarray,
    start_step: int,
    train_step: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    optimizer: Optional[Any],
    stop: run_directory.StopRequest,
) -> StepLosses:
    """Takes one step per call from Python, yielding (step, loss, the
    learning rate of the step's update, read from `optimizer` if given)."""
    if config.rng == "numpy":
        batches = (
            (dataset.train_images[indices], train_labels[indices])
            for indices in (
                mnist_data.batch_indices(config.seed, step, config.batch_size, dataset.train_size)
                for step in range(start_step, config.steps)
            )
        )
    else:
        batches = iter(
            tf.data.Dataset.from_tensor_slices((dataset.train_images, train_labels))
            .shuffle(dataset.train_size, seed=config.seed)
            .batch(config.batch_size, drop_remainder=True)
            .repeat()
            .take(config.steps)
        )
    for step, (batch_images, batch_labels) in enumerate(batches, start=start_step):
        if stop.signal_name:
            return
        # The rate this step's update uses, read before the update counts it.
        learning_rate = tf2_summaries.learning_rate(optimizer) if optimizer else None
        yield step, float(train_step(batch_images, batch_labels)), learning_rate


def _multi_step_losses(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    train_labels: np.ndarray,
    start_step: int,
    train_steps: multi_step.MultiStep,
    stop: run_directory.StopRequest,
) -> StepLosses:
    """Runs up to config.steps_per_call steps per call, yielding (step, loss,
    learning rate) for each.

    Each call ends at the next step where the caller evaluates or
    checkpoints, and the generator computes the next call only when asked,
    so the model the caller sees after a step's loss is the model of that
    step. The learning rate is config.optimizer_config.learning_rate_at, in
    float32 as both schedules compute it.
    """
    images, labels = tf.constant(dataset.train_images), tf.constant(train_labels)
    boundaries = set(config.eval_steps) | {
        step for step in range(1, config.steps + 1)
        if run_directory.should_checkpoint(step, config.steps, config.checkpoint_every)
    }
    step = start_step
    while step < config.steps and not stop.signal_name:
        end = min([step + config.steps_per_function_call] + [b for b in boundaries if b > step])
        schedule = mnist_data.batch_schedule(
            config.seed, step, end - step, config.batch_size, dataset.train_size
        )
        for offset, loss_value in enumerate(train_steps(images, labels, schedule).numpy()):
            yield (step + offset, float(loss_value),
                   float(np.float32(config.optimizer_config.learning_rate_at(step + offset))))
        step = end
