"""The opt-in initial_values rung: each side's own initialisers, compared at
a stated false-failure rate with a measured power; and a variable map that
names Keras variables under another model prefix."""

import json

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import initial_values
from compat_tests import ladder
from compat_tests import planted_bugs
from compat_tests import planted_layers
from compat_tests import user_pairs

KERNEL = (784, 10)


def _run(tf1, tf2, **arguments) -> ladder.LadderReport:
    """The ladder over the first 200 embedded digits, two steps, no metric."""
    dataset = mnist_data.load_dataset("mnist_embedded")
    return ladder.run_ladder(
        tf1, tf2, (dataset.train_images[:200], mnist_data.one_hot(dataset.train_labels[:200])),
        batch_size=50, steps=2, **arguments)


def test_the_test_has_its_stated_power_and_false_failure_rate():
    # The module docstring's numbers come from 1,000 draws; 60 draws each
    # here, at the per-variable level 1e-3.
    rates = {
        label: initial_values.detection_rate(first, second, trials=60, seed=1)
        for label, (first, second) in {
            "same": (initial_values.truncated_normal(KERNEL, 0.1),
                     initial_values.truncated_normal(KERNEL, 0.1)),
            "std 0.1 vs 0.11": (initial_values.truncated_normal(KERNEL, 0.1),
                                initial_values.truncated_normal(KERNEL, 0.11)),
            "uniform vs normal, same variance": (initial_values.glorot_uniform(KERNEL),
                                                 initial_values.glorot_normal(KERNEL)),
            "he vs glorot": (initial_values.he_normal(KERNEL),
                             initial_values.glorot_normal(KERNEL)),
        }.items()
    }
    assert rates["same"] <= 1 / 60, rates
    assert rates["std 0.1 vs 0.11"] >= 0.99, rates
    assert rates["uniform vs normal, same variance"] >= 0.99, rates
    # A 0.6 % std ratio is below what 7,840 values can show, as stated.
    assert rates["he vs glorot"] <= 0.05, rates


def test_constants_are_compared_exactly_and_name_the_variable():
    checks = initial_values.compare(
        {"hidden/bias": np.zeros(64, np.float32), "gamma": np.ones(64, np.float32)},
        {"hidden/bias": np.full(64, 0.1, np.float32), "gamma": np.ones(64, np.float32)},
        {"hidden/bias": "sequential/dense/bias"})
    bias, gamma = checks
    assert (bias.kind, bias.passed, gamma.passed) == (initial_values.CONSTANT, False, True)
    assert bias.reason == "TF1 starts at 0, TF2 at 0.1"
    table = "\n".join(initial_values.format_table(checks))
    assert "hidden/bias  constant  0/0/0/0" in table and "FAILED: TF1 starts at 0" in table


def test_random_against_constant_fails_and_small_variables_are_judged_by_range():
    rng = np.random.default_rng(0)
    random_bias = rng.normal(size=10)
    mixed, = initial_values.compare({"b": random_bias}, {"b": np.zeros(10)})
    assert (mixed.kind, mixed.passed) == (initial_values.MIXED, False)
    # Ten values each: disjoint ranges happen by chance with 2 / C(20, 10).
    assert initial_values.disjoint_ranges_chance(10, 10) == pytest.approx(1.08e-5, rel=1e-2)
    overlapping, = initial_values.compare({"b": random_bias}, {"b": rng.normal(size=10)})
    assert (overlapping.kind, overlapping.passed) == (initial_values.SMALL, True)
    disjoint, = initial_values.compare({"b": random_bias}, {"b": 10 + rng.normal(size=10)})
    assert disjoint.passed is False and disjoint.reason == "ranges do not overlap"
    # Five values: even disjoint ranges are too common to fail on.
    few, = initial_values.compare({"b": random_bias[:5]}, {"b": 10 + random_bias[:5]})
    assert few.passed is None and "too few to test" in few.reason


def test_the_level_is_shared_among_the_random_variables():
    rng = np.random.default_rng(0)
    values = {f"kernel_{index}": rng.normal(size=(50, 50)) for index in range(4)}
    checks = initial_values.compare(values, {name: rng.normal(size=(50, 50)) for name in values})
    assert all(check.level == pytest.approx(1e-3 / 4) for check in checks)
    with pytest.raises(ValueError, match="alpha must be in"):
        initial_values.compare(values, values, alpha=0)


@pytest.mark.cross_kernel
def test_a_true_batch_norm_pair_passes_the_rung_state_included():
    pair = planted_layers.TRUE_PAIRS["batch_norm"]
    checked = _run(pair.tf1, pair.tf2, check_initial_values=True)
    assert checked.passed, checked.format()
    assert [r.rung for r in checked.rungs][:3] == ["variables", "initial_values", "forward"]
    by_name = {check.name: check for check in checked.initial_value_checks}
    assert by_name["batch_norm/moving_variance"].kind == initial_values.CONSTANT
    assert by_name["hidden/kernel"].kind == initial_values.RANDOM
    assert by_name["hidden/kernel"].p_value > 1e-3 / 2
    assert "Initial values, each side's own" in checked.format()
    rung = json.loads(json.dumps(checked.to_dict()))["initial_value_checks"][0]
    assert set(rung["tf1"]) == {"mean", "std", "minimum", "maximum", "size"}


@pytest.mark.cross_kernel
def test_the_rung_leaves_the_other_rungs_start_as_it_was():
    # TF1's initialisers ran in the control session: the compared runs
    # start from the same values with the rung as without it.
    checked, unchecked = (
        _run(planted_bugs.tf1_gradient_descent, planted_bugs.tf2_correct,
             check_initial_values=check) for check in (True, False))
    assert checked.passed, checked.format()
    assert [check.kind for check in checked.initial_value_checks] == [
        initial_values.RANDOM, initial_values.CONSTANT]
    assert unchecked.tf1_losses == checked.tf1_losses
    assert not unchecked.initial_value_checks
    assert "initial_values" not in [r.rung for r in unchecked.rungs]


class _Prefix:
    """A Keras MLP with fixed layer names, whose variable paths carry the
    model's name, numbered by the process (sequential, sequential_1, ...)."""

    @staticmethod
    def make() -> ladder.Tf2Side:
        return user_pairs.keras_side([
            tf.keras.layers.Dense(user_pairs.HIDDEN_UNITS, activation="relu", name="hidden"),
            tf.keras.layers.Dense(10, name="logits"),
        ])


@pytest.mark.cross_kernel
@pytest.mark.parametrize("with_prefix", [True, False])
def test_a_variable_map_matches_below_the_model_prefix(with_prefix):
    earlier = [v.path for v in _Prefix.make().model.trainable_variables]
    names = ["hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias"]
    variable_map = dict(zip(names, earlier if with_prefix else names))
    report = _run(user_pairs.tf1_mlp_adam, _Prefix.make, variable_map=variable_map)
    assert report.passed, report.format()
    # The ladder's model was built later in the process: another prefix.
    assert report.variable_map["hidden/kernel"] != earlier[0]
    assert report.variable_map["hidden/kernel"].endswith("/hidden/kernel")

