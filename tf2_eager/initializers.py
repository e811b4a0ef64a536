"""Initial values of weight matrices, drawn from a tf.random.Generator.

TF2 draws from an explicit, seeded generator where TF1 used the graph-level
seed; the twin is tf1_graph/initializers.py, and the numpy draws of matched
mode are mnist_data/initial_values.py.
"""

import math
from typing import Optional

import tensorflow as tf

from flags import model_configs


def generator(seed: Optional[int]) -> tf.random.Generator:
    """A generator seeded with `seed`, or from a non-deterministic state for None."""
    if seed is None:
        return tf.random.Generator.from_non_deterministic_state()
    return tf.random.Generator.from_seed(seed)


def initial_weights(
    shape: list[int],
    model_config: model_configs.SoftmaxRegressionConfig | model_configs.MlpConfig,
    generator: tf.random.Generator,
) -> tf.Tensor:
    """The initial value of a weight matrix [fan_in, fan_out], per
    model_config.weight_init (with init_stddev, init_limit), a value the
    config class has checked; the random values come from `generator`."""
    if model_config.weight_init == "zeros":
        return tf.zeros(shape)
    if model_config.weight_init == "truncated_normal":
        return generator.truncated_normal(shape, stddev=model_config.init_stddev)
    if model_config.weight_init == "uniform":
        limit = model_config.init_limit
    else:
        # "glorot_uniform", Keras' default kernel initializer, which the
        # Keras notebook used.
        limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return generator.uniform(shape, minval=-limit, maxval=limit)


def initial_biases(
    shape: list[int],
    model_config: model_configs.SoftmaxRegressionConfig,
    generator: tf.random.Generator,
) -> tf.Tensor:
    """The initial value of a bias vector: model_config.bias_init everywhere,
    or uniform in [-init_limit, init_limit] from `generator` with
    model_config.uniform_biases."""
    if model_config.uniform_biases:
        return generator.uniform(
            shape, minval=-model_config.init_limit, maxval=model_config.init_limit
        )
    return tf.fill(shape, model_config.bias_init)
