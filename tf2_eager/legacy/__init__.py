"""TF2 ports of tf1_graph/legacy's models: idiomatic Keras 3, same module names.

Each module has `make_tf2() -> compat_tests.ladder.Tf2Side`, the true port of
its legacy twin, and one planted mistake factory (`make_tf2_...`) whose
docstring names the ladder rung and cause that should catch it. The ports run
under Keras 3, in the test process; their legacy twins need legacy Keras and
run in a child (tf1_graph/legacy). `python -m tf2_eager.convert_checkpoint
--port=tf2_eager.legacy.NAME` converts a legacy model's Saver checkpoint into
its port's.

Idioms carried across, TF1 -> TF2:
- tf.layers / slim layers -> Keras layers with the same default initialisers
  (glorot_uniform kernels, zero biases) unless the TF1 code set its own.
- 'SAME' convolutions -> padding="same"; slim.max_pool2d's default 'VALID'
  -> MaxPool2D's default "valid".
- A reshape of NHWC maps to [-1, H*W*C] -> Flatten() (channels-last order).
- dropout keep_prob p -> Dropout(rate=1 - p); is_training / keep_prob feeds
  -> Keras' `training` argument.
- batch norm decay d -> BatchNormalization(momentum=d), epsilon 1e-3 both.
- slim.l2_regularizer(s), which adds s·Σw²/2 -> regularizers.L2(s / 2),
  which adds (s/2)·Σw².
- TF1 AdamOptimizer's epsilon 1e-8 -> Keras Adam(epsilon=1e-8) (Keras' default
  is 1e-7); MomentumOptimizer(lr, m) -> SGD(lr, momentum=m).
"""

from typing import Any, Sequence

import tensorflow as tf

from compat_tests import ladder
from mnist_data import IMAGE_PIXELS, IMAGE_SIDE

# TF1's AdamOptimizer default; Keras' Adam defaults to 1e-7.
TF1_ADAM_EPSILON = 1e-8


def keras_side(name: str, layers: Sequence[Any], loss_fn: Any, optimizer: Any) -> ladder.Tf2Side:
    """A Tf2Side around tf.keras.Sequential([Input([784]), *layers], name=name)."""
    model = tf.keras.Sequential([tf.keras.Input([IMAGE_PIXELS]), *layers], name=name)
    return ladder.Tf2Side(model=model, loss_fn=loss_fn, optimizer=optimizer)


def to_image() -> tf.keras.layers.Layer:
    """The tutorials' tf.reshape(images, [-1, 28, 28, 1]): NHWC, one channel."""
    return tf.keras.layers.Reshape([IMAGE_SIDE, IMAGE_SIDE, 1])
