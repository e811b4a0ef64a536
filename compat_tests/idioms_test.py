"""Renamed arguments and moved functions of MIGRATION.md's idiom table that no
model test covers on its own: the TF1 spelling in a graph and the TF2
spelling in eager mode compute the same values."""

import numpy as np
import tensorflow as tf

VALUES = np.random.default_rng(0).random([4, 10], dtype=np.float32)


def _tf1(build) -> np.ndarray:
    """Runs build() -> tensor in a fresh TF1 graph and returns its value."""
    graph = tf.Graph()
    with graph.as_default():
        tensor = build()
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(tensor)


def test_log_and_reduction_indices_and_argmax_dimension():
    tf1_sum = _tf1(lambda: tf.compat.v1.reduce_sum(
        tf.compat.v1.log(tf.constant(VALUES)), reduction_indices=[1]))
    tf2_sum = tf.reduce_sum(tf.math.log(VALUES), axis=1).numpy()
    np.testing.assert_array_equal(tf1_sum, tf2_sum)
    tf1_argmax = _tf1(lambda: tf.compat.v1.argmax(tf.constant(VALUES), dimension=1))
    np.testing.assert_array_equal(tf1_argmax, tf.argmax(VALUES, axis=1).numpy())
    assert tf1_argmax.dtype == np.int64


def test_dropout_keep_prob_is_one_minus_rate():
    # Units are kept with probability keep_prob and scaled by 1 / keep_prob;
    # TF2's rate is the probability of dropping one.
    ones = np.ones([200, 200], np.float32)
    tf1_kept = _tf1(lambda: tf.compat.v1.nn.dropout(tf.constant(ones), keep_prob=0.75, seed=1))
    tf2_kept = tf.nn.dropout(ones, rate=0.25, seed=1).numpy()
    for kept in (tf1_kept, tf2_kept):
        assert set(np.unique(kept)) == {0.0, np.float32(1 / 0.75)}
        assert abs(np.mean(kept > 0) - 0.75) < 0.01


def _scalars(directory) -> dict[str, list[float]]:
    """{tag: values} of the scalar summaries in an events directory."""
    scalars = {}
    for path in directory.iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                scalar = value.simple_value if value.HasField("simple_value") else float(
                    tf.make_ndarray(value.tensor))
                scalars.setdefault(value.tag, []).append(scalar)
    return scalars


def test_tf1_and_tf2_summaries_record_the_same_scalars(tmp_path):
    losses = [2.5, 1.25, 0.5]
    graph = tf.Graph()
    with graph.as_default():
        loss = tf.compat.v1.placeholder(tf.float32, [])
        summary = tf.compat.v1.summary.scalar("loss", loss)
        writer = tf.compat.v1.summary.FileWriter(str(tmp_path / "tf1"))
    with tf.compat.v1.Session(graph=graph) as session:
        for step, value in enumerate(losses):
            writer.add_summary(session.run(summary, feed_dict={loss: value}), step)
    writer.close()
    tf2_writer = tf.summary.create_file_writer(str(tmp_path / "tf2"))
    with tf2_writer.as_default():
        for step, value in enumerate(losses):
            # tf.summary.scalar is this plus TensorBoard's plugin metadata, and
            # needs the tensorboard package; tf.summary.write is core TF.
            tf.summary.write("loss", value, step=step)
    tf2_writer.close()
    assert _scalars(tmp_path / "tf1") == _scalars(tmp_path / "tf2") == {"loss": losses}
