"""TF2 port of tf1_graph/legacy/slim_lenet.py, tf-slim's LeNet.

TF1 -> TF2: slim.arg_scope's shared settings -> a dict of keyword arguments
given to each Conv2D and Dense; slim.conv2d (default 'SAME') ->
Conv2D(padding="same"); slim.max_pool2d([2, 2], 2) (default 'VALID') ->
MaxPool2D(2, 2); slim.flatten -> Flatten() (NHWC order); slim.fully_connected
-> Dense; slim.dropout(keep_prob 0.5, is_training) -> Dropout(rate=0.5) and
Keras' `training`; truncated_normal_initializer(stddev=0.1) ->
TruncatedNormal(stddev=0.1), zero biases both; slim.l2_regularizer(s) ->
kernel_regularizer=L2(s / 2), because slim adds s·tf.nn.l2_loss(w) = s·Σw²/2
and Keras' L2(l) adds l·Σw²; slim.losses.get_total_loss (cross-entropy plus
REGULARIZATION_LOSSES) -> CategoricalCrossentropy(from_logits=True) plus
model.losses, which the ladder adds as `fit` does; MomentumOptimizer(0.01,
0.9) -> SGD(0.01, momentum=0.9), the same update for a constant rate.
"""

import tensorflow as tf

from compat_tests import ladder
from mnist_data import NUM_CLASSES
from tf1_graph.legacy import slim_lenet as legacy_model
from tf2_eager import legacy


def _side(l2_factor: float) -> ladder.Tf2Side:
    shared = dict(
        activation="relu",
        kernel_initializer=tf.keras.initializers.TruncatedNormal(stddev=legacy_model.WEIGHT_STDDEV),
        kernel_regularizer=tf.keras.regularizers.L2(l2_factor),
    )
    logits_settings = {**shared, "activation": None}
    return legacy.keras_side(
        "lenet",
        [
            legacy.to_image(),
            tf.keras.layers.Conv2D(32, 5, padding="same", name="conv1", **shared),
            tf.keras.layers.MaxPool2D(2, 2, name="pool1"),
            tf.keras.layers.Conv2D(64, 5, padding="same", name="conv2", **shared),
            tf.keras.layers.MaxPool2D(2, 2, name="pool2"),
            tf.keras.layers.Flatten(name="flatten"),
            tf.keras.layers.Dense(1024, name="fc3", **shared),
            tf.keras.layers.Dropout(1.0 - legacy_model.DROPOUT_KEEP_PROB, name="dropout3"),
            tf.keras.layers.Dense(NUM_CLASSES, name="fc4", **logits_settings),
        ],
        tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        tf.keras.optimizers.SGD(legacy_model.LEARNING_RATE, momentum=legacy_model.MOMENTUM),
    )


def make_tf2() -> ladder.Tf2Side:
    """The true port: L2(weight_decay / 2), slim's Σw²/2 convention."""
    return _side(legacy_model.WEIGHT_DECAY / 2)


def make_tf2_l2_not_halved() -> ladder.Tf2Side:
    """Planted mistake: L2(weight_decay), slim's scale passed to Keras as is,
    which doubles the penalty. The outputs agree and the loss is higher by
    weight_decay·Σw²/2: the forward rung fails (systematic) on the loss, with
    the cause "L2 term" (TF2's loss higher by 0.0001 × Σ tf.nn.l2_loss(kernel))."""
    return _side(legacy_model.WEIGHT_DECAY)
