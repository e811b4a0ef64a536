"""Tests for mnist_data.batching.batch_indices."""

import numpy as np
import pytest

from mnist_data import batching


def test_same_arguments_give_same_indices():
    first = batching.batch_indices(seed=3, step=7, batch_size=10, num_examples=95)
    second = batching.batch_indices(seed=3, step=7, batch_size=10, num_examples=95)

    assert first.dtype == np.int64
    assert first.shape == (10,)
    np.testing.assert_array_equal(first, second)


def test_epoch_covers_distinct_indices_and_drops_partial_batch():
    # 95 examples in batches of 10: 9 batches per epoch, 5 examples dropped.
    epoch = np.concatenate(
        [batching.batch_indices(0, step, 10, 95) for step in range(9)]
    )

    assert len(np.unique(epoch)) == 90
    assert epoch.min() >= 0 and epoch.max() < 95


def test_each_epoch_is_its_own_seeded_permutation():
    # Step 9 is the first batch of epoch 1 when there are 9 batches per epoch.
    expected = np.random.default_rng([5, 1]).permutation(95)[:10]

    np.testing.assert_array_equal(batching.batch_indices(5, 9, 10, 95), expected)
    assert not np.array_equal(
        batching.batch_indices(5, 9, 10, 95), batching.batch_indices(5, 0, 10, 95)
    )


def test_different_seeds_give_different_orders():
    assert not np.array_equal(
        batching.batch_indices(0, 0, 50, 1000), batching.batch_indices(1, 0, 50, 1000)
    )


def test_batch_of_whole_set_is_a_permutation_every_step():
    for step in range(3):
        np.testing.assert_array_equal(
            np.sort(batching.batch_indices(0, step, 20, 20)), np.arange(20)
        )


def test_modifying_returned_indices_does_not_change_later_batches():
    indices = batching.batch_indices(0, 0, 10, 100)
    expected = indices.copy()
    indices[:] = 0

    np.testing.assert_array_equal(batching.batch_indices(0, 0, 10, 100), expected)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"seed": -1}, "seed must be >= 0, got -1"),
        ({"step": -1}, "step must be >= 0, got -1"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        (
            {"batch_size": 101},
            r"batch_size 101 is larger than the training set \(100 examples\); "
            "lower --batch_size to at most 100",
        ),
    ],
)
def test_rejects_out_of_range_arguments(arguments, message):
    valid = {"seed": 0, "step": 0, "batch_size": 10, "num_examples": 100}

    with pytest.raises(ValueError, match=message):
        batching.batch_indices(**(valid | arguments))


def test_batch_schedule_rows_are_the_batches_of_consecutive_steps():
    # 95 examples in batches of 10: steps 7..11 cross from epoch 0 into epoch 1.
    schedule = batching.batch_schedule(seed=2, first_step=7, steps=5, batch_size=10, num_examples=95)

    assert schedule.dtype == np.int64
    assert schedule.shape == (5, 10)
    for row, step in enumerate(range(7, 12)):
        np.testing.assert_array_equal(schedule[row], batching.batch_indices(2, step, 10, 95))


def test_batch_schedule_refuses_an_empty_schedule():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        batching.batch_schedule(seed=0, first_step=0, steps=0, batch_size=10, num_examples=95)
