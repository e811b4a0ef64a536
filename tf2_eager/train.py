"""Trains a tf2_eager model the TF2 way: a tf.function step, no Session.

    python -m tf2_eager.train --flagfile=flags/hvass_softmax.cfg --json=tf2.json

`train(config, dataset)` is the library entry point for the MNIST
classifiers (tests call it); EXPERIMENTS runs the small models, which bring
their own data. The command's main, flags.definitions.make_training_main,
only turns the flags into a TrainConfig, loads the data and calls one of them.
"""

import contextlib
import functools
import time
from typing import Any, Callable, Iterator, Optional, Sequence

from absl import app
from absl import logging
import numpy as np
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from mnist_data import checks
from mnist_data import reporting
from mnist_data import run_directory
from tf2_eager import classifier
from tf2_eager import convnet
from tf2_eager import deep_mlp
from tf2_eager import export
from tf2_eager import linear_regression
from tf2_eager import logistic_regression
from tf2_eager import mlp
from tf2_eager import multi_step
from tf2_eager import multiply
from tf2_eager import optimizers
from tf2_eager import softmax_regression
from tf2_eager import steps
from tf2_eager import summaries as tf2_summaries
from tf2_eager import weights

# The MNIST classifiers that train() trains, by --model.
MODELS = {
    "softmax_regression": softmax_regression,
    "mlp": mlp,
    "deep_mlp": deep_mlp,
    "convnet": convnet,
}
# The small programs that bring their own data, by --model: each module's
# experiment(config) is what the command runs for it.
EXPERIMENTS = {
    "multiply": multiply.experiment,
    "linear_regression": linear_regression.experiment,
    "logistic_regression": logistic_regression.experiment,
}

def train(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset
) -> dict[str, Any]:
    """Trains config.model on dataset and evaluates it on the test split.

    With config.rng == "numpy", initial values and batches come from
    mnist_data (the same numbers tf1_graph.train uses); with "tensorflow",
    from a seeded tf.random.Generator and a tf.data shuffle.

    Returns:
      The same metrics as tf1_graph.train.train.
    """
    config.check_fits(dataset.train_size)
    device = tf.device(config.device) if config.device else contextlib.nullcontext()
    with device:
        return _train(config, dataset)


def _train(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset
) -> dict[str, Any]:
    model_module = MODELS[config.model]
    train_labels, test_labels = dataset.encoded_labels(not config.integer_labels)
    if config.rng == "tensorflow":
        # The TF2 form of TF1's graph-level seed: ops without a seed of their
        # own (the dropout masks) draw from it, so a run is repeatable.
        tf.random.set_seed(config.seed)

    # Checked before anything is built: a refused --output_dir costs nothing.
    side_dir = (
        run_directory.prepare(config.output_dir, "tf2_eager", config.resume, config.overwrite)
        if config.output_dir else None
    )
    model = model_module.create(config)
    if config.rng == "numpy":
        weights.assign(
            model.trainable_variables,
            config.draw_initial_values(
                {weights.variable_name(v): v.shape.as_list() for v in model.trainable_variables}
            ),
        )
    optimizer = optimizers.create(config)
    manager = None
    start_step = 0
    latest = None
    if side_dir:
        manager = tf.train.CheckpointManager(
            tf.train.Checkpoint(model=model, optimizer=optimizer), side_dir, max_to_keep=3
        )
        # The state file itself, not manager.latest_checkpoint, which is None
        # when the named files are gone and would restart the run silently.
        state = tf.train.get_checkpoint_state(side_dir) if config.resume else None
        latest = state.model_checkpoint_path if state else None
    if latest:
        run_directory.check_checkpoint_files(latest)
        # Optimizers create their slots on the first update; a zero update
        # creates them (and moves no weight) so that the restore fills them.
        optimizer.apply_gradients(
            [(tf.zeros_like(v), v) for v in model.trainable_variables]
        )
        manager.checkpoint.restore(latest).assert_existing_objects_matched()
        start_step = run_directory.checkpoint_step(latest)
        loss_trace, accuracy_trace = run_directory.read_state(side_dir, start_step)
        logging.info("tf2_eager resumes from %s, step %d", latest, start_step)
    else:
        loss_trace, accuracy_trace = [], {}
    loss_fn = functools.partial(classifier.loss, form=config.loss)
    training = config.dropout_keep < 1
    writer = tf2_summaries.SummaryWriter(side_dir) if side_dir else None
    if config.steps_per_call > 1:
        step_losses = _multi_step_losses(
            config, dataset, train_labels, start_step,
            multi_step.make_multi_step(model, loss_fn, optimizer, training=training),
        )
    else:
        step_losses = _single_step_losses(
            config, dataset, train_labels, start_step,
            steps.make_train_step(model, loss_fn, optimizer, training=training),
            optimizer if writer else None,
        )
    count_correct = steps.make_count_correct(model)

    def record_test_accuracy(step: int) -> None:
        correct = count_correct(dataset.test_images, test_labels)
        accuracy_trace[step] = int(correct) / dataset.test_size
        if writer:
            writer.test_accuracy(step, accuracy_trace[step])

    progress = reporting.ProgressLogger(
        "tf2_eager", config.steps, config.batch_size, quiet=config.quiet
    )
    if 0 in config.eval_steps and not latest:
        record_test_accuracy(0)
    start = time.perf_counter()
    # A resumed run that had already finished keeps its last checkpoint.
    checkpoint = latest
    for step, loss_value, learning_rate in step_losses:
        loss_trace.append(loss_value)
        if writer:
            writer.train_step(step, loss_value, learning_rate)
        if not config.allow_nonfinite:
            checks.check_finite_loss(loss_value, step, config.loss)
        progress.step_done(step + 1, loss_value)
        if step + 1 in config.eval_steps:
            record_test_accuracy(step + 1)
        if manager and run_directory.should_checkpoint(
            step + 1, config.steps, config.checkpoint_every
        ):
            run_directory.write_state(side_dir, step + 1, loss_trace, accuracy_trace)
            checkpoint = manager.save(checkpoint_number=step + 1)
    seconds = time.perf_counter() - start
    if writer:
        writer.close()
    if config.export_dir:
        export.export_saved_model(model, config.export_dir)
    return reporting.run_metrics(
        side="tf2_eager",
        model=config.model,
        dataset=dataset.describe(),
        accuracy_trace=accuracy_trace,
        loss_trace=loss_trace,
        seconds=seconds,
        checkpoint=checkpoint,
        weights=weights.read(model.trainable_variables),
        test_predictions=tf.argmax(model(dataset.test_images), axis=1).numpy(),
    )


StepLosses = Iterator[tuple[int, float, Optional[float]]]


def _single_step_losses(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    train_labels: np.ndarray,
    start_step: int,
    train_step: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    optimizer: Optional[Any],
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
        # The rate this step's update uses, read before the update counts it.
        learning_rate = tf2_summaries.learning_rate(optimizer) if optimizer else None
        yield step, float(train_step(batch_images, batch_labels)), learning_rate


def _multi_step_losses(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    train_labels: np.ndarray,
    start_step: int,
    train_steps: multi_step.MultiStep,
) -> StepLosses:
    """Runs up to config.steps_per_call steps per call, yielding (step, loss,
    learning rate) for each.

    Each call ends at the next step where the caller evaluates or
    checkpoints, and the generator computes the next call only when asked,
    so the model the caller sees after a step's loss is the model of that
    step. The learning rate is config.learning_rate_at, in float32 as both
    schedules compute it.
    """
    images, labels = tf.constant(dataset.train_images), tf.constant(train_labels)
    boundaries = set(config.eval_steps) | {
        step for step in range(1, config.steps + 1)
        if run_directory.should_checkpoint(step, config.steps, config.checkpoint_every)
    }
    step = start_step
    while step < config.steps:
        end = min([step + config.steps_per_call] + [b for b in boundaries if b > step])
        schedule = mnist_data.batch_schedule(
            config.seed, step, end - step, config.batch_size, dataset.train_size
        )
        for offset, loss_value in enumerate(train_steps(images, labels, schedule).numpy()):
            yield (step + offset, float(loss_value),
                   float(np.float32(config.learning_rate_at(step + offset))))
        step = end


def main(argv: Sequence[str]) -> None:
    """`python -m tf2_eager.train`: one device, or with --strategy the
    replicated run of tf2_eager.distributed (MirroredStrategy, or
    MultiWorkerMirroredStrategy across processes)."""
    if distribute_flags.STRATEGY.value == "none":
        definitions.make_training_main(train, EXPERIMENTS)(argv)
        return
    # Imported here because tf2_eager.distributed builds on this module.
    from tf2_eager import distributed

    distributed.main(argv)


if __name__ == "__main__":
    app.run(main)
