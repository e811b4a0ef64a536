"""McNemar's exact test and the chance check against hand-computed values,
real MNIST test labels and simulated classifiers."""

import numpy as np
import pytest
from scipy import stats

import mnist_data
from compat_tests import statistics


@pytest.fixture(scope="module")
def test_labels():
    return mnist_data.load_dataset("mnist_embedded").test_labels


def _paired(only_first: int, only_second: int, both: int = 0, neither: int = 0):
    """Correctness arrays with the given counts of each (first, second) pair."""
    first = [True] * only_first + [False] * only_second + [True] * both + [False] * neither
    second = [False] * only_first + [True] * only_second + [True] * both + [False] * neither
    return np.array(first), np.array(second)


@pytest.mark.parametrize(
    "only_first, only_second, expected_p_value",
    [
        (0, 10, 2 * 0.5**10),
        # 2 * (C(15,0) + C(15,1) + C(15,2) + C(15,3)) / 2**15 = 2 * 576 / 32768.
        (3, 12, 2 * 576 / 2**15),
        # 2 * (1 + 4) / 2**4: one of four discordant pairs is not evidence.
        (1, 3, 10 / 16),
        (7, 7, 1.0),
    ],
)
def test_mcnemar_p_value_matches_the_hand_computed_binomial(
    only_first, only_second, expected_p_value
):
    first, second = _paired(only_first, only_second, both=50, neither=5)
    result = statistics.mcnemar(first, second)
    assert result.only_first_correct == only_first
    assert result.only_second_correct == only_second
    assert result.num_pairs == only_first + only_second + 55
    assert result.p_value == pytest.approx(expected_p_value, rel=1e-12)


def test_mcnemar_agrees_with_scipy_binomtest():
    for only_first in range(0, 40, 3):
        for only_second in range(1, 40, 5):
            result = statistics.mcnemar(*_paired(only_first, only_second))
            expected = stats.binomtest(only_first, only_first + only_second).pvalue
            assert result.p_value == pytest.approx(expected, rel=1e-9), (only_first, only_second)


def test_mcnemar_is_symmetric_in_its_two_classifiers():
    rng = np.random.default_rng(0)
    first, second = rng.random(500) < 0.8, rng.random(500) < 0.7
    forward = statistics.mcnemar(first, second)
    backward = statistics.mcnemar(second, first)
    assert forward.p_value == backward.p_value
    assert (forward.only_first_correct, forward.only_second_correct) == (
        backward.only_second_correct, backward.only_first_correct
    )


def test_mcnemar_without_discordant_pairs_has_p_value_one():
    first, second = _paired(0, 0, both=90, neither=10)
    result = statistics.mcnemar(first, second)
    assert result.p_value == 1.0
    assert not result.significant


def test_mcnemar_takes_zero_one_integers_like_booleans():
    first, second = _paired(2, 9, both=20)
    assert statistics.mcnemar(first.astype(np.int64), second.astype(np.int64)) == (
        statistics.mcnemar(first, second)
    )


def test_mcnemar_significance_and_description():
    # p = 2 * 0.5**12 = 4.9e-4 is below the default alpha 0.001 ...
    result = statistics.mcnemar(*_paired(0, 12, both=9988), first_name="TF1", second_name="TF2")
    assert result.significant and result.alpha == statistics.DEFAULT_ALPHA
    assert result.describe() == (
        "McNemar exact test on 10000 paired test images: 0 only TF1 right, 12 only TF2 "
        "right, p = 0.00049 < alpha 0.001: TF2 is more accurate than TF1"
    )
    # ... and above a stricter one.
    strict = statistics.mcnemar(*_paired(0, 12, both=9988), alpha=1e-4, first_name="A")
    assert not strict.significant
    assert strict.describe().endswith(
        "0 only A right, 12 only TF2 right, p = 0.00049 (fails below alpha 0.0001)"
    )


@pytest.mark.parametrize(
    "first, second, message",
    [
        (np.ones(5, bool), np.ones(6, bool), "same test examples, got lengths 5 and 6"),
        (np.ones((5, 2), bool), np.ones((5, 2), bool), r"non-empty \[n\] array.*shape \[5, 2\]"),
        (np.ones(0, bool), np.ones(0, bool), r"non-empty \[n\] array.*shape \[0\]"),
        (np.array([0, 3, 7]), np.array([0, 3, 1]), "must be boolean .or 0/1."),
    ],
)
def test_mcnemar_rejects_inputs_that_are_not_paired_correctness(first, second, message):
    with pytest.raises(ValueError, match=message):
        statistics.mcnemar(first, second)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 5.0])
def test_mcnemar_rejects_an_alpha_outside_zero_one(alpha):
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\)"):
        statistics.mcnemar(np.ones(3, bool), np.ones(3, bool), alpha=alpha)


def test_mcnemar_false_failure_rate_on_equally_accurate_classifiers():
    # Pairs of classifiers that are equally accurate but err independently:
    # image i is classified correctly with probability difficulty[i] by
    # either (about 89 % on average, some images nearly always wrong), as
    # two seeds of one model would be if training noise only made them
    # err on different images.
    trials, images, alpha = 3000, 1000, 0.05
    rng = np.random.default_rng(0)
    difficulty = rng.beta(2.0, 0.25, size=images)
    first = rng.random((trials, images)) < difficulty
    second = rng.random((trials, images)) < difficulty
    results = [statistics.mcnemar(a, b, alpha=alpha) for a, b in zip(first, second)]
    rejection_rate = np.mean([result.significant for result in results])
    # A test whose true false-failure rate is alpha rejects more than this
    # fraction of 3000 trials with probability 1e-4 (a binomial quantile,
    # 0.0653 here), so a higher rate means the stated rate is wrong.
    assert rejection_rate <= stats.binom.ppf(1 - 1e-4, trials, alpha) / trials
    # The exact test is conservative: at these trials' discordant counts
    # (104-172) its true size lies between 0.031 and 0.050, so a rate
    # below half of alpha means p-values too large to ever fail anything.
    assert rejection_rate >= alpha / 2


def test_constant_predictions_on_mnist_are_at_chance(test_labels):
    for digit in range(mnist_data.NUM_CLASSES):
        check = statistics.chance_check(np.full(len(test_labels), digit), test_labels)
        assert check.at_chance, check.describe()
        # The official test set's most frequent digit is 1, with 1135 of 10000.
        assert check.chance_accuracy == 0.1135
    always_one = statistics.chance_check(np.ones(len(test_labels), np.int64), test_labels)
    assert always_one.accuracy == 0.1135


def test_true_labels_are_far_above_chance(test_labels):
    check = statistics.chance_check(test_labels, mnist_data.one_hot(test_labels))
    assert check.accuracy == 1.0 and not check.at_chance
    assert check.describe().startswith("accuracy 100.00 % on 10000 examples is above chance")


def test_shuffled_labels_are_at_chance(test_labels):
    predictions = np.random.default_rng(0).permutation(test_labels)
    assert statistics.chance_check(predictions, test_labels).at_chance


def test_chance_bound_is_the_binomial_quantile(test_labels):
    check = statistics.chance_check(np.zeros(len(test_labels), np.int64), test_labels)
    bound_count = round(check.upper_bound * len(test_labels))
    # Normal approximation: 1135 + 3.09 * sqrt(10000 * 0.1135 * 0.8865) = 1233.
    assert abs(bound_count - 1233) <= 2
    # A chance-level model exceeds the bound with probability at most alpha,
    # and one count lower would not hold that.
    assert stats.binom.sf(bound_count, len(test_labels), 0.1135) <= statistics.DEFAULT_ALPHA
    assert stats.binom.sf(bound_count - 1, len(test_labels), 0.1135) > statistics.DEFAULT_ALPHA

    def with_correct(count):
        # The first `count` images right, every other one wrong.
        predictions = (test_labels + 1) % mnist_data.NUM_CLASSES
        predictions[:count] = test_labels[:count]
        return statistics.chance_check(predictions, test_labels)

    assert with_correct(bound_count).at_chance
    assert not with_correct(bound_count + 1).at_chance


def test_both_at_chance_is_named_and_one_learned_side_is_not(test_labels):
    chance = statistics.chance_check(np.full(len(test_labels), 7), test_labels)
    learned = statistics.chance_check(test_labels, test_labels)
    message = statistics.both_at_chance_message(chance, chance, "TF1", "TF2")
    assert message.startswith(
        "Both sides are at chance: TF1 10.28 % and TF2 10.28 % against a majority-class "
        "rate of 11.35 %"
    )
    assert "Two models that learned nothing prove nothing" in message
    assert statistics.both_at_chance_message(chance, learned) is None
    assert statistics.both_at_chance_message(learned, chance) is None


def test_both_at_chance_rejects_checks_on_different_labels(test_labels):
    on_mnist = statistics.chance_check(np.zeros(len(test_labels), np.int64), test_labels)
    on_half = statistics.chance_check(np.zeros(500, np.int64), test_labels[:500])
    with pytest.raises(ValueError, match="same labels and alpha"):
        statistics.both_at_chance_message(on_mnist, on_half)


@pytest.mark.parametrize(
    "predictions, labels, message",
    [
        (np.zeros((4, 10)), np.zeros(4, np.int64), r"class ids, a non-empty \[n\] array"),
        (np.zeros(0), np.zeros(0, np.int64), r"class ids, a non-empty \[n\] array"),
        (np.array([0.5, 1.0]), np.array([0, 1]), "integer class ids"),
        (np.zeros(4), np.zeros(5, np.int64), r"labels must be \[4\] class ids"),
        (np.zeros(2), np.full((2, 3), 1 / 3), "one-hot rows"),
        (np.zeros(2), np.zeros((2, 3, 1)), r"labels must be \[2\] class ids"),
    ],
)
def test_chance_check_rejects_malformed_inputs(predictions, labels, message):
    with pytest.raises(ValueError, match=message):
        statistics.chance_check(predictions, labels)
