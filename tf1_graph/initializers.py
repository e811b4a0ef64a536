"""Initial values of weight matrices, kernels and biases, as TF1 graph ops.

The random ops take their op seeds from the graph-level seed
(tf.compat.v1.set_random_seed), as TF1 programs did. The numpy twin, for
matched mode, is mnist_data/initial_values.py.
"""

import math

import tensorflow as tf

from flags import model_configs


def initial_weights(
    shape: list[int],
    model_config: model_configs.SoftmaxRegressionConfig | model_configs.MlpConfig,
) -> tf.Tensor:
    """The initial value of a weight matrix [fan_in, fan_out], per
    model_config.weight_init (with init_stddev, init_limit), a value the
    config class has checked."""
    if model_config.weight_init == "zeros":
        return tf.zeros(shape)
    if model_config.weight_init == "truncated_normal":
        return tf.compat.v1.truncated_normal(shape, stddev=model_config.init_stddev)
    if model_config.weight_init == "uniform":
        limit = model_config.init_limit
    else:
        # "glorot_uniform", Keras' default kernel initializer, which the
        # Keras notebook used.
        limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return tf.compat.v1.random_uniform(shape, minval=-limit, maxval=limit)


def initial_biases(
    shape: list[int], model_config: model_configs.SoftmaxRegressionConfig
) -> tf.Tensor:
    """The initial value of a bias vector: model_config.bias_init everywhere,
    or uniform in [-init_limit, init_limit] with model_config.uniform_biases."""
    if model_config.uniform_biases:
        return tf.compat.v1.random_uniform(
            shape, minval=-model_config.init_limit, maxval=model_config.init_limit
        )
    return tf.fill(shape, model_config.bias_init)
