"""Float32 noise, measured: how far two equivalent computations drift apart.

Two programs that compute the same mathematics in float32 rarely agree to
the last bit: which kernel runs (oneDNN fuses MatMul+BiasAdd in a graph,
eager mode does not), how a reduction is split over threads, and whether a
constant is rounded in float32 or float64 all move the last bits. A gap
between TF1 and TF2 means something only against how far such equivalent
computations drift apart on this machine, for this model, over these steps.

The floor is measured, not assumed: the same side is run again with every
floating input and every starting weight moved by one unit in the last place
(one ulp, up or down at random). That perturbation is the size of the
rounding differences kernels make, and the model's own dynamics amplify it
exactly as they amplify a kernel's rounding (a convnet's losses part by 3e-4
after 150 steps from it, a convex softmax regression's stay at 1e-7). A gap
is then

  identical     when it is exactly zero;
  within noise  when it is at most NOISE_FACTOR times the floor;
  systematic    when it is larger: a real difference between the two sides.

The floor never falls below one ulp of the compared values' magnitude (a
bound from float32 rounding itself), so a perturbation that happens to leave
a value unchanged does not make every rounding difference "systematic".
"""

import dataclasses
import math
from typing import Mapping, Optional, Sequence

import numpy as np
from runtime import errors

IDENTICAL = "identical"
WITHIN_NOISE = "within noise"
SYSTEMATIC = "systematic"

# How many times the measured floor a gap may be and still count as noise.
# On this project's pairs, with oneDNN on and off, true pairs' gaps stay
# within 10x their floors, and the planted mistakes stand at 1e3 to 1e8x;
# 32 keeps a wide margin on both sides (README, "How the ladder judges").
NOISE_FACTOR = 32.0


def perturb_last_bit(values: np.ndarray, seed: int) -> np.ndarray:
    """`values` with each nonzero element moved one ulp up or down at random.

    Zeros stay zero: a zero weight or pixel is exact on both sides, and its
    neighbour ulp is a denormal that some kernels flush to zero. Non-float
    arrays (class ids, token ids) are returned unchanged.
    """
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return values
    direction = np.where(
        np.random.default_rng(seed).random(values.shape) < 0.5, -np.inf, np.inf
    ).astype(values.dtype)
    moved = np.nextafter(values, direction)
    return np.where(values == 0, values, moved).astype(values.dtype)


def perturb_all(values: Mapping[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """perturb_last_bit on each array of a {name: array} map, each with its own draw."""
    return {
        name: perturb_last_bit(value, seed + index)
        for index, (name, value) in enumerate(sorted(values.items()))
    }


def abs_difference(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """|reference - candidate| in float64, where equal non-finite values (both
    NaN, or the same infinity) count as equal and a one-sided NaN or inf as
    infinitely far.

    Plain subtraction would give NaN for both, and NaN compares False with
    every bound, so a NaN on one side would pass silently.
    """
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    same_nonfinite = (np.isnan(reference) & np.isnan(candidate)) | (
        np.isinf(reference) & (reference == candidate)
    )
    with np.errstate(invalid="ignore"):
        difference = np.abs(reference - candidate)
    difference = np.where(np.isnan(difference), np.inf, difference)
    return np.where(same_nonfinite, 0.0, difference)


def max_abs_difference(reference: np.ndarray, candidate: np.ndarray) -> float:
    """max abs_difference(reference, candidate), 0 for empty arrays."""
    return float(np.max(abs_difference(reference, candidate), initial=0.0))


def rounding_floor(values: np.ndarray, dtype: Optional[np.dtype] = None) -> float:
    """One ulp of the largest finite magnitude in `values`, in `dtype` (the
    values' own floating dtype by default): the smallest difference rounding
    alone can make there."""
    values = np.asarray(values)
    dtype = np.dtype(dtype or (values.dtype if np.issubdtype(values.dtype, np.floating)
                               else np.float32))
    finite = np.abs(values[np.isfinite(values)]) if values.size else values
    magnitude = float(np.max(finite, initial=0.0))
    return float(np.spacing(dtype.type(magnitude))) if magnitude > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Judgement:
    """A gap judged against its floor."""

    verdict: str  # IDENTICAL, WITHIN_NOISE or SYSTEMATIC.
    gap: float
    floor: float
    factor: float  # gap / floor; 0 for an identical gap, inf over a zero floor.
    noise_factor: float

    @property
    def systematic(self) -> bool:
        return self.verdict == SYSTEMATIC

    def describe(self) -> str:
        if self.verdict == IDENTICAL:
            return "identical"
        return (f"{self.verdict}: gap {self.gap:.3g} is {_format_factor(self.factor)} the "
                f"floor {self.floor:.3g} (noise up to {self.noise_factor:g}×)")


def judge(gap: float, floor: float, noise_factor: float = NOISE_FACTOR) -> Judgement:
    """Names a gap identical, within noise (<= noise_factor × floor) or systematic."""
    if noise_factor < 1:
        raise errors.FixableError(f"noise_factor must be >= 1, got {noise_factor}.")
    if gap == 0:
        return Judgement(IDENTICAL, 0.0, floor, 0.0, noise_factor)
    factor = gap / floor if floor > 0 else math.inf
    verdict = WITHIN_NOISE if factor <= noise_factor else SYSTEMATIC
    return Judgement(verdict, gap, floor, factor, noise_factor)


def judge_arrays(
    reference: np.ndarray,
    candidate: np.ndarray,
    controls: tuple[np.ndarray, ...],
    noise_factor: float = NOISE_FACTOR,
) -> Judgement:
    """Judges max |reference - candidate| against the floor that `controls`
    measure: each control is the reference side rerun under perturbation (or
    another kernel), so max |reference - control| is how far equivalent
    computations drift; the floor is never below one ulp of the reference."""
    floor = max(
        [rounding_floor(reference)]
        + [max_abs_difference(reference, control) for control in controls]
    )
    return judge(max_abs_difference(reference, candidate), floor, noise_factor)


def judge_steps(
    reference: np.ndarray,
    candidate: np.ndarray,
    controls: Sequence[np.ndarray],
    dtype: np.dtype,
    noise_factor: float = NOISE_FACTOR,
) -> list[Judgement]:
    """Judges a trace of per-step values (losses) step by step.

    The floor of step t is the largest drift of any control from the
    reference up to step t, and at least one ulp (in `dtype`, the values'
    own precision) of the reference there: rounding noise, once made, is
    carried and amplified by every later step, so it does not shrink back,
    and a control that by chance lands near the reference at one step does
    not make that step's gap look large.
    """
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if not all(len(trace) == len(reference) for trace in [candidate, *controls]):
        raise errors.FixableError(
            f"The traces cover different steps: reference {len(reference)}, candidate "
            f"{len(candidate)}, controls {[len(trace) for trace in controls]}."
        )
    drift = np.zeros(len(reference))
    for control in controls:
        drift = np.maximum(drift, np.nan_to_num(abs_difference(reference, control), posinf=0.0))
    envelope = np.maximum.accumulate(drift) if len(drift) else drift
    gaps = abs_difference(reference, candidate)
    return [
        judge(float(gap), max(float(floor), rounding_floor(value, dtype)), noise_factor)
        for gap, floor, value in zip(gaps, envelope, reference)
    ]


def worst(judgements: Mapping[str, Judgement]) -> tuple[str, Judgement]:
    """The (name, judgement) with the largest factor; systematic ones first."""
    return max(judgements.items(), key=lambda item: (item[1].systematic, item[1].factor))


def verdict_of(judgements: Mapping[str, Judgement]) -> str:
    """SYSTEMATIC if any is, else WITHIN_NOISE if any is, else IDENTICAL."""
    verdicts = {j.verdict for j in judgements.values()}
    for verdict in (SYSTEMATIC, WITHIN_NOISE):
        if verdict in verdicts:
            return verdict
    return IDENTICAL


def _format_factor(factor: float) -> str:
    return "∞×" if math.isinf(factor) else f"{factor:.3g}×"
