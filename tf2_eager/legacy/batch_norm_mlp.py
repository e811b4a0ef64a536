"""TF2 port of tf1_graph/legacy/batch_norm_mlp.py, batch norm with UPDATE_OPS.

TF1 -> TF2: tf.layers.dense(use_bias=False) -> Dense(use_bias=False);
tf.layers.batch_normalization(training=is_training, momentum=0.9,
epsilon=1e-3) -> BatchNormalization(momentum=0.9, epsilon=1e-3), its mode
taken from Keras' `training` argument instead of a bool placeholder; the
UPDATE_OPS control dependency -> nothing: a Keras layer called with
training=True updates its moving statistics itself; softmax cross-entropy on
one-hot labels -> CategoricalCrossentropy(from_logits=True);
AdamOptimizer(1e-3) -> Adam(1e-3, epsilon=1e-8).
"""

import tensorflow as tf

from compat_tests import ladder
from mnist_data import NUM_CLASSES
from tf1_graph.legacy import batch_norm_mlp as legacy_model
from tf2_eager import legacy


def _side(momentum: float) -> ladder.Tf2Side:
    hidden = []
    for units in legacy_model.HIDDEN_UNITS:
        hidden += [
            tf.keras.layers.Dense(units, use_bias=False),
            tf.keras.layers.BatchNormalization(momentum=momentum,
                                               epsilon=legacy_model.BATCH_NORM_EPSILON),
            tf.keras.layers.ReLU(),
        ]
    return legacy.keras_side(
        "batch_norm_mlp",
        [*hidden, tf.keras.layers.Dense(NUM_CLASSES)],
        tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        tf.keras.optimizers.Adam(legacy_model.LEARNING_RATE, epsilon=legacy.TF1_ADAM_EPSILON),
    )


def make_tf2() -> ladder.Tf2Side:
    """The true port: Keras' momentum is TF1's decay."""
    return _side(legacy_model.BATCH_NORM_DECAY)


def make_tf2_bn_momentum_0_99() -> ladder.Tf2Side:
    """Planted mistake: BatchNormalization() at Keras' default momentum 0.99
    where TF1 decays with 0.9. The first outputs, gradients and weight update
    agree; the moving statistics move 10× less per step: the one_update rung
    fails (systematic) on batch_normalization/moving_mean, with the cause
    "Moving-average rate" (TF2 momentum 0.99, TF1 decay about 0.9)."""
    return _side(0.99)
