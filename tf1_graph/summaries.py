"""TensorBoard scalars the TF1 way: summary ops in the graph, a FileWriter.

The TF1 train loop finalises its graph before the Session starts, so this
comes in two parts:
- build time, before graph.finalize(): `Summaries(loss, learning_rate)` adds
  tf.compat.v1.summary.scalar ops. `summaries.train_step` is fetched in the
  same session.run as the loss and the train op, so the loss and learning
  rate it records are the ones of that step, before its update. Test
  accuracy is computed in Python (a count of correct predictions over the
  test size), so its summary op reads a placeholder that is fed the value;
- run time: `SummaryWriter(logdir, summaries, graph)` wraps a
  tf.compat.v1.summary.FileWriter, which also records the graph for
  TensorBoard's Graphs tab.

The tags are runtime.reporting's, the same as tf2_eager/summaries.py's.
In a loop:

    loss_value, train_summary, _ = session.run(
        [endpoints["loss"], summaries.train_step, endpoints["train_op"]], ...)
    writer.train_step(step, train_summary)
    ...
    writer.test_accuracy(session, step, accuracy)
"""

import tensorflow as tf

from runtime import reporting
from runtime import errors


class Summaries:
    """The summary ops of a training graph; build once per graph."""

    def __init__(self, loss: tf.Tensor, learning_rate: tf.Tensor):
        """Adds the summary ops to the default graph.

        Args:
          loss: Loss tensor, float32 scalar, e.g. classifier.build()["loss"].
          learning_rate: The rate of the step, float32 scalar, e.g.
            classifier.build()["learning_rate"].
        """
        # The serialised Summary protocol buffer of one step: fetch it with
        # the loss and the train op.
        self.train_step = tf.compat.v1.summary.merge(
            [_scalar(reporting.LOSS_TAG, loss), _scalar(reporting.LEARNING_RATE_TAG, learning_rate)]
        )
        self.accuracy = tf.compat.v1.placeholder(tf.float32, [], name="test_accuracy")
        self.test_accuracy = _scalar(reporting.TEST_ACCURACY_TAG, self.accuracy)


class SummaryWriter:
    """Writes a run's summaries to an event file in logdir; close() at the end
    (or use it as a context manager)."""

    def __init__(self, logdir: str, summaries: Summaries, graph: tf.Graph):
        """Opens the event file.

        Args:
          logdir: Directory of the event file; created if needed.
          summaries: The graph's Summaries.
          graph: The training graph, recorded for TensorBoard's Graphs tab.
        """
        self._summaries = summaries
        # FileWriter refuses to be created while eager execution is on, which
        # it is at the top level of a TF2 program; inside the graph it is off.
        with graph.as_default():
            self._writer = tf.compat.v1.summary.FileWriter(logdir, graph=graph)

    def train_step(self, step: int, train_summary: bytes) -> None:
        """Records the fetched `Summaries.train_step` of 0-based step `step`."""
        self._writer.add_summary(train_summary, global_step=step)

    def test_accuracy(self, session: tf.compat.v1.Session, step: int, accuracy: float) -> None:
        """Records the test accuracy after `step` updates (0: before training)."""
        summary = session.run(
            self._summaries.test_accuracy, feed_dict={self._summaries.accuracy: accuracy}
        )
        self._writer.add_summary(summary, global_step=step)

    def close(self) -> None:
        """Flushes the event file and closes it."""
        self._writer.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _scalar(tag: str, tensor: tf.Tensor) -> tf.Tensor:
    """A tf.compat.v1.summary.scalar op whose tag is exactly `tag` ("scope/name").

    TF1 derives the tag from the op's name scope and renames a clashing scope
    ("train" becomes "train_1"), which would silently split the two sides'
    runs in TensorBoard, so the tag is checked after building.
    """
    scope, name = tag.split("/")
    # The trailing "/" re-enters the scope as it is, so the second summary in
    # "train" joins the first rather than opening "train_1".
    with tf.compat.v1.name_scope(scope + "/"):
        summary = tf.compat.v1.summary.scalar(name, tensor)
    written = tf.get_static_value(summary.op.inputs[0]).item().decode()
    if written != tag:
        raise errors.FixableError(
            f"The summary meant for tag {tag!r} got {written!r}: the graph already has a "
            f"{tag!r} summary. Build Summaries once per graph."
        )
    return summary
