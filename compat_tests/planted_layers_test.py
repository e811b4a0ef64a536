"""The ladder on the layers real models have: the true batch-norm, dropout
and L2 pairs pass, and each mistake planted in them is systematic at its
rung, with the variable or value and the measured cause it must name."""

import pytest
import tensorflow as tf

from compat_tests import ladder
from compat_tests import noise
from compat_tests import planted_bugs
from compat_tests import planted_layers
from compat_tests import user_pairs

pytestmark = pytest.mark.cross_kernel


@pytest.mark.parametrize("name", planted_layers.TRUE_PAIRS)
def test_true_pair_passes_every_rung_without_a_cause(name):
    report = planted_bugs.run(planted_layers.TRUE_PAIRS[name], steps=20)
    assert report.passed, report.format()
    assert [r.status for r in report.rungs] == ["passed"] * len(ladder.RUNGS)
    assert all(r.verdict != noise.SYSTEMATIC for r in report.rungs), report.format()
    assert "Likely causes" not in report.format()


@pytest.mark.parametrize("name", planted_layers.MISTAKES)
def test_mistake_is_systematic_at_its_rung_with_its_cause(name):
    pair = planted_layers.MISTAKES[name]
    report = planted_bugs.run(pair)
    failed = report.failed_rung
    assert failed is not None and failed.rung == pair.rung, report.format()
    assert pair.where in failed.where, report.format()
    assert pair.detail in failed.detail, report.format()
    if pair.cause:
        assert any(pair.cause in cause for cause in failed.likely_causes), report.format()
    else:
        # Nothing measured points at a cause, and the report says so.
        assert not failed.likely_causes, report.format()
        assert "No known cause matches what was measured" in report.format()
    assert failed.verdict == noise.SYSTEMATIC, report.format()


def test_batch_norm_state_is_matched_and_compared():
    report = planted_bugs.run(planted_layers.TRUE_PAIRS["batch_norm"], steps=3)
    assert report.variable_map["batch_norm/moving_variance"].endswith(
        "moving_variance"), report.format()
    # The training mode's batch statistics give other outputs than the
    # moving ones, so the forward and gradients rungs compare both modes.
    gradients = next(r for r in report.rungs if r.rung == "gradients")
    assert "State: 2 of 2 TF1 variables matched" in report.rungs[0].detail
    assert gradients.status == "passed"


def test_the_dropout_pair_trains_with_dropout_off_and_says_so():
    report = planted_bugs.run(planted_layers.TRUE_PAIRS["dropout"], steps=3)
    assert any("with dropout off (TF1 fed keep_prob its eval_feed value, the TF2 model's "
               "1 Keras dropout layers at rate 0)" in note for note in report.notes), report.notes


def test_an_undeclared_mode_placeholder_is_named_with_the_fix():
    def tf1_undeclared(images, labels):
        built = user_pairs.tf1_mlp_dropout(images, labels)
        return {key: built[key] for key in ("outputs", "loss", "train_op")}

    with pytest.raises(ValueError, match=r"placeholder 'keep_prob'.*train_feed or eval_feed"):
        planted_bugs.run(planted_bugs.Pair(tf1_undeclared, user_pairs.keras_mlp_dropout))


def test_a_compiled_keras_model_is_a_tf2_side():
    def compiled():
        model = tf.keras.Sequential([tf.keras.Input([784]), tf.keras.layers.Dense(10)])
        model.compile(loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
                      optimizer=tf.keras.optimizers.SGD(planted_bugs.LEARNING_RATE))
        return model

    report = planted_bugs.run(planted_bugs.Pair(planted_bugs.tf1_gradient_descent, compiled))
    assert report.passed, report.format()


def test_an_uncompiled_keras_model_is_named_with_the_fix():
    def uncompiled():
        return tf.keras.Sequential([tf.keras.Input([784]), tf.keras.layers.Dense(10)])

    with pytest.raises(ValueError, match=r"not compiled.*Tf2Side\(model=model"):
        planted_bugs.run(planted_bugs.Pair(planted_bugs.tf1_gradient_descent, uncompiled))
