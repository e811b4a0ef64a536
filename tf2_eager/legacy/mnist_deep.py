"""TF2 port of tf1_graph/legacy/mnist_deep.py, the tutorials' deep MNIST convnet.

TF1 -> TF2: tf.layers.conv2d(padding="same", relu, truncated normal 0.1,
constant 0.1) -> Conv2D with the same initialisers; max_pooling2d(2, 2,
"same") -> MaxPool2D(2, 2, padding="same"); the tutorial's reshape to
[-1, 7*7*64] -> Flatten() (NHWC order); tf.nn.dropout(keep_prob=0.5) ->
Dropout(rate=0.5), switched by Keras' `training` instead of a keep_prob feed;
softmax_cross_entropy_with_logits on one-hot labels ->
CategoricalCrossentropy(from_logits=True); AdamOptimizer(1e-4) ->
Adam(1e-4, epsilon=1e-8).
"""

import tensorflow as tf

from compat_tests import ladder
from mnist_data import NUM_CLASSES
from tf1_graph.legacy import mnist_deep as legacy_model
from tf2_eager import legacy


def _side(flatten: list[tf.keras.layers.Layer]) -> ladder.Tf2Side:
    initializers = dict(
        kernel_initializer=tf.keras.initializers.TruncatedNormal(stddev=legacy_model.WEIGHT_STDDEV),
        bias_initializer=tf.keras.initializers.Constant(legacy_model.BIAS_VALUE),
    )
    convolutions = []
    for filters in legacy_model.CONV_FILTERS:
        convolutions += [
            tf.keras.layers.Conv2D(filters, legacy_model.KERNEL_SIZE, padding="same",
                                   activation="relu", **initializers),
            tf.keras.layers.MaxPool2D(2, 2, padding="same"),
        ]
    return legacy.keras_side(
        "mnist_deep",
        [
            legacy.to_image(),
            *convolutions,
            *flatten,
            tf.keras.layers.Dense(legacy_model.FC_UNITS, activation="relu", **initializers),
            tf.keras.layers.Dropout(1.0 - legacy_model.KEEP_PROB),
            tf.keras.layers.Dense(NUM_CLASSES, **initializers),
        ],
        tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        tf.keras.optimizers.Adam(legacy_model.LEARNING_RATE, epsilon=legacy.TF1_ADAM_EPSILON),
    )


def make_tf2() -> ladder.Tf2Side:
    """The true port."""
    return _side([tf.keras.layers.Flatten()])


def make_tf2_flatten_nchw() -> ladder.Tf2Side:
    """Planted mistake: the pooled maps are flattened in NCHW (channel-major)
    order, as a port from PyTorch's `x.view(N, -1)` or a channels_first model
    does, while TF1 flattened NHWC. Every shape matches, so the variables rung
    passes; the forward rung fails (systematic), localised at the flatten, with
    the cause "Feature order"."""
    return _side([tf.keras.layers.Permute((3, 1, 2)), tf.keras.layers.Flatten()])
