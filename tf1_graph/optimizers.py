"""The TF1 optimizers the documents use, by flag name."""

import tensorflow as tf

from flags import config as config_lib


def create(name: str, learning_rate: float) -> tf.compat.v1.train.Optimizer:
    """Returns a tf.compat.v1.train optimizer for one of config.OPTIMIZERS."""
    if name == "gradient_descent":
        return tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
    raise ValueError(
        f"Unknown optimizer {name!r}; expected one of "
        f"{', '.join(config_lib.OPTIMIZERS)}."
    )
