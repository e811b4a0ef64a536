"""Initial values of weight matrices, drawn from a tf.random.Generator.

TF2 draws from an explicit, seeded generator where TF1 used the graph-level
seed; the twin is tf1_graph/initializers.py, and the numpy draws of matched
mode are mnist_data/initial_values.py.
"""

import math
from typing import Optional

import tensorflow as tf

from flags import config as config_lib
from runtime import errors


def generator(seed: Optional[int]) -> tf.random.Generator:
    """A generator seeded with `seed`, or from a non-deterministic state for None."""
    if seed is None:
        return tf.random.Generator.from_non_deterministic_state()
    return tf.random.Generator.from_seed(seed)


def initial_weights(
    generator: tf.random.Generator,
    shape: list[int],
    weight_init: str,
    init_stddev: float,
    init_limit: float,
) -> tf.Tensor:
    """The initial value of a weight matrix [fan_in, fan_out].

    Args:
      generator: Draws the random values.
      shape: [fan_in, fan_out].
      weight_init: One of flags.config.WEIGHT_INITIALIZERS.
      init_stddev: Standard deviation for "truncated_normal".
      init_limit: Half-width for "uniform".
    """
    if weight_init == "zeros":
        return tf.zeros(shape)
    if weight_init == "truncated_normal":
        return generator.truncated_normal(shape, stddev=init_stddev)
    if weight_init == "uniform":
        limit = init_limit
    elif weight_init == "glorot_uniform":
        # Keras' default kernel initializer, which the Keras notebook used.
        limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    else:
        raise errors.FixableError(
            f"Unknown weight_init {weight_init!r}; expected one of "
            f"{', '.join(config_lib.WEIGHT_INITIALIZERS)}."
        )
    return generator.uniform(shape, minval=-limit, maxval=limit)
