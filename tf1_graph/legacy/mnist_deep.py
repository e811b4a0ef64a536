"""The TF tutorials' "Deep MNIST for experts" convnet, with tf.layers as users wrote it.

The network is tensorflow/examples/tutorials/mnist/mnist_deep.py's `deepnn`:
reshape to 28×28×1, 5×5 convolutions of 32 and 64 filters with 'SAME'
padding, each followed by 2×2 max pooling, a 1024-unit ReLU layer, dropout
fed through a `keep_prob` placeholder, and 10 logits, trained with
AdamOptimizer(1e-4) on the mean softmax cross-entropy of one-hot labels.
The layers are written with tf.layers, as aymericdamien/TensorFlow-Examples'
convolutional_network.py writes them (unnamed, so TensorFlow names the
variables conv2d/kernel, conv2d_1/kernel, dense/kernel, dense_1/kernel),
with the tutorial's initialisers: truncated normal of stddev 0.1 for the
weights, 0.1 for the biases. The flatten is the tutorial's reshape to
[-1, 7*7*64], in NHWC order. Needs legacy Keras (see tf1_graph/legacy).
"""

import tensorflow as tf

from mnist_data import IMAGE_SIDE, NUM_CLASSES
from tf1_graph import legacy

LABELS = "one_hot"
CONV_FILTERS = (32, 64)
KERNEL_SIZE = 5
FC_UNITS = 1024
KEEP_PROB = 0.5
LEARNING_RATE = 1e-4
WEIGHT_STDDEV = 0.1
BIAS_VALUE = 0.1


def deepnn(images: tf.Tensor, keep_prob: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Builds the convnet.

    Args:
      images: float32 [batch, 784], pixels in [0, 1].
      keep_prob: float32 scalar placeholder, the probability of keeping a unit.

    Returns:
      (logits float32 [batch, NUM_CLASSES], {layer name: tensor} in order).
    """
    layers = legacy.layers()
    conv_settings = dict(
        padding="same", activation=tf.nn.relu,
        kernel_initializer=tf.compat.v1.truncated_normal_initializer(stddev=WEIGHT_STDDEV),
        bias_initializer=tf.compat.v1.constant_initializer(BIAS_VALUE),
    )
    end_points = {}
    with tf.name_scope("reshape"):
        net = end_points["reshape"] = tf.reshape(images, [-1, IMAGE_SIDE, IMAGE_SIDE, 1])
    for index, filters in enumerate(CONV_FILTERS, start=1):
        with tf.name_scope(f"conv{index}"):
            net = end_points[f"conv{index}"] = layers.conv2d(
                net, filters, KERNEL_SIZE, **conv_settings)
        with tf.name_scope(f"pool{index}"):
            net = end_points[f"pool{index}"] = layers.max_pooling2d(net, 2, 2, padding="same")
    with tf.name_scope("fc1"):
        # The tutorial's flatten: two 2×2 poolings leave 7×7 maps of the last filters.
        pooled_size = IMAGE_SIDE // 4
        net = end_points["flatten"] = tf.reshape(
            net, [-1, pooled_size * pooled_size * CONV_FILTERS[-1]])
        net = end_points["fc1"] = layers.dense(
            net, FC_UNITS, activation=tf.nn.relu,
            kernel_initializer=conv_settings["kernel_initializer"],
            bias_initializer=conv_settings["bias_initializer"])
    with tf.name_scope("dropout"):
        net = tf.compat.v1.nn.dropout(net, keep_prob=keep_prob)
    with tf.name_scope("fc2"):
        logits = end_points["logits"] = layers.dense(
            net, NUM_CLASSES,
            kernel_initializer=conv_settings["kernel_initializer"],
            bias_initializer=conv_settings["bias_initializer"])
    return logits, end_points


def build(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """compat_tests.ladder's TF1 contract: labels are one-hot float32 [batch, 10]."""
    keep_prob = tf.compat.v1.placeholder(tf.float32, name="keep_prob")
    logits, end_points = deepnn(images, keep_prob)
    with tf.name_scope("loss"):
        cross_entropy = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    with tf.name_scope("adam_optimizer"):
        train_op = tf.compat.v1.train.AdamOptimizer(LEARNING_RATE).minimize(cross_entropy)
    return {
        "outputs": logits, "loss": cross_entropy, "train_op": train_op,
        "train_feed": {keep_prob: KEEP_PROB}, "eval_feed": {keep_prob: 1.0},
        "layers": end_points,
    }
