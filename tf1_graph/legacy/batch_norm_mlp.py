"""An MLP with tf.layers.batch_normalization, UPDATE_OPS and an is_training placeholder.

The pattern of tf.compat.v1.layers.batch_normalization's own documentation
(and of countless TF1 models): the layer takes `training=is_training`, a
bool placeholder fed True in training steps and False at inference; its
moving mean and variance are updated by ops it puts in the UPDATE_OPS
collection, which run only because the train op is built under
`tf.control_dependencies(update_ops)`. Two hidden layers of 100 units, each
dense without bias (batch norm's beta replaces it) -> batch norm with decay
(`momentum`) 0.9 and epsilon 1e-3 -> ReLU, then 10 logits; AdamOptimizer(1e-3)
on the mean softmax cross-entropy of one-hot labels. The variables are
dense/kernel, batch_normalization/{gamma, beta, moving_mean,
moving_variance}, dense_1/kernel, batch_normalization_1/..., dense_2/kernel
and dense_2/bias. Needs legacy Keras (see tf1_graph/legacy).
"""

import tensorflow as tf

from mnist_data import NUM_CLASSES
from tf1_graph import legacy

LABELS = "one_hot"
HIDDEN_UNITS = (100, 100)
# TF1's decay: moving = decay × moving + (1 - decay) × batch statistic.
BATCH_NORM_DECAY = 0.9
BATCH_NORM_EPSILON = 1e-3
LEARNING_RATE = 1e-3


def inference(images: tf.Tensor, is_training: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Builds the MLP.

    Args:
      images: float32 [batch, 784].
      is_training: bool scalar; batch statistics when True, moving ones when False.

    Returns:
      (logits float32 [batch, NUM_CLASSES], {layer name: tensor} in order).
    """
    layers = legacy.layers()
    net, end_points = images, {}
    for index, units in enumerate(HIDDEN_UNITS, start=1):
        net = end_points[f"dense{index}"] = layers.dense(net, units, use_bias=False)
        net = end_points[f"batch_norm{index}"] = layers.batch_normalization(
            net, training=is_training, momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON)
        net = end_points[f"relu{index}"] = tf.nn.relu(net)
    logits = end_points["logits"] = layers.dense(net, NUM_CLASSES)
    return logits, end_points


def build(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """compat_tests.ladder's TF1 contract: labels are one-hot float32 [batch, 10]."""
    is_training = tf.compat.v1.placeholder(tf.bool, [], name="is_training")
    logits, end_points = inference(images, is_training)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    # Without this dependency the moving statistics never move, and
    # inference normalises with their initial values (0 and 1).
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.compat.v1.train.AdamOptimizer(LEARNING_RATE).minimize(loss)
    return {
        "outputs": logits, "loss": loss, "train_op": train_op,
        "train_feed": {is_training: True}, "eval_feed": {is_training: False},
        "layers": end_points,
    }
