"""The order in which training examples are fed, as a pure function of a seed.

Both TensorFlow sides call `batch_indices` with the same arguments in matched
mode, so they see exactly the same batches in the same order. Loops that take
their batches inside the graph (tf1_graph/in_graph_input.py,
tf2_eager/multi_step.py) take the same order as one `batch_schedule` array.
"""

import functools

import numpy as np
from runtime import errors


def batch_indices(
    seed: int, step: int, batch_size: int, num_examples: int
) -> np.ndarray:
    """Returns the indices of the examples that make up training step `step`.

    The training set is shuffled once per epoch, without replacement: each
    epoch is a fresh permutation drawn from (seed, epoch), cut into
    consecutive batches. Only the arguments matter, so any step can be
    recomputed without replaying the steps before it.

    Args:
      seed: Seed of the shuffle, >= 0.
      step: Training step, counted from 0 across epochs.
      batch_size: Examples per batch, 1..num_examples.
      num_examples: Size of the training set.

    Returns:
      int64 [batch_size]: distinct indices into the training set.

    Raises:
      ValueError: If an argument is out of range.
    """
    if seed < 0:
        raise errors.FixableError(f"seed must be >= 0, got {seed}; pass --seed=0 or more.")
    if step < 0:
        raise errors.FixableError(f"step must be >= 0, got {step}; steps count from 0.")
    if batch_size < 1:
        raise errors.FixableError(
            f"batch_size must be >= 1, got {batch_size}; raise --batch_size."
        )
    if batch_size > num_examples:
        raise errors.FixableError(
            f"batch_size {batch_size} is larger than the training set "
            f"({num_examples} examples); lower --batch_size to at most "
            f"{num_examples}."
        )
    # The last partial batch of each epoch is dropped, so every batch is full
    # and every epoch has the same number of batches; the dropped examples are
    # different ones each epoch because each epoch has its own permutation.
    batches_per_epoch = num_examples // batch_size
    epoch, position = divmod(step, batches_per_epoch)
    permutation = _epoch_permutation(seed, epoch, num_examples)
    start = position * batch_size
    # A copy, so that callers may modify their batch without touching the
    # cached permutation.
    return permutation[start : start + batch_size].copy()


def batch_schedule(
    seed: int, first_step: int, steps: int, batch_size: int, num_examples: int
) -> np.ndarray:
    """Returns the batch indices of `steps` consecutive steps, one row a step.

    Row i is `batch_indices(seed, first_step + i, batch_size, num_examples)`,
    so a loop that gathers its batches from this array inside the graph sees
    exactly the batches a feed_dict loop sees.

    Args:
      seed: Seed of the shuffle, >= 0.
      first_step: Training step of row 0, >= 0.
      steps: Number of rows, >= 1.
      batch_size: Examples per batch, 1..num_examples.
      num_examples: Size of the training set.

    Returns:
      int64 [steps, batch_size].

    Raises:
      ValueError: If steps < 1, or as batch_indices does.
    """
    if steps < 1:
        raise errors.FixableError(f"steps must be >= 1, got {steps}; a schedule holds at least one batch.")
    return np.stack(
        [
            batch_indices(seed, step, batch_size, num_examples)
            for step in range(first_step, first_step + steps)
        ]
    )


# Training calls batch_indices every step, and a permutation of 60,000
# examples costs far more than slicing it, so the few most recent epochs'
# permutations are kept.
@functools.lru_cache(maxsize=4)
def _epoch_permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
    """Returns the read-only int64 [num_examples] shuffle of one epoch."""
    permutation = np.random.default_rng([seed, epoch]).permutation(num_examples)
    permutation = permutation.astype(np.int64, copy=False)
    # Every later step of the epoch slices this cached array, so it is made
    # read-only: a stray in-place write would silently change their batches.
    permutation.flags.writeable = False
    return permutation
