"""Statistics with a stated error rate for comparing two trained classifiers.

Two sides trained with their own randomness (initial values, batch order,
dropout masks) never score exactly alike, so "their accuracies differ by at
most 1 pp" fails some fraction of correct migrations that nobody wrote down.
This module gives the comparisons the parity command needs a stated error
rate instead:

  mcnemar: McNemar's exact test on the two sides' per-image correctness on
    one test set, the standard paired test for two classifiers. It fails a
    correct migration with probability at most alpha (DEFAULT_ALPHA).
  chance_check: whether one side's accuracy is indistinguishable from a
    model that learned nothing but the class frequencies.
  both_at_chance_message: names the case where both sides learned nothing,
    which agreement between them cannot turn into parity.

numpy and scipy only: importing this module never imports TensorFlow.
"""

import dataclasses
from typing import Optional

import numpy as np
from scipy import stats
from runtime import errors

# The false-failure rate of one comparison: when the two classifiers are
# equally accurate on the test distribution, the exact test calls them
# different with probability at most 0.001 (less, since the exact test is
# conservative). The chance check uses the same rate for calling a model
# that learned nothing "above chance".
DEFAULT_ALPHA = 0.001


@dataclasses.dataclass(frozen=True)
class McNemarResult:
    """The outcome of McNemar's exact test on two classifiers.

    Attributes:
      only_first_correct: Test examples the first classifier got right and
        the second wrong.
      only_second_correct: Test examples the second got right and the first
        wrong.
      p_value: Two-sided exact p-value; 1.0 when there are no such examples.
      alpha: The significance level the result is judged at.
      num_pairs: Number of paired test examples.
      first_name: The first classifier's name in describe().
      second_name: The second classifier's name in describe().
    """

    only_first_correct: int
    only_second_correct: int
    p_value: float
    alpha: float
    num_pairs: int
    first_name: str = "TF1"
    second_name: str = "TF2"

    @property
    def significant(self) -> bool:
        """True when the two classifiers' accuracies differ at level alpha."""
        return self.p_value < self.alpha

    def describe(self) -> str:
        """One line: the discordant counts, the p-value and the verdict."""
        line = (
            f"McNemar exact test on {self.num_pairs} paired test images: "
            f"{self.only_first_correct} only {self.first_name} right, "
            f"{self.only_second_correct} only {self.second_name} right, "
            f"p = {self.p_value:.2g}"
        )
        if not self.significant:
            return f"{line} (fails below alpha {self.alpha:g})"
        if self.only_first_correct > self.only_second_correct:
            better, worse = self.first_name, self.second_name
        else:
            better, worse = self.second_name, self.first_name
        return f"{line} < alpha {self.alpha:g}: {better} is more accurate than {worse}"


def mcnemar(
    first_correct: np.ndarray,
    second_correct: np.ndarray,
    *,
    alpha: float = DEFAULT_ALPHA,
    first_name: str = "TF1",
    second_name: str = "TF2",
) -> McNemarResult:
    """McNemar's exact two-sided test on two classifiers' paired correctness.

    Only the examples exactly one classifier got right carry information
    about which is more accurate. If both are equally accurate, each such
    example is equally likely to favour either side, so the count favouring
    the first is Binomial(discordant, 1/2); the p-value is that binomial
    test's.

    Args:
      first_correct: Whether the first classifier got each test example
        right, [n] bool (or 0/1 integers), n >= 1.
      second_correct: The same for the second classifier on the same
        examples in the same order, [n].
      alpha: Significance level, in (0, 1): the false-failure rate when the
        two are equally accurate.
      first_name: The first classifier's name in the description.
      second_name: The second classifier's name in the description.

    Returns:
      The McNemarResult.

    Raises:
      ValueError: If the arrays are not 1-D boolean/0-1 arrays of the same
        non-zero length, or alpha is not in (0, 1).
    """
    _check_alpha(alpha)
    first_correct = _as_correctness("first_correct", first_correct)
    second_correct = _as_correctness("second_correct", second_correct)
    if first_correct.shape != second_correct.shape:
        raise errors.FixableError(
            "first_correct and second_correct must cover the same test examples, got "
            f"lengths {len(first_correct)} and {len(second_correct)}; evaluate both "
            "classifiers on the same test set, in the same order."
        )
    only_first = int(np.count_nonzero(first_correct & ~second_correct))
    only_second = int(np.count_nonzero(~first_correct & second_correct))
    # Binomial(discordant, 1/2) is symmetric, so the two-sided p-value is
    # twice the tail at or beyond the smaller count (scipy.stats.binomtest's
    # value, at a tenth of its cost); it reaches 1 when the counts are equal,
    # and with no discordant pair at all.
    p_value = 2.0 * stats.binom.cdf(min(only_first, only_second), only_first + only_second, 0.5)
    return McNemarResult(
        only_first_correct=only_first,
        only_second_correct=only_second,
        p_value=min(1.0, float(p_value)),
        alpha=alpha,
        num_pairs=len(first_correct),
        first_name=first_name,
        second_name=second_name,
    )


@dataclasses.dataclass(frozen=True)
class ChanceCheck:
    """Whether a classifier's accuracy is indistinguishable from chance.

    Attributes:
      accuracy: The classifier's accuracy, a fraction.
      chance_accuracy: The majority-class rate of the labels: the best a
        model that learned nothing but the class frequencies can do.
      upper_bound: The accuracy a chance-level model stays at or below with
        probability 1 - alpha (one-sided binomial bound).
      at_chance: accuracy <= upper_bound: not significantly above chance.
      alpha: The level of the bound.
      num_examples: Number of labelled examples.
    """

    accuracy: float
    chance_accuracy: float
    upper_bound: float
    at_chance: bool
    alpha: float
    num_examples: int

    def describe(self) -> str:
        """One line: the accuracy against the chance bound and the verdict."""
        verdict = "at chance" if self.at_chance else "above chance"
        return (
            f"accuracy {_percent(self.accuracy)} on {self.num_examples} examples is {verdict}: "
            f"the majority-class rate is {_percent(self.chance_accuracy)}, and a model that "
            f"learned nothing stays at or below {_percent(self.upper_bound)} with probability "
            f"{1 - self.alpha:g}"
        )


def chance_check(
    predictions: np.ndarray, labels: np.ndarray, *, alpha: float = DEFAULT_ALPHA
) -> ChanceCheck:
    """Tests whether predictions are significantly better than chance.

    A model that learned nothing about the inputs can at best always predict
    the most frequent class. On n examples it then expects at most n times
    the majority rate correct answers, with no more spread than
    Binomial(n, majority rate) when that rate is at most 1/2 (ten digits:
    about 0.11), so an accuracy above that binomial's 1 - alpha quantile is
    significantly above chance.

    Args:
      predictions: Predicted class ids, [n] integers, n >= 1.
      labels: True class ids, [n] integers, or one-hot rows, [n, classes].
      alpha: Probability, in (0, 1), that a chance-level model is called
        above chance.

    Returns:
      The ChanceCheck.

    Raises:
      ValueError: If the shapes or values do not fit the above, or alpha is
        not in (0, 1).
    """
    _check_alpha(alpha)
    predictions, labels = _as_class_ids(predictions, labels)
    num_examples = len(labels)
    accuracy = float(np.mean(predictions == labels))
    _, class_counts = np.unique(labels, return_counts=True)
    chance_accuracy = float(np.max(class_counts)) / num_examples
    upper_bound = float(stats.binom.ppf(1 - alpha, num_examples, chance_accuracy)) / num_examples
    return ChanceCheck(
        accuracy=accuracy,
        chance_accuracy=chance_accuracy,
        upper_bound=upper_bound,
        at_chance=accuracy <= upper_bound,
        alpha=alpha,
        num_examples=num_examples,
    )


def both_at_chance_message(
    first: ChanceCheck,
    second: ChanceCheck,
    first_name: str = "TF1",
    second_name: str = "TF2",
) -> Optional[str]:
    """Names the failure when both sides sit at chance, else returns None.

    Two models that learned nothing agree with each other, and with any
    correct or broken migration, so their agreement proves nothing.

    Raises:
      ValueError: If the two checks were made at different levels or on
        labels with different majority-class rates.
    """
    if (first.chance_accuracy, first.upper_bound, first.alpha) != (
        second.chance_accuracy, second.upper_bound, second.alpha
    ):
        raise errors.FixableError(
            "Both chance checks must come from the same labels and alpha, got majority "
            f"rates {first.chance_accuracy:.4g} and {second.chance_accuracy:.4g} at alpha "
            f"{first.alpha:g} and {second.alpha:g}; check both sides on the same test set."
        )
    if not (first.at_chance and second.at_chance):
        return None
    return (
        f"Both sides are at chance: {first_name} {_percent(first.accuracy)} and "
        f"{second_name} {_percent(second.accuracy)} against a majority-class rate of "
        f"{_percent(first.chance_accuracy)} (a model that learned nothing stays at or below "
        f"{_percent(first.upper_bound)} with probability {1 - first.alpha:g}). "
        "Two models that learned nothing prove nothing: "
        "train longer (more --steps) or check the learning rate."
    )


def _as_class_ids(predictions: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, labels) as [n] class ids, one-hot labels converted;
    raises chance_check's ValueErrors, each naming the fix."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.ndim != 1 or len(predictions) == 0:
        raise errors.FixableError(
            "predictions must be class ids, a non-empty [n] array, got shape "
            f"{list(predictions.shape)}; pass np.argmax(logits, axis=1), not logits "
            "or probabilities."
        )
    if not np.all(predictions == np.round(predictions)):
        raise errors.FixableError(
            "predictions must hold integer class ids; pass np.argmax(logits, axis=1), "
            "not scores or probabilities."
        )
    if labels.ndim == 2:
        if not (np.all((labels == 0) | (labels == 1)) and np.all(labels.sum(axis=1) == 1)):
            raise errors.FixableError(
                "2-D labels must be one-hot rows (a single 1 per row); pass class ids, "
                "[n], for any other encoding."
            )
        labels = np.argmax(labels, axis=1)
    if labels.ndim != 1 or len(labels) != len(predictions):
        raise errors.FixableError(
            f"labels must be [{len(predictions)}] class ids or [{len(predictions)}, "
            f"classes] one-hot rows, one per prediction, got shape {list(labels.shape)}."
        )
    return predictions, labels


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise errors.FixableError(
            f"alpha is a probability of a false failure and must lie in (0, 1), got {alpha}; "
            f"the default is {DEFAULT_ALPHA}."
        )


def _as_correctness(name: str, correct: np.ndarray) -> np.ndarray:
    """correct as a bool [n] array, after checking it is one."""
    correct = np.asarray(correct)
    if correct.ndim != 1 or len(correct) == 0:
        raise errors.FixableError(
            f"{name} must be a non-empty [n] array, one entry per test example, got shape "
            f"{list(correct.shape)}; pass predictions == labels on class ids."
        )
    if correct.dtype != np.bool_ and not np.all((correct == 0) | (correct == 1)):
        raise errors.FixableError(
            f"{name} must be boolean (or 0/1): whether each example was classified "
            "correctly; pass predictions == labels, not the predictions themselves."
        )
    return correct.astype(bool)


def _percent(fraction: float) -> str:
    """A fraction as the project prints accuracies: 0.098 -> "9.80 %"."""
    return f"{fraction * 100:.2f} %"
