"""The noise model's parts: one-ulp perturbations, floors and verdicts."""

import math

import numpy as np
import pytest

from compat_tests import noise


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_perturbation_moves_each_nonzero_element_by_exactly_one_ulp(dtype):
    values = np.random.default_rng(0).normal(size=1000).astype(dtype)
    values[::10] = 0
    moved = noise.perturb_last_bit(values, seed=3)
    assert moved.dtype == dtype
    nonzero = values != 0
    np.testing.assert_array_equal(moved[~nonzero], 0)
    steps = np.abs(moved[nonzero].astype(np.float64) - values[nonzero].astype(np.float64))
    spacing = np.spacing(np.abs(values[nonzero])).astype(np.float64)
    # Up by one ulp of |x|, or down by one ulp of the next value below it,
    # which is the same except at powers of two (then half of it).
    assert np.all((steps == spacing) | (steps == spacing / 2))
    # Both directions occur, and the same seed draws the same perturbation.
    assert np.any(moved > values) and np.any(moved < values)
    np.testing.assert_array_equal(moved, noise.perturb_last_bit(values, seed=3))
    assert not np.array_equal(moved, noise.perturb_last_bit(values, seed=4))


def test_integer_arrays_are_left_alone():
    labels = np.arange(10)
    assert noise.perturb_last_bit(labels, seed=0) is not None
    np.testing.assert_array_equal(noise.perturb_last_bit(labels, seed=0), labels)


def test_perturb_all_draws_each_array_on_its_own():
    values = {"a": np.ones(50, np.float32), "b": np.ones(50, np.float32)}
    moved = noise.perturb_all(values, seed=0)
    assert not np.array_equal(moved["a"], moved["b"])
    assert set(moved) == {"a", "b"}


def test_rounding_floor_is_one_ulp_of_the_largest_magnitude():
    assert noise.rounding_floor(np.array([0.5, -3.0], np.float32)) == np.spacing(np.float32(3.0))
    assert noise.rounding_floor(np.array([2.0])) == np.spacing(2.0)
    assert noise.rounding_floor(np.array(2.0), np.float32) == np.spacing(np.float32(2.0))
    assert noise.rounding_floor(np.array([np.nan, np.inf, 1.0], np.float32)) == np.spacing(np.float32(1))
    assert noise.rounding_floor(np.zeros(3, np.float32)) == 0.0


def test_judge_names_the_three_verdicts():
    assert noise.judge(0.0, 1e-7).verdict == noise.IDENTICAL
    within = noise.judge(3e-7, 1e-7, noise_factor=4)
    assert within.verdict == noise.WITHIN_NOISE and within.factor == pytest.approx(3)
    beyond = noise.judge(5e-7, 1e-7, noise_factor=4)
    assert beyond.verdict == noise.SYSTEMATIC and beyond.systematic
    over_zero = noise.judge(1e-9, 0.0)
    assert over_zero.verdict == noise.SYSTEMATIC and math.isinf(over_zero.factor)
    assert "5× the floor" in beyond.describe()
    with pytest.raises(ValueError, match="noise_factor must be >= 1"):
        noise.judge(1.0, 1.0, noise_factor=0.5)


def test_judge_arrays_measures_its_floor_from_the_controls():
    reference = np.linspace(-1, 1, 100).astype(np.float32)
    control = reference + np.float32(1e-6)
    near = reference + np.float32(3e-6)
    far = reference + np.float32(1e-3)
    assert noise.judge_arrays(reference, near, (control,)).verdict == noise.WITHIN_NOISE
    assert noise.judge_arrays(reference, far, (control,)).verdict == noise.SYSTEMATIC
    assert noise.judge_arrays(reference, reference.copy(), (control,)).verdict == noise.IDENTICAL


def test_a_one_sided_nan_is_infinitely_far_and_equal_nonfinite_values_agree():
    reference = np.array([np.nan, np.inf, 1.0, np.nan, np.inf])
    candidate = np.array([np.nan, np.inf, np.nan, 1.0, -np.inf])
    np.testing.assert_array_equal(
        noise.abs_difference(reference, candidate), [0.0, 0.0, np.inf, np.inf, np.inf])
    assert noise.max_abs_difference(reference[:2], candidate[:2]) == 0.0
