"""Trains a tf2_eager model the TF2 way: a tf.function step, no Session.

    python -m tf2_eager.train --flagfile=flags/hvass_softmax.cfg --json=tf2.json

`train(config, dataset)` is the library entry point for the MNIST
classifiers (tests call it); EXPERIMENTS runs the small models, which bring
their own data. The command's main, flags.definitions.make_training_main,
only turns the flags into a TrainConfig, loads the data and calls one of them.
"""

import contextlib
import functools
import os
import time
from typing import Any

from absl import app
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from mnist_data import checks
from mnist_data import reporting
from tf2_eager import classifier
from tf2_eager import convnet
from tf2_eager import deep_mlp
from tf2_eager import linear_regression
from tf2_eager import logistic_regression
from tf2_eager import mlp
from tf2_eager import multiply
from tf2_eager import optimizers
from tf2_eager import softmax_regression
from tf2_eager import steps
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
    train_step = steps.make_train_step(
        model, loss_fn, optimizer, training=config.dropout_keep < 1
    )
    count_correct = steps.make_count_correct(model)

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
    app.run(definitions.make_training_main(train, EXPERIMENTS))
