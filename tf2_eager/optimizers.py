"""The Keras optimizers that replace the documents' tf.compat.v1.train ones."""

import tensorflow as tf

from flags import config as config_lib


def create(name: str, learning_rate: float) -> tf.keras.optimizers.Optimizer:
    """Returns the TF2 optimizer for one of config.OPTIMIZERS.

    gradient_descent: tf.keras.optimizers.SGD applies var -= lr * grad, the
    same arithmetic as tf.compat.v1.train.GradientDescentOptimizer, so the two
    sides stay bit-identical on CPU.
    """
    if name == "gradient_descent":
        return tf.keras.optimizers.SGD(learning_rate)
    raise ValueError(
        f"Unknown optimizer {name!r}; expected one of "
        f"{', '.join(config_lib.OPTIMIZERS)}."
    )
