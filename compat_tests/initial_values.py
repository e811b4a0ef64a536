"""Each side's own initial values, compared: the ladder's opt-in rung.

The other rungs start both sides from TF1's initial values, copied into TF2,
so they never see the initialisers. This rung lets each side initialise
itself (TF1 runs its initialisers under the graph seed; TF2 keeps the values
its freshly made model created) and compares them per mapped variable:

  constant  both sides constant (zeros, ones, 0.1): equal exactly, or the
            variable fails, naming both values (a bias of zeros against 0.1);
  random    both sides random: compared by their distribution. Two
            two-sample tests, each at half the variable's level: the
            Kolmogorov–Smirnov test (scipy.stats.ks_2samp) for the shape and
            location of the distribution (uniform against normal), and the
            Brown–Forsythe test (scipy.stats.levene, centred on the median,
            robust to the distributions' shape) for their spread (a std
            that differs). The variable's p-value is twice the smaller of
            the two (Bonferroni), and it fails below alpha / k, k the number
            of random variables tested (Bonferroni again): a correct pair
            fails with probability at most alpha, DEFAULT_ALPHA = 1e-3
            (KS's asymptotic and Brown–Forsythe's F-approximation make that
            approximate for small variables, and conservative for KS).
  small     a random variable of at most SMALL_SIZE values (a bias of ten):
            a distribution test has almost no power there, so it is
            compared by mean and range only, and fails only when the two
            ranges do not overlap. Equal distributions give disjoint ranges
            with probability 2 / C(n + m, n) (1.1e-5 for 10 and 10 values);
            the rule is applied only where that is below the variable's
            level, and the values are otherwise reported without a verdict.
  mixed     constant on one side, random on the other: fails.

Power, measured by simulation (`python -m compat_tests.initial_values`
prints it; initial_values_test.py asserts it on fewer draws): for one
784×10 kernel at alpha = 1e-3 per variable, in 1,000 draws each,
  truncated_normal(0.1) against truncated_normal(0.1)    called different 0.1 %
  truncated_normal(0.1) against truncated_normal(0.12)   detected 100 %
  truncated_normal(0.1) against truncated_normal(0.11)   detected 100 %
  truncated_normal(0.1) against truncated_normal(0.105)  detected 81.5 %
  glorot_uniform against truncated_normal(0.1)           detected 100 %
  glorot_uniform against glorot_normal (same variance)   detected 100 %
  he_normal against glorot_normal (std ratio 1.006)      detected 0.3 %
so a std that differs by 10 % or more, or a uniform against a normal
initialiser of the same variance, is found with at least 99 % probability;
He against Glorot on a 784×10 kernel (std sqrt(2/784) against sqrt(2/794))
is not, and makes no difference worth finding. The first line is the
false-failure rate, at its stated 0.1 %.

numpy and scipy only: importing this module never imports TensorFlow.
"""

import dataclasses
import math
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
from scipy import stats
from runtime import errors

DEFAULT_ALPHA = 1e-3
SMALL_SIZE = 10
CONSTANT = "constant"
RANDOM = "random"
SMALL = "small"
MIXED = "mixed"


@dataclasses.dataclass(frozen=True)
class Summary:
    """One side's initial values of one variable, summed up."""

    mean: float
    std: float
    minimum: float
    maximum: float
    size: int

    @classmethod
    def of(cls, values: np.ndarray) -> "Summary":
        values = np.asarray(values, dtype=np.float64).ravel()
        return cls(float(np.mean(values)), float(np.std(values)), float(np.min(values)),
                   float(np.max(values)), int(values.size))

    @property
    def constant(self) -> bool:
        return self.minimum == self.maximum


@dataclasses.dataclass(frozen=True)
class VariableCheck:
    """The comparison of one variable's initial values on the two sides."""

    name: str  # The TF1 name.
    tf2_name: str
    kind: str  # CONSTANT, RANDOM, SMALL or MIXED.
    tf1: Summary
    tf2: Summary
    passed: Optional[bool]  # None: reported without a verdict.
    p_value: Optional[float] = None
    level: Optional[float] = None  # The level the p-value is judged at.
    reason: str = ""

    @property
    def verdict(self) -> str:
        return {True: "passed", False: "FAILED", None: "not judged"}[self.passed]


def compare(
    tf1_values: Mapping[str, np.ndarray],
    tf2_values: Mapping[str, np.ndarray],
    tf2_names: Optional[Mapping[str, str]] = None,
    alpha: float = DEFAULT_ALPHA,
) -> list[VariableCheck]:
    """Compares each variable's initial values, TF1's against TF2's.

    Args:
      tf1_values: {TF1 name: values} as TF1's initialisers made them.
      tf2_values: {TF1 name: values} of the TF2 counterparts, as the TF2
        model made them.
      tf2_names: {TF1 name: TF2 name}, for the report.
      alpha: The false-failure rate over all random variables together.

    Returns:
      One VariableCheck per variable, in tf1_values' order.
    """
    if not 0 < alpha < 1:
        raise errors.FixableError(f"alpha must be in (0, 1), got {alpha}.")
    missing = sorted(set(tf1_values) - set(tf2_values))
    if missing:
        raise errors.FixableError(f"No TF2 initial values for {missing}.")
    summaries = {name: (Summary.of(tf1_values[name]), Summary.of(tf2_values[name]))
                 for name in tf1_values}
    tested = sum(1 for first, second in summaries.values()
                 if not first.constant and not second.constant)
    level = alpha / max(tested, 1)
    checks = []
    for name, (first, second) in summaries.items():
        tf2_name = (tf2_names or {}).get(name, name)
        if first.constant and second.constant:
            equal = np.array_equal(np.asarray(tf1_values[name]), np.asarray(tf2_values[name]))
            checks.append(VariableCheck(
                name, tf2_name, CONSTANT, first, second, equal,
                reason="" if equal else
                f"TF1 starts at {first.minimum:g}, TF2 at {second.minimum:g}"))
        elif first.constant or second.constant:
            constant_side = "TF1" if first.constant else "TF2"
            checks.append(VariableCheck(
                name, tf2_name, MIXED, first, second, False,
                reason=f"constant on the {constant_side} side only"))
        elif min(first.size, second.size) <= SMALL_SIZE:
            checks.append(_compare_small(name, tf2_name, first, second, level))
        else:
            p_value = distribution_p_value(tf1_values[name], tf2_values[name])
            checks.append(VariableCheck(
                name, tf2_name, RANDOM, first, second, p_value >= level, p_value, level,
                reason="" if p_value >= level else
                f"different distributions (std {first.std:.3g} vs {second.std:.3g})"))
    return checks


def distribution_p_value(first: np.ndarray, second: np.ndarray) -> float:
    """Twice the smaller p-value of the Kolmogorov–Smirnov and Brown–Forsythe
    two-sample tests on the values of two variables (Bonferroni, capped at 1)."""
    first = np.asarray(first, dtype=np.float64).ravel()
    second = np.asarray(second, dtype=np.float64).ravel()
    shape = stats.ks_2samp(first, second).pvalue
    spread = stats.levene(first, second, center="median").pvalue
    return float(min(1.0, 2.0 * min(shape, spread)))


def disjoint_ranges_chance(first_size: int, second_size: int) -> float:
    """The probability that two samples of one continuous distribution, of
    these sizes, have ranges that do not overlap: 2 / C(n + m, n)."""
    return min(1.0, 2.0 / math.comb(first_size + second_size, first_size))


def _compare_small(name: str, tf2_name: str, first: Summary, second: Summary,
                   level: float) -> VariableCheck:
    chance = disjoint_ranges_chance(first.size, second.size)
    disjoint = first.maximum < second.minimum or second.maximum < first.minimum
    if chance > level:
        return VariableCheck(
            name, tf2_name, SMALL, first, second, None, None, level,
            reason=(f"{min(first.size, second.size)} values: too few to test (even disjoint "
                    f"ranges happen with chance {chance:.2g} > {level:.2g})"))
    return VariableCheck(
        name, tf2_name, SMALL, first, second, not disjoint, chance if disjoint else None, level,
        reason=("ranges do not overlap" if disjoint else
                f"≤ {SMALL_SIZE} values: mean and range only; the ranges overlap"))


def format_table(checks: Sequence[VariableCheck]) -> list[str]:
    """The checks as table lines: kind, each side's mean/std/min/max, p, verdict."""
    header = ("variable", "kind", "TF1 mean/std/min/max", "TF2 mean/std/min/max", "p",
              "verdict")
    rows = [header] + [
        (check.name, check.kind, _summary_text(check.tf1), _summary_text(check.tf2),
         "-" if check.p_value is None else f"{check.p_value:.2g}",
         check.verdict + (f": {check.reason}" if check.reason else ""))
        for check in checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def _summary_text(summary: Summary) -> str:
    return (f"{summary.mean:.3g}/{summary.std:.3g}/{summary.minimum:.3g}/"
            f"{summary.maximum:.3g}")


def detection_rate(
    draw_first: Callable[[np.random.Generator], np.ndarray],
    draw_second: Callable[[np.random.Generator], np.ndarray],
    trials: int,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
) -> float:
    """The fraction of `trials` pairs of draws that the test of one random
    variable at level `alpha` calls different: its power when the two
    initialisers differ, its false-failure rate when they do not."""
    rng = np.random.default_rng(seed)
    failures = sum(distribution_p_value(draw_first(rng), draw_second(rng)) < alpha
                   for _ in range(trials))
    return failures / trials


def truncated_normal(shape: Sequence[int], stddev: float) -> Callable:
    """A draw of TF's truncated normal (resampled beyond 2 std, no rescaling)."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        values = rng.normal(0.0, stddev, size=shape)
        outside = np.abs(values) > 2 * stddev
        while np.any(outside):
            values[outside] = rng.normal(0.0, stddev, size=int(np.sum(outside)))
            outside = np.abs(values) > 2 * stddev
        return values
    return draw


# Keras' truncated variance-scaling initialisers divide by this, the std of
# a standard normal truncated at ±2, so that the values keep the target std.
_TRUNCATED_STD = 0.87962566103423978


def glorot_uniform(shape: Sequence[int]) -> Callable:
    limit = math.sqrt(6.0 / (shape[0] + shape[-1]))
    return lambda rng: rng.uniform(-limit, limit, size=shape)


def glorot_normal(shape: Sequence[int]) -> Callable:
    return truncated_normal(shape, math.sqrt(2.0 / (shape[0] + shape[-1])) / _TRUNCATED_STD)


def he_normal(shape: Sequence[int]) -> Callable:
    return truncated_normal(shape, math.sqrt(2.0 / shape[0]) / _TRUNCATED_STD)


def power_table(shape: Sequence[int] = (784, 10), trials: int = 200,
                alpha: float = DEFAULT_ALPHA) -> list[tuple[str, float]]:
    """(initialisers compared, detection rate) for the docstring's pairs."""
    pairs = {
        "truncated_normal(0.1) vs truncated_normal(0.1)":
            (truncated_normal(shape, 0.1), truncated_normal(shape, 0.1)),
        "truncated_normal(0.1) vs truncated_normal(0.12)":
            (truncated_normal(shape, 0.1), truncated_normal(shape, 0.12)),
        "truncated_normal(0.1) vs truncated_normal(0.11)":
            (truncated_normal(shape, 0.1), truncated_normal(shape, 0.11)),
        "truncated_normal(0.1) vs truncated_normal(0.105)":
            (truncated_normal(shape, 0.1), truncated_normal(shape, 0.105)),
        "glorot_uniform vs truncated_normal(0.1)":
            (glorot_uniform(shape), truncated_normal(shape, 0.1)),
        "glorot_uniform vs glorot_normal": (glorot_uniform(shape), glorot_normal(shape)),
        "he_normal vs glorot_normal": (he_normal(shape), glorot_normal(shape)),
    }
    return [(label, detection_rate(first, second, trials, alpha))
            for label, (first, second) in pairs.items()]


if __name__ == "__main__":
    for label, rate in power_table(trials=1000):
        print(f"{label:50s} {rate * 100:6.1f} % of 1000 draws called different at alpha 1e-3")
