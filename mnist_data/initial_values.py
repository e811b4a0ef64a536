"""Initial values drawn with numpy, for matched mode.

In matched mode both TensorFlow sides load the same initial values, made once
here from a seed, instead of drawing their own with TensorFlow's random ops.
Each variable's values depend only on (initializer, shape, seed, name and the
initializer's parameter), never on which variables were drawn before it.
"""

import math
import zlib
from typing import Mapping, Sequence

import numpy as np
from runtime import errors

# "zeros" and "constant" mirror tf.zeros and tf.constant(value, shape=...),
# the two ways the tutorials write fixed starting values (biases of 0.1 in the
# convolutional tutorial are "constant" with constant=0.1).
INITIALIZERS = ("zeros", "constant", "truncated_normal", "uniform", "glorot_uniform")

# TensorFlow's truncated_normal redraws every value farther than this many
# standard deviations from the mean.
_TRUNCATION_STDDEVS = 2.0


def draw(
    initializer: str,
    shape: tuple[int, ...],
    seed: int,
    name: str,
    stddev: float = 0.1,
    limit: float = 1.0,
    constant: float = 0.0,
) -> np.ndarray:
    """Draws the initial value of one variable.

    Args:
      initializer: One of INITIALIZERS:
        "zeros": every value 0.
        "constant": every value `constant`.
        "truncated_normal": normal with mean 0 and standard deviation
          `stddev`, values beyond 2 standard deviations redrawn (TensorFlow's
          definition of truncated_normal).
        "uniform": uniform in [-limit, limit].
        "glorot_uniform": uniform in ±sqrt(6 / (fan_in + fan_out)), Keras'
          default kernel initializer (shape [..., in, out]).
      shape: Shape of the variable, e.g. (784, 10).
      seed: Seed shared by all variables of a run, >= 0.
      name: The variable's name, e.g. "softmax/weights". Each name gets its
        own random stream, so the order of draws does not matter.
      stddev: Standard deviation for "truncated_normal", > 0.
      limit: Half-width for "uniform", > 0.
      constant: Value for "constant".

    Returns:
      float32 array of `shape`.

    Raises:
      ValueError: If `initializer` is unknown, `seed` is negative, or the
        initializer's own parameter (`stddev`, `limit`) is not positive.
    """
    _check_arguments(initializer, seed, stddev, limit)
    if initializer == "zeros":
        return np.zeros(shape, dtype=np.float32)
    if initializer == "constant":
        return np.full(shape, constant, dtype=np.float32)
    # The name's CRC32 joins the seed so that each variable has an
    # independent stream that no other variable's draws can shift.
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    if initializer == "glorot_uniform":
        glorot_limit = _glorot_limit(shape)
        return rng.uniform(-glorot_limit, glorot_limit, size=shape).astype(np.float32)
    if initializer == "uniform":
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)
    return _truncated_normal(rng, shape, stddev)


def _check_arguments(initializer: str, seed: int, stddev: float, limit: float) -> None:
    """Raises draw's ValueErrors, each naming the fix."""
    if initializer not in INITIALIZERS:
        raise errors.FixableError(
            f"Unknown initializer {initializer!r}; expected one of "
            f"{', '.join(INITIALIZERS)}."
        )
    if seed < 0:
        raise errors.FixableError(f"seed must be >= 0, got {seed}; pass --seed=0 or more.")
    if initializer == "uniform" and not limit > 0:
        raise errors.FixableError(
            f"limit must be > 0 for the uniform initializer, got {limit}; "
            "raise --init_limit."
        )
    if initializer == "truncated_normal" and not stddev > 0:
        raise errors.FixableError(
            f"stddev must be > 0 for the truncated_normal initializer, got "
            f"{stddev}; raise --init_stddev."
        )


def _glorot_limit(shape: tuple[int, ...]) -> float:
    """sqrt(6 / (fan_in + fan_out)), Keras' default for Dense and Conv2D
    kernels, with the fans as Keras counts them (compute_fans): the receptive
    field for kernels, the length for a vector, 1 for a scalar."""
    if len(shape) < 2:
        fan_in = fan_out = shape[0] if shape else 1
    else:
        receptive_field = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    return math.sqrt(6.0 / (fan_in + fan_out))


def _truncated_normal(
    rng: np.random.Generator, shape: tuple[int, ...], stddev: float
) -> np.ndarray:
    """Normal values of mean 0, every value beyond _TRUNCATION_STDDEVS
    standard deviations redrawn, as float32."""
    values = rng.normal(0.0, stddev, size=shape)
    bound = _TRUNCATION_STDDEVS * stddev
    outside = np.abs(values) > bound
    while outside.any():
        values[outside] = rng.normal(0.0, stddev, size=np.count_nonzero(outside))
        outside = np.abs(values) > bound
    return values.astype(np.float32)

def draw_parameters(
    shapes: Mapping[str, Sequence[int]],
    weight_initializer: str,
    seed: int,
    stddev: float = 0.1,
    limit: float = 1.0,
    bias_constant: float = 0.0,
    bias_initializer: str = "constant",
) -> dict[str, np.ndarray]:
    """Draws every variable of a model, by the TF1 tutorials' naming rule.

    Both sides name their variables as mnist.py did ("SCOPE/weights",
    "SCOPE/biases"), so this one table decides initial values for both:
    weight matrices use `weight_initializer`, biases `bias_initializer`.

    Args:
      shapes: {variable name: shape}, e.g. {"softmax_regression/weights":
        [784, 10], "softmax_regression/biases": [10]}.
      weight_initializer: One of INITIALIZERS, for names ending in "weights".
      seed: Seed shared by all variables, >= 0.
      stddev: See draw().
      limit: See draw().
      bias_constant: Value of every bias for the "constant" initializer.
      bias_initializer: "constant" (every bias is `bias_constant`) or
        "uniform" (in [-limit, limit], as the gradient-learning notebook
        drew its softmax biases).

    Returns:
      {name: float32 array}.

    Raises:
      ValueError: If a name ends in neither "weights" nor "biases", or
        bias_initializer is neither "constant" nor "uniform".
    """
    if bias_initializer not in ("constant", "uniform"):
        raise errors.FixableError(
            f"Unknown bias_initializer {bias_initializer!r}; expected constant or uniform."
        )
    values = {}
    for name, shape in shapes.items():
        if name.endswith("weights"):
            values[name] = draw(
                weight_initializer, tuple(shape), seed, name, stddev=stddev, limit=limit
            )
        elif name.endswith("biases"):
            values[name] = draw(
                bias_initializer, tuple(shape), seed, name, limit=limit, constant=bias_constant
            )
        else:
            raise errors.FixableError(
                f"Variable {name!r} ends in neither 'weights' nor 'biases'; name it "
                "SCOPE/weights or SCOPE/biases so its initial value can be drawn."
            )
    return values
