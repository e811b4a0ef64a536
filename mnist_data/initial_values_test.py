"""Tests for mnist_data.initial_values.draw."""

import zlib

import numpy as np
import pytest

from mnist_data import initial_values


@pytest.mark.parametrize("initializer", initial_values.INITIALIZERS)
@pytest.mark.parametrize("shape", [(784, 10), (10,), (5, 5, 1, 32), ()])
def test_draw_returns_float32_of_shape(initializer, shape):
    values = initial_values.draw(initializer, shape, seed=0, name="layer/weights")

    assert values.dtype == np.float32
    assert values.shape == shape


def test_zeros_and_constant():
    np.testing.assert_array_equal(initial_values.draw("zeros", (3, 2), 0, "b"), 0.0)
    np.testing.assert_array_equal(
        initial_values.draw("constant", (3,), 0, "b", constant=0.1), np.float32(0.1)
    )


def test_truncated_normal_stays_within_two_standard_deviations():
    values = initial_values.draw("truncated_normal", (500, 400), 0, "w", stddev=0.1)

    assert np.abs(values).max() <= np.float32(0.2)
    # Redrawing (not clipping) leaves values up to the bound but none piled on
    # it, and a normal truncated at 2 sigma has a standard deviation of
    # 0.87962 sigma.
    assert np.abs(values).max() > 0.199
    assert np.count_nonzero(np.abs(values) == np.float32(0.2)) <= 1
    assert values.std() == pytest.approx(0.087962, rel=0.01)
    assert values.mean() == pytest.approx(0.0, abs=0.001)


def test_uniform_stays_within_limit():
    values = initial_values.draw("uniform", (500, 400), 0, "w", limit=0.5)

    assert values.min() >= -0.5 and values.max() <= 0.5
    assert values.min() < -0.499 and values.max() > 0.499
    assert values.mean() == pytest.approx(0.0, abs=0.005)


@pytest.mark.parametrize("initializer", ["truncated_normal", "uniform"])
def test_draw_is_a_function_of_seed_and_name(initializer):
    def draw(seed, name):
        return initial_values.draw(initializer, (20, 5), seed, name)

    np.testing.assert_array_equal(draw(1, "w"), draw(1, "w"))
    assert not np.array_equal(draw(1, "w"), draw(2, "w"))
    assert not np.array_equal(draw(1, "w"), draw(1, "v"))


def test_draw_does_not_depend_on_order_of_variables():
    def draw(name):
        return initial_values.draw("truncated_normal", (30,), 7, name)

    weights_first = [draw("weights"), draw("biases")]
    biases_first = [draw("biases"), draw("weights")]

    np.testing.assert_array_equal(weights_first[0], biases_first[1])
    np.testing.assert_array_equal(weights_first[1], biases_first[0])


def test_uniform_stream_is_seeded_from_seed_and_name_crc():
    rng = np.random.default_rng([3, zlib.crc32(b"softmax/weights")])

    np.testing.assert_array_equal(
        initial_values.draw("uniform", (4,), 3, "softmax/weights", limit=2.0),
        rng.uniform(-2.0, 2.0, size=4).astype(np.float32),
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            {"initializer": "glorot"},
            "Unknown initializer 'glorot'; expected one of zeros, constant, "
            "truncated_normal, uniform",
        ),
        ({"seed": -1}, "seed must be >= 0"),
        ({"stddev": 0.0}, "stddev must be > 0 .*--init_stddev"),
        ({"initializer": "uniform", "limit": -1.0}, "limit must be > 0 .*--init_limit"),
    ],
)
def test_draw_rejects_bad_arguments(arguments, message):
    valid = {"initializer": "truncated_normal", "shape": (2,), "seed": 0, "name": "w"}

    with pytest.raises(ValueError, match=message):
        initial_values.draw(**(valid | arguments))


def test_glorot_uniform_counts_the_receptive_field_of_a_conv_kernel():
    kernel = initial_values.draw("glorot_uniform", (5, 5, 1, 4), seed=0, name="conv/weights")
    limit = np.sqrt(6.0 / (5 * 5 * 1 + 5 * 5 * 4))
    assert kernel.dtype == np.float32 and kernel.shape == (5, 5, 1, 4)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit
