"""Initial values of weight matrices, kernels and biases, as TF1 graph ops.

The random ops take their op seeds from the graph-level seed
(tf.compat.v1.set_random_seed), as TF1 programs did. The numpy twin, for
matched mode, is mnist_data/initial_values.py.
"""

import math

import tensorflow as tf

from flags import config as config_lib
from runtime import errors


def initial_weights(shape: list[int], config: config_lib.TrainConfig) -> tf.Tensor:
    """The initial value of a weight matrix [fan_in, fan_out], per
    config.weight_init (with init_stddev, init_limit)."""
    if config.weight_init == "zeros":
        return tf.zeros(shape)
    if config.weight_init == "truncated_normal":
        return tf.compat.v1.truncated_normal(shape, stddev=config.init_stddev)
    if config.weight_init == "uniform":
        limit = config.init_limit
    elif config.weight_init == "glorot_uniform":
        # Keras' default kernel initializer, which the Keras notebook used.
        limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    else:
        raise errors.FixableError(
            f"Unknown weight_init {config.weight_init!r}; expected one of "
            f"{', '.join(config_lib.WEIGHT_INITIALIZERS)}."
        )
    return tf.compat.v1.random_uniform(shape, minval=-limit, maxval=limit)


def initial_biases(shape: list[int], config: config_lib.TrainConfig) -> tf.Tensor:
    """The initial value of a bias vector: config.bias_init everywhere, or
    uniform in [-init_limit, init_limit] with config.uniform_biases."""
    if config.uniform_biases:
        return tf.compat.v1.random_uniform(
            shape, minval=-config.init_limit, maxval=config.init_limit
        )
    return tf.fill(shape, config.bias_init)
