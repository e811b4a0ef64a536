"""The tf.compat.v1.train optimizers the documents use, by flag name."""

import tensorflow as tf

from flags import config as config_lib


def create(
    name: str, learning_rate: tf.Tensor | float, momentum: float = 0.9
) -> tf.compat.v1.train.Optimizer:
    """Returns a TF1 optimizer with its TF1 defaults.

    Those defaults are what tf2_eager's "tf1" semantics reproduce:
    RMSPropOptimizer(decay=0.9, momentum=0, epsilon=1e-10) starts its
    mean-square accumulator at ones; AdamOptimizer uses epsilon 1e-8.
    """
    if name == "gradient_descent":
        return tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
    if name == "momentum":
        return tf.compat.v1.train.MomentumOptimizer(learning_rate, momentum)
    if name == "rmsprop":
        return tf.compat.v1.train.RMSPropOptimizer(learning_rate)
    if name == "adam":
        return tf.compat.v1.train.AdamOptimizer(learning_rate)
    raise ValueError(
        f"Unknown optimizer {name!r}; expected one of "
        f"{', '.join(config_lib.OPTIMIZERS)}."
    )
