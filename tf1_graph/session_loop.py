"""The feed_dict loop of a replicated TF1 run, shared by towers and cluster workers.

Both tf1_graph/towers.py (one Session over N devices) and the workers of
tf1_graph/cluster.py (one Session each, on a gRPC server) feed the batches
of mnist_data.batch_indices into the same endpoints and record the same
traces; only the session and the steps each one runs differ.
"""

import dataclasses
import time
from typing import Iterable

import tensorflow as tf

import mnist_data
from flags import config as config_lib
from mnist_data import checks
from mnist_data import reporting


@dataclasses.dataclass(frozen=True)
class Feeds:
    """The graph's inputs and the tensors the loop runs.

    Attributes:
      images: Images placeholder, float32 [None, 784].
      labels: Labels placeholder (one-hot rows or class ids).
      keep_prob: Dropout keep-probability placeholder, fed every step.
      loss: The global batch's loss, before the update.
      train_op: The update.
      correct: Number of correct predictions among the fed images.
    """

    images: tf.Tensor
    labels: tf.Tensor
    keep_prob: tf.Tensor
    loss: tf.Tensor
    train_op: tf.Operation
    correct: tf.Tensor


def test_accuracy(
    session: tf.compat.v1.Session, feeds: Feeds, dataset: mnist_data.Dataset, config: config_lib.TrainConfig
) -> float:
    """Fraction of the test split the current weights classify correctly."""
    _, test_labels = dataset.encoded_labels(not config.integer_labels)
    correct = session.run(
        feeds.correct, feed_dict={feeds.images: dataset.test_images, feeds.labels: test_labels}
    )
    return int(correct) / dataset.test_size


def run_steps(
    session: tf.compat.v1.Session,
    feeds: Feeds,
    dataset: mnist_data.Dataset,
    config: config_lib.TrainConfig,
    steps: Iterable[int],
    eval_steps: Iterable[int],
    side: str,
) -> tuple[list[float], dict[int, float], float]:
    """Runs the given global steps, each on its batch_indices(seed, step) batch.

    Args:
      session: A session on the graph of `feeds`, variables initialised.
      feeds: The graph's endpoints.
      dataset: The data; test accuracy is measured on its test split.
      config: Uses seed, batch_size, dropout_keep, steps, loss and
        allow_nonfinite.
      steps: The 0-based global steps to run, in order.
      eval_steps: After which steps (step + 1, 0 = before training) to record
        test accuracy.
      side: Name in the progress lines.

    Returns:
      (loss_trace, accuracy_trace, seconds of the training loop).
    """
    steps = list(steps)
    eval_steps = set(eval_steps)
    train_labels, _ = dataset.encoded_labels(not config.integer_labels)
    accuracy_trace = {}
    loss_trace = []
    progress = reporting.ProgressLogger(side, len(steps), config.batch_size)
    if 0 in eval_steps:
        accuracy_trace[0] = test_accuracy(session, feeds, dataset, config)
    start = time.perf_counter()
    for count, step in enumerate(steps, start=1):
        batch = mnist_data.batch_indices(config.seed, step, config.batch_size, dataset.train_size)
        loss_value, _ = session.run(
            [feeds.loss, feeds.train_op],
            feed_dict={
                feeds.images: dataset.train_images[batch],
                feeds.labels: train_labels[batch],
                feeds.keep_prob: config.dropout_keep,
            },
        )
        loss_trace.append(float(loss_value))
        if not config.allow_nonfinite:
            checks.check_finite_loss(loss_trace[-1], step, config.loss)
        progress.step_done(count, loss_trace[-1])
        if step + 1 in eval_steps:
            accuracy_trace[step + 1] = test_accuracy(session, feeds, dataset, config)
    return loss_trace, accuracy_trace, time.perf_counter() - start
