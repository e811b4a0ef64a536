"""The TF tutorials' fully_connected_feed.py / mnist.py MLP, its layers in tf.layers.

tensorflow/examples/tutorials/mnist/mnist.py splits the model into
`inference` (two ReLU layers of 128 and 32 units in name scopes hidden1 and
hidden2, then softmax_linear), `loss` (tf.losses.sparse_softmax_cross_entropy
on integer class ids) and `training` (a loss summary, a global_step variable
and GradientDescentOptimizer; its --learning_rate defaults to 0.01, which
moves the loss visibly only after hundreds of steps, so this setting takes
0.1, for a loss that falls within the 20 steps the tests train). Here each
layer is tf.layers.dense inside the tutorial's name scope, as many teams
rewrote it: a name scope does not scope tf.layers' variables, so they are
named dense/kernel, dense_1/kernel and dense_2/kernel, not hidden1/weights,
and only their creation order says which is which. Needs legacy Keras (see tf1_graph/legacy).
"""

import tensorflow as tf

from mnist_data import NUM_CLASSES
from tf1_graph import legacy

LABELS = "integer"
HIDDEN1_UNITS = 128
HIDDEN2_UNITS = 32
# Ten times the tutorial's default (see the module docstring).
LEARNING_RATE = 0.1


def inference(images: tf.Tensor, hidden1_units: int, hidden2_units: int) -> tuple[tf.Tensor, dict]:
    """Builds the model up to the logits.

    Args:
      images: float32 [batch, 784].
      hidden1_units, hidden2_units: Sizes of the hidden layers.

    Returns:
      (logits float32 [batch, NUM_CLASSES], {layer name: tensor} in order).
    """
    layers = legacy.layers()
    with tf.name_scope("hidden1"):
        hidden1 = layers.dense(images, hidden1_units, activation=tf.nn.relu)
    with tf.name_scope("hidden2"):
        hidden2 = layers.dense(hidden1, hidden2_units, activation=tf.nn.relu)
    with tf.name_scope("softmax_linear"):
        logits = layers.dense(hidden2, NUM_CLASSES)
    return logits, {"hidden1": hidden1, "hidden2": hidden2, "softmax_linear": logits}


def loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy; labels are int64 class ids [batch]."""
    return tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)


def training(loss_value: tf.Tensor, learning_rate: float) -> tf.Operation:
    """One SGD step, counted in global_step, with the loss summarised as the tutorial does."""
    tf.compat.v1.summary.scalar("loss", loss_value)
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
    global_step = tf.Variable(0, name="global_step", trainable=False)
    return optimizer.minimize(loss_value, global_step=global_step)


def build(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """compat_tests.ladder's TF1 contract: labels are int64 class ids [batch]."""
    logits, end_points = inference(images, HIDDEN1_UNITS, HIDDEN2_UNITS)
    loss_value = loss(logits, labels)
    return {"outputs": logits, "loss": loss_value,
            "train_op": training(loss_value, LEARNING_RATE), "layers": end_points}
