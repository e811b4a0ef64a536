"""TF2 port of tf1_graph/legacy/fully_connected_feed.py, the tutorials' MLP.

TF1 -> TF2: tf.layers.dense in name scopes hidden1, hidden2, softmax_linear
-> Dense layers of the same sizes (glorot_uniform kernels, zero biases, the
defaults of both); tf.losses.sparse_softmax_cross_entropy on class ids ->
SparseCategoricalCrossentropy(from_logits=True); GradientDescentOptimizer ->
SGD at the same learning rate. The global_step variable and the loss summary
have no counterpart in the model (optimizer.iterations counts steps).
"""

import tensorflow as tf

from compat_tests import ladder
from mnist_data import NUM_CLASSES
from tf1_graph.legacy import fully_connected_feed as legacy_model
from tf2_eager import legacy


def _side(from_logits: bool) -> ladder.Tf2Side:
    return legacy.keras_side(
        "fully_connected_feed",
        [
            tf.keras.layers.Dense(legacy_model.HIDDEN1_UNITS, activation="relu", name="hidden1"),
            tf.keras.layers.Dense(legacy_model.HIDDEN2_UNITS, activation="relu", name="hidden2"),
            tf.keras.layers.Dense(NUM_CLASSES, name="softmax_linear"),
        ],
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        tf.keras.optimizers.SGD(legacy_model.LEARNING_RATE),
    )


def make_tf2() -> ladder.Tf2Side:
    """The true port."""
    return _side(from_logits=True)


def make_tf2_loss_without_from_logits() -> ladder.Tf2Side:
    """Planted mistake: SparseCategoricalCrossentropy() with its default
    from_logits=False, fed the logits TF1's sparse_softmax_cross_entropy took.
    The outputs agree and the losses do not: the forward rung fails
    (systematic) on the loss, with the cause "The outputs agree and the losses
    do not ... (from_logits, ...)"."""
    return _side(from_logits=False)
