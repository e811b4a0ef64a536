"""Trains a tf1_graph model the TF1 way: one Graph, one Session, feed_dict.

    python -m tf1_graph.train --flagfile=flags/hvass_softmax.cfg --json=tf1.json

`train(config, dataset)` is the library entry point for the MNIST
classifiers (tests call it); EXPERIMENTS runs the small models, which bring
their own data. The command's main, flags.definitions.make_training_main,
only turns the flags into a TrainConfig, loads the data and calls one of them.
"""

import contextlib
import os
import time
from typing import Any, Sequence

from absl import app
from absl import logging
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from mnist_data import checks
from mnist_data import reporting
from mnist_data import run_directory
from tf1_graph import classifier
from tf1_graph import convnet
from tf1_graph import deep_mlp
from tf1_graph import export
from tf1_graph import in_graph_input
from tf1_graph import linear_regression
from tf1_graph import logistic_regression
from tf1_graph import mlp
from tf1_graph import multiply
from tf1_graph import softmax_regression
from tf1_graph import summaries as tf1_summaries
from tf1_graph import weights

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
    mnist_data (the same numbers tf2_eager.train uses); with "tensorflow",
    from the graph-level seed and an in-graph tf.random.shuffle.

    Returns:
      Metrics: test_accuracy, accuracy_trace ({step: accuracy}), loss_trace
      (loss of each step, before its update), final_loss, seconds, and the
      run's description.
    """
    config.check_fits(dataset.train_size)
    # Checked before any graph is built: a refused --output_dir costs nothing.
    side_dir = (
        run_directory.prepare(config.output_dir, "tf1_graph", config.resume, config.overwrite)
        if config.output_dir else None
    )
    # The state file itself, not tf.train.latest_checkpoint, which returns
    # None when the named files are gone and would restart the run silently.
    state = tf.train.get_checkpoint_state(side_dir) if config.resume else None
    latest = state.model_checkpoint_path if state else None
    if latest:
        run_directory.check_checkpoint_files(latest)
    start_step = run_directory.checkpoint_step(latest) if latest else 0
    model = MODELS[config.model]
    train_labels, test_labels = dataset.encoded_labels(not config.integer_labels)

    graph = tf.Graph()
    device = tf.device(config.device) if config.device else contextlib.nullcontext()
    with graph.as_default(), device:
        tf.compat.v1.set_random_seed(config.seed)
        preloaded = None
        if config.input_pipeline == "in_graph":
            # The batches of the steps still to run; a finished run that is
            # resumed gets one unused row (a schedule is never empty).
            preloaded = in_graph_input.PreloadedBatches(
                dataset.train_images, train_labels,
                mnist_data.batch_schedule(
                    config.seed, start_step, max(config.steps - start_step, 1),
                    config.batch_size, dataset.train_size,
                ),
            )
            images, labels = preloaded.images, preloaded.labels
        else:
            images, labels = classifier.placeholder_inputs(config)
        endpoints = model.build(images, labels, config)
        trainable = tf.compat.v1.trainable_variables()
        loader = weights.Loader(trainable)
        predictions = tf.argmax(endpoints["outputs"], axis=1)
        shuffled_indices = tf.random.shuffle(tf.range(dataset.train_size))
        initializer = tf.compat.v1.global_variables_initializer()
        saver = tf.compat.v1.train.Saver(max_to_keep=3) if config.output_dir else None
        summaries = (
            tf1_summaries.Summaries(endpoints["loss"], endpoints["learning_rate"])
            if config.output_dir else None
        )
    # Finalising catches any op accidentally added inside the training loop.
    graph.finalize()

    batches_per_epoch = dataset.train_size // config.batch_size
    epoch_order = None
    accuracy_trace = {}
    loss_trace = []
    progress = reporting.ProgressLogger(
        "tf1_graph", config.steps, config.batch_size, quiet=config.quiet
    )
    writer = (
        tf1_summaries.SummaryWriter(side_dir, summaries, graph)
        if side_dir else contextlib.nullcontext()
    )
    with tf.compat.v1.Session(graph=graph) as session, writer:
        if latest:
            # Restores every variable: the weights, global_step (so a
            # decaying learning rate resumes where it was) and the
            # optimizer's slots.
            saver.restore(session, latest)
            loss_trace, accuracy_trace = run_directory.read_state(side_dir, start_step)
            logging.info("tf1_graph resumes from %s, step %d", latest, start_step)
        else:
            session.run(initializer)
        if preloaded:
            preloaded.initialize(session)
        if config.rng == "numpy" and not latest:
            loader.load(
                session,
                config.draw_initial_values(
                    {weights.variable_name(v): v.shape.as_list() for v in trainable}
                ),
            )

        def record_test_accuracy(step: int) -> None:
            correct = session.run(
                endpoints["correct"],
                feed_dict={images: dataset.test_images, labels: test_labels},
            )
            accuracy_trace[step] = int(correct) / dataset.test_size
            if summaries:
                writer.test_accuracy(session, step, accuracy_trace[step])

        if 0 in config.eval_steps and not latest:
            record_test_accuracy(0)
        start = time.perf_counter()
        checkpoint = None
        for step in range(start_step, config.steps):
            # As the codelab fed pkeep with every batch.
            feed = {endpoints["keep_prob"]: config.dropout_keep}
            if preloaded:
                batch = None  # The graph gathers the scheduled batch itself.
            elif config.rng == "numpy":
                batch = mnist_data.batch_indices(
                    config.seed, step, config.batch_size, dataset.train_size
                )
            else:
                epoch, position = divmod(step, batches_per_epoch)
                if position == 0:
                    epoch_order = session.run(shuffled_indices)
                batch = epoch_order[
                    position * config.batch_size : (position + 1) * config.batch_size
                ]
            fetches = [endpoints["loss"], endpoints["train_op"]]
            if summaries:
                fetches.append(summaries.train_step)
            if batch is not None:
                feed.update({images: dataset.train_images[batch], labels: train_labels[batch]})
            fetched = session.run(fetches, feed_dict=feed)
            loss_trace.append(float(fetched[0]))
            if summaries:
                writer.train_step(step, fetched[2])
            if not config.allow_nonfinite:
                checks.check_finite_loss(loss_trace[-1], step, config.loss)
            progress.step_done(step + 1, loss_trace[-1])
            if step + 1 in config.eval_steps:
                record_test_accuracy(step + 1)
            if saver and run_directory.should_checkpoint(
                step + 1, config.steps, config.checkpoint_every
            ):
                run_directory.write_state(side_dir, step + 1, loss_trace, accuracy_trace)
                checkpoint = saver.save(
                    session, os.path.join(side_dir, "model.ckpt"), global_step=step + 1
                )
        seconds = time.perf_counter() - start
        if latest and start_step == config.steps:
            checkpoint = latest  # Resumed a run that had already finished.
        final_weights = weights.read(session, trainable)
        test_predictions = session.run(predictions, feed_dict={images: dataset.test_images})
    if config.export_dir:
        # The training graph is finalised and a SavedModel builder adds ops,
        # so the export rebuilds the inference graph from the trained values.
        export.export_saved_model(model.inference, config, final_weights, config.export_dir)
    return reporting.run_metrics(
        side="tf1_graph",
        model=config.model,
        dataset=dataset.describe(),
        accuracy_trace=accuracy_trace,
        loss_trace=loss_trace,
        seconds=seconds,
        checkpoint=checkpoint,
        weights=final_weights,
        test_predictions=test_predictions,
    )


def main(argv: Sequence[str]) -> None:
    """`python -m tf1_graph.train`: one device; --strategy=mirrored builds
    towers over --num_replicas devices (tf1_graph.towers); multi_worker runs
    a parameter server and workers (tf1_graph.cluster)."""
    strategy = distribute_flags.STRATEGY.value
    if strategy == "none":
        definitions.make_training_main(train, EXPERIMENTS)(argv)
        return
    # Imported here because both build on this module.
    from tf1_graph import cluster
    from tf1_graph import towers

    if strategy == "multi_worker":
        cluster.main(argv)
        return

    def train_on_towers(config: config_lib.TrainConfig, dataset: mnist_data.Dataset):
        return towers.train(config, dataset, distribute_flags.NUM_REPLICAS.value)

    definitions.make_training_main(train_on_towers, {})(argv)


if __name__ == "__main__":
    app.run(main)
