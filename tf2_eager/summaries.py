"""TensorBoard scalars the TF2 way: tf.summary.create_file_writer and
tf.summary.scalar, no graph and no Session.

The TF2 form of tf1_graph/summaries.py, with the same tags
(runtime.reporting's), so TensorBoard overlays the two sides' runs. Where
TF1 built summary ops and fetched them with the step, TF2 calls
tf.summary.scalar with a value and a step while a writer is the default. In
a loop:

    writer = summaries.SummaryWriter(logdir)
    rate = summaries.learning_rate(optimizer)  # before the step's update
    loss_value = train_step(images, labels)
    writer.train_step(step, loss_value, rate)
    ...
    writer.test_accuracy(step, accuracy)
    writer.close()

tf.summary.scalar needs the tensorboard package (TensorFlow 2.21 no longer
installs it): without it, it raises TBNotInstalledError.
"""

from typing import Union

import tensorflow as tf

from runtime import reporting

Scalar = Union[float, tf.Tensor]


class SummaryWriter:
    """Writes a run's summaries to an event file in logdir; close() at the end
    (or use it as a context manager)."""

    def __init__(self, logdir: str):
        """Opens the event file in logdir, created if needed."""
        self._writer = tf.summary.create_file_writer(logdir)

    def train_step(self, step: int, loss: Scalar, learning_rate: Scalar) -> None:
        """Records the loss of 0-based step `step` (before its update) and the
        learning rate the step used."""
        with self._writer.as_default(step=step):
            tf.summary.scalar(reporting.LOSS_TAG, loss)
            tf.summary.scalar(reporting.LEARNING_RATE_TAG, learning_rate)

    def test_accuracy(self, step: int, accuracy: Scalar) -> None:
        """Records the test accuracy after `step` updates (0: before training)."""
        with self._writer.as_default(step=step):
            tf.summary.scalar(reporting.TEST_ACCURACY_TAG, accuracy)

    def close(self) -> None:
        """Flushes the event file and closes it."""
        self._writer.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def learning_rate(optimizer) -> float:
    """The rate the optimizer's next update will use.

    Keras optimizers evaluate their schedule at their iteration count when
    `learning_rate` is read; the TF1-semantics optimizers
    (tf2_eager/optimizers.py) keep the schedule itself, which is called here
    at the same count.

    Args:
      optimizer: A tf.keras optimizer or one of optimizers.Tf1Adam and
        optimizers.Tf1RMSProp, with or without a CodelabDecay schedule.
    """
    rate = optimizer.learning_rate
    if callable(rate):
        rate = rate(optimizer.iterations)
    # A tensor first: under a tf.distribute strategy the rate is a Keras
    # variable around a MirroredVariable, which float() does not read.
    return float(tf.convert_to_tensor(rate))
