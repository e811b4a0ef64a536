"""tf-slim's LeNet, trained as slim's train_image_classifier.py trains it.

The network is tf-slim's nets/lenet.py: under `lenet_arg_scope` (every
slim.conv2d and slim.fully_connected gets a ReLU, truncated normal weights of
stddev 0.1 and slim.l2_regularizer(weight_decay)), inside variable scope
"LeNet": conv1 (32 5×5, slim's default 'SAME' padding), pool1 (2×2, stride 2,
slim's default 'VALID'), conv2 (64 5×5), pool2, slim.flatten, fc3 (1024),
dropout3 (slim.dropout with keep_prob 0.5 and an is_training switch), fc4 (10
logits, no activation). The variables are LeNet/conv1/weights,
LeNet/conv1/biases, ..., LeNet/fc4/biases. The loss is slim's
softmax_cross_entropy on one-hot labels plus every regulariser's term
(slim.losses.get_total_loss), and slim.learning.create_train_op applies
MomentumOptimizer(0.01, 0.9), as train_image_classifier.py's defaults do.
lenet_arg_scope's weight decay defaults to 0.0; this setting takes 1e-4, so
that the L2 term is there to port. Needs legacy Keras and tf-slim (see
tf1_graph/legacy).
"""

import tensorflow as tf

from mnist_data import IMAGE_SIDE, NUM_CLASSES
from tf1_graph import legacy

LABELS = "one_hot"
DROPOUT_KEEP_PROB = 0.5
# slim.l2_regularizer(s) adds s × Σw² / 2 (tf.nn.l2_loss) per weight tensor.
WEIGHT_DECAY = 1e-4
WEIGHT_STDDEV = 0.1
LEARNING_RATE = 0.01
MOMENTUM = 0.9


def lenet_arg_scope(weight_decay: float = WEIGHT_DECAY):
    """The arg_scope of nets/lenet.py: ReLU, truncated normal weights, L2 decay."""
    slim = legacy.slim()
    with slim.arg_scope(
        [slim.conv2d, slim.fully_connected],
        weights_regularizer=slim.l2_regularizer(weight_decay),
        weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=WEIGHT_STDDEV),
        activation_fn=tf.nn.relu,
    ) as scope:
        return scope


def lenet(
    images: tf.Tensor,
    num_classes: int = NUM_CLASSES,
    is_training: bool | tf.Tensor = False,
    dropout_keep_prob: float = DROPOUT_KEEP_PROB,
    scope: str = "LeNet",
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """nets/lenet.py's network.

    Args:
      images: float32 [batch, 28, 28, 1].
      num_classes: Number of logits.
      is_training: Whether dropout drops units; a Python bool or a bool tensor.
      dropout_keep_prob: Probability of keeping a unit in training.
      scope: Variable scope of every variable.

    Returns:
      (logits float32 [batch, num_classes], end points {name: tensor} in order).
    """
    slim = legacy.slim()
    end_points = {}
    with tf.compat.v1.variable_scope(scope, "LeNet", [images]):
        net = end_points["conv1"] = slim.conv2d(images, 32, [5, 5], scope="conv1")
        net = end_points["pool1"] = slim.max_pool2d(net, [2, 2], 2, scope="pool1")
        net = end_points["conv2"] = slim.conv2d(net, 64, [5, 5], scope="conv2")
        net = end_points["pool2"] = slim.max_pool2d(net, [2, 2], 2, scope="pool2")
        net = end_points["Flatten"] = slim.flatten(net)
        net = end_points["fc3"] = slim.fully_connected(net, 1024, scope="fc3")
        net = slim.dropout(net, dropout_keep_prob, is_training=is_training, scope="dropout3")
        logits = end_points["Logits"] = slim.fully_connected(
            net, num_classes, activation_fn=None, scope="fc4")
    return logits, end_points


def build(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """compat_tests.ladder's TF1 contract: labels are one-hot float32 [batch, 10]."""
    slim = legacy.slim()
    is_training = tf.compat.v1.placeholder(tf.bool, [], name="is_training")
    with slim.arg_scope(lenet_arg_scope()):
        logits, end_points = lenet(
            tf.reshape(images, [-1, IMAGE_SIDE, IMAGE_SIDE, 1]), is_training=is_training)
    slim.losses.softmax_cross_entropy(logits, labels)
    total_loss = slim.losses.get_total_loss()
    optimizer = tf.compat.v1.train.MomentumOptimizer(LEARNING_RATE, MOMENTUM)
    train_op = slim.learning.create_train_op(total_loss, optimizer)
    return {
        "outputs": logits, "loss": total_loss, "train_op": train_op,
        "train_feed": {is_training: True}, "eval_feed": {is_training: False},
        "layers": end_points,
    }
