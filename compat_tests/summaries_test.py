"""Both sides' TensorBoard summaries, written by a matched pair of real runs
and read back: the same tags, steps and values on both sides."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import events
from flags import config as config_lib
from runtime import reporting
from tf1_graph import classifier as tf1_classifier
from tf1_graph import softmax_regression as tf1_softmax
from tf1_graph import summaries as tf1_summaries
from tf1_graph import weights as tf1_weights
from tf2_eager import classifier as tf2_classifier
from tf2_eager import optimizers as tf2_optimizers
from tf2_eager import softmax_regression as tf2_softmax
from tf2_eager import summaries as tf2_summaries
from tf2_eager import steps as tf2_steps
from tf2_eager import weights as tf2_weights

# A decaying rate, so the learning-rate scalar changes from step to step.
CONFIG = config_lib.TrainConfig(
    steps=30,
    learning_rate=0.5,
    learning_rate_decay="exponential",
    min_learning_rate=0.05,
    decay_steps=10.0,
    eval_at=(0, 15),
)


@pytest.fixture(scope="module")
def dataset():
    return mnist_data.load_dataset("mnist_embedded")


def _batches(dataset):
    for step in range(CONFIG.steps):
        indices = mnist_data.batch_indices(CONFIG.seed, step, CONFIG.batch_size, dataset.train_size)
        yield step, dataset.train_images[indices], mnist_data.one_hot(dataset.train_labels[indices])


def _train_tf1(dataset, logdir) -> list[float]:
    """TF1 graph-style training with summaries; returns each step's loss."""
    test_labels = mnist_data.one_hot(dataset.test_labels)
    graph = tf.Graph()
    with graph.as_default():
        images, labels = tf1_classifier.placeholder_inputs(CONFIG.integer_labels)
        endpoints = tf1_softmax.build(
            images, labels, CONFIG.model_config, CONFIG.loss, CONFIG.optimizer_config
        )
        summaries = tf1_summaries.Summaries(endpoints["loss"], endpoints["learning_rate"])
        trainable = tf.compat.v1.trainable_variables()
        loader = tf1_weights.Loader(trainable)
        initializer = tf.compat.v1.global_variables_initializer()
    graph.finalize()
    losses = []
    with tf.compat.v1.Session(graph=graph) as session, tf1_summaries.SummaryWriter(
        logdir, summaries, graph
    ) as writer:
        session.run(initializer)
        loader.load(session, CONFIG.draw_initial_values(
            {tf1_weights.variable_name(v): v.shape.as_list() for v in trainable}))

        def record_accuracy(step):
            correct = session.run(
                endpoints["correct"], feed_dict={images: dataset.test_images, labels: test_labels}
            )
            writer.test_accuracy(session, step, int(correct) / dataset.test_size)

        record_accuracy(0)
        for step, batch_images, batch_labels in _batches(dataset):
            loss_value, train_summary, _ = session.run(
                [endpoints["loss"], summaries.train_step, endpoints["train_op"]],
                feed_dict={images: batch_images, labels: batch_labels},
            )
            writer.train_step(step, train_summary)
            losses.append(float(loss_value))
            if step + 1 in CONFIG.eval_steps:
                record_accuracy(step + 1)
    return losses


def _train_tf2(dataset, logdir) -> list[float]:
    """TF2 eager training with summaries; returns each step's loss."""
    test_labels = mnist_data.one_hot(dataset.test_labels)
    model = tf2_softmax.create(CONFIG.model_config, CONFIG.seed)
    tf2_weights.assign(model.trainable_variables, CONFIG.draw_initial_values(
        {tf2_weights.variable_name(v): v.shape.as_list() for v in model.trainable_variables}))
    optimizer = tf2_optimizers.create(CONFIG.optimizer_config)
    train_step = tf2_steps.make_train_step(
        model, tf2_classifier.keras_loss(CONFIG.loss), optimizer
    )
    count_correct = tf2_steps.make_count_correct(model)
    losses = []
    with tf2_summaries.SummaryWriter(logdir) as writer:

        def record_accuracy(step):
            correct = count_correct(dataset.test_images, test_labels)
            writer.test_accuracy(step, int(correct) / dataset.test_size)

        record_accuracy(0)
        for step, batch_images, batch_labels in _batches(dataset):
            rate = tf2_summaries.learning_rate(optimizer)
            loss_value = train_step(batch_images, batch_labels)
            writer.train_step(step, loss_value, rate)
            losses.append(float(loss_value))
            if step + 1 in CONFIG.eval_steps:
                record_accuracy(step + 1)
    return losses


def _value_kinds(logdir) -> set[str]:
    """How the file stores its scalars: "simple_value" or "tensor"."""
    (path,) = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    return {
        value.WhichOneof("value")
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
    }


def test_matched_runs_write_the_same_scalars_on_both_sides(dataset, tmp_path):
    tf1_dir, tf2_dir = str(tmp_path / "tf1_graph"), str(tmp_path / "tf2_eager")
    tf1_losses = _train_tf1(dataset, tf1_dir)
    tf2_losses = _train_tf2(dataset, tf2_dir)

    tf1, tf2 = events.read_scalars(tf1_dir), events.read_scalars(tf2_dir)

    # The two files store scalars in their own formats, and the reader reads both.
    assert _value_kinds(tf1_dir) == {"simple_value"}
    assert _value_kinds(tf2_dir) == {"tensor"}
    tags = {reporting.LOSS_TAG, reporting.LEARNING_RATE_TAG, reporting.TEST_ACCURACY_TAG}
    assert set(tf1) == set(tf2) == tags
    for side in (tf1, tf2):
        assert [step for step, _ in side[reporting.LOSS_TAG]] == list(range(CONFIG.steps))
        assert [step for step, _ in side[reporting.LEARNING_RATE_TAG]] == list(range(CONFIG.steps))
        assert [step for step, _ in side[reporting.TEST_ACCURACY_TAG]] == [0, 15, 30]
    # Matched gradient descent is bit-identical, summaries included.
    for tag in tags:
        assert tf1[tag] == tf2[tag], tag
    # Each side's summary holds the loss its step returned (before the update),
    # stored in float32.
    for losses, side in ((tf1_losses, tf1), (tf2_losses, tf2)):
        np.testing.assert_array_equal(
            [value for _, value in side[reporting.LOSS_TAG]], np.float32(losses)
        )
    np.testing.assert_array_equal(
        [value for _, value in tf1[reporting.LEARNING_RATE_TAG]],
        [np.float32(CONFIG.optimizer_config.learning_rate_at(step))
         for step in range(CONFIG.steps)],
    )
    accuracies = [value for _, value in tf1[reporting.TEST_ACCURACY_TAG]]
    assert accuracies[0] < 0.2 < 0.8 < accuracies[-1]


@pytest.mark.parametrize(
    "optimizer, semantics",
    [("gradient_descent", "tf1"), ("adam", "tf1"), ("rmsprop", "tf1"), ("adam", "keras")],
)
@pytest.mark.parametrize("decay", ["none", "exponential"])
def test_learning_rate_reads_the_rate_of_the_next_update(optimizer, semantics, decay):
    config = config_lib.TrainConfig(
        optimizer=optimizer, optimizer_semantics=semantics, learning_rate_decay=decay,
        learning_rate=0.01, min_learning_rate=0.001, decay_steps=100.0,
    )
    tf2_optimizer = tf2_optimizers.create(config.optimizer_config)

    tf2_optimizer.iterations.assign(250)

    expected = np.float32(config.optimizer_config.learning_rate_at(250))
    assert tf2_summaries.learning_rate(tf2_optimizer) == expected


def test_tf1_summaries_built_twice_in_a_graph_would_change_the_tag():
    with tf.Graph().as_default():
        loss = tf.constant(1.0)
        tf1_summaries.Summaries(loss, tf.constant(0.1))

        with pytest.raises(ValueError, match=r"tag 'train/loss' got 'train/loss_1'.*once per graph"):
            tf1_summaries.Summaries(loss, tf.constant(0.1))


def test_reading_a_directory_without_event_files_names_the_pattern(tmp_path):
    with pytest.raises(ValueError, match=r"No event files \(events.out.tfevents.\*\)"):
        events.read_scalars(str(tmp_path))
