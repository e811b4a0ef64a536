"""Trains a tf2_eager model the TF2 way: a tf.function step, no Session.

    python -m tf2_eager.train --flagfile=flags/hvass_softmax.cfg --json=tf2.json

`train(config, dataset)` is the library entry point (tests call it); the
command's main, flags.definitions.make_training_main, only turns the flags
into a TrainConfig, loads the data and calls it.
"""

import contextlib
import functools
import os
import time
from typing import Any, Callable

from absl import app
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from mnist_data import checks
from mnist_data import reporting
from tf2_eager import classifier
from tf2_eager import optimizers
from tf2_eager import convnet
from tf2_eager import deep_mlp
from tf2_eager import mlp
from tf2_eager import softmax_regression
from tf2_eager import weights

MODELS = {
    "softmax_regression": softmax_regression,
    "mlp": mlp,
    "deep_mlp": deep_mlp,
    "convnet": convnet,
}

LossFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def make_train_step(
    model: tf.Module,
    loss_fn: LossFunction,
    optimizer: tf.keras.optimizers.Optimizer,
    training: bool = False,
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Returns a tf.function that takes one optimizer step and returns the loss.

    This is what replaces `session.run([loss, train_op], feed_dict=...)`: the
    placeholders become the function's arguments, and the loss it returns is
    computed before the update, as the TF1 fetch was. With `training`, the
    model is called with training=True (dropout on), where TF1 fed keep_prob.
    """
    call_arguments = {"training": True} if training else {}

    @tf.function
    def train_step(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss_value = loss_fn(labels, model(images, **call_arguments))
        variables = model.trainable_variables
        gradients = tape.gradient(loss_value, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss_value

    return train_step


def make_count_correct(model: tf.Module) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Returns a tf.function counting the correct predictions of `model`."""

    @tf.function
    def count_correct(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        return classifier.count_correct(model(images), labels)

    return count_correct


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

    model = model_module.create(config)
    if config.rng == "numpy":
        weights.assign(
            model.trainable_variables,
            config.draw_initial_values(
                {weights.variable_name(v): v.shape.as_list() for v in model.trainable_variables}
            ),
        )
        batches = (
            (dataset.train_images[indices], train_labels[indices])
            for indices in (
                mnist_data.batch_indices(
                    config.seed, step, config.batch_size, dataset.train_size
                )
                for step in range(config.steps)
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
    optimizer = optimizers.create(config)
    loss_fn = functools.partial(classifier.loss, form=config.loss)
    train_step = make_train_step(model, loss_fn, optimizer, training=config.dropout_keep < 1)
    count_correct = make_count_correct(model)

    def test_accuracy() -> float:
        correct = count_correct(dataset.test_images, test_labels)
        return int(correct) / dataset.test_size

    accuracy_trace = {}
    loss_trace = []
    progress = reporting.ProgressLogger("tf2_eager", config.steps, config.batch_size)
    if 0 in config.eval_steps:
        accuracy_trace[0] = test_accuracy()
    start = time.perf_counter()
    for step, (batch_images, batch_labels) in enumerate(batches):
        loss_value = float(train_step(batch_images, batch_labels))
        loss_trace.append(loss_value)
        if not config.allow_nonfinite:
            checks.check_finite_loss(loss_value, step, config.loss)
        progress.step_done(step + 1, loss_value)
        if step + 1 in config.eval_steps:
            accuracy_trace[step + 1] = test_accuracy()
    seconds = time.perf_counter() - start
    checkpoint = None
    if config.output_dir:
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer).write(
            os.path.join(config.output_dir, "ckpt")
        )
    return reporting.run_metrics(
        side="tf2_eager",
        model=config.model,
        dataset=dataset.describe(),
        accuracy_trace=accuracy_trace,
        loss_trace=loss_trace,
        seconds=seconds,
        checkpoint=checkpoint,
        weights=weights.read(model.trainable_variables),
    )


if __name__ == "__main__":
    app.run(definitions.make_training_main(train))
