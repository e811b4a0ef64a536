"""The ladder's verdicts: true pairs of a user's own are identical or within
the noise floor measured in the run, causes come only from evidence, and a pair at
chance fails. Each planted mistake's verdict is asserted in ladder_test.py.

.ci/run runs this file with oneDNN on and with TF_ENABLE_ONEDNN_OPTS=0, so
the verdicts hold under both kernel choices.
"""

import pytest
import tensorflow as tf

import mnist_data
from compat_tests import ladder
from compat_tests import noise
from compat_tests import parity
from compat_tests import planted_bugs
from compat_tests import user_pairs
from flags import config as config_lib

pytestmark = pytest.mark.cross_kernel

NOT_SYSTEMATIC = (noise.IDENTICAL, noise.WITHIN_NOISE)


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


def _run(tf1, tf2, embedded, steps, **arguments):
    return ladder.run_ladder(
        tf1, tf2, (embedded.train_images, mnist_data.one_hot(embedded.train_labels)),
        batch_size=100, steps=steps,
        eval_data=(embedded.test_images, mnist_data.one_hot(embedded.test_labels)),
        **arguments,
    )


@pytest.mark.parametrize("tf1, tf2, steps", [
    # Keras Adam (epsilon 1e-8) against TF1's AdamOptimizer: Keras rounds
    # 1 - β2 from float64, so their updates differ from the first step by
    # about 1e-5 relative, and the losses by 1e-6 within a few steps.
    pytest.param(user_pairs.tf1_mlp_adam, user_pairs.keras_mlp_adam, 100, id="mlp_adam_100"),
    # A convnet's losses part by 1e-3 within 300 steps, as far as the
    # perturbed control's do.
    pytest.param(user_pairs.tf1_convnet_adam, user_pairs.keras_convnet_adam, 300,
                 id="convnet_adam_300"),
])
def test_a_true_pair_of_a_users_own_is_within_noise(tf1, tf2, steps, embedded):
    report = _run(tf1, tf2, embedded, steps)
    print(report.format())
    assert report.passed, report.format()
    judged = [r for r in report.rungs if r.rung in ladder.NUMERIC_RUNGS]
    assert all(r.verdict in NOT_SYSTEMATIC for r in judged), report.format()
    # The floors were measured, not assumed: every rung reports one.
    assert all(r.floor is not None and r.floor > 0 for r in judged), report.format()
    assert report.verdict in NOT_SYSTEMATIC
    assert "the floor" in report.format()
    # The control run really drifted: the floor is float32 noise of this run.
    assert report.control_losses != report.tf1_losses
    assert report.tf2_metric > 80.0, report.format()


def test_a_cause_is_named_from_what_was_measured():
    # The planted Adam epsilon: the cause quotes both optimizers' epsilons as
    # read from the TF1 graph and the Keras optimizer; no other optimizer's
    # cause comes up, and neither does dropout.
    report = planted_bugs.run(planted_bugs.MISTAKES["adam_default_epsilon"])
    causes = report.failed_rung.likely_causes
    assert causes == [
        "Adam epsilon: TF1 uses 1e-08, the TF2 optimizer 1e-07 (Keras Adam's default; "
        "tf.compat.v1.train.AdamOptimizer's is 1e-8)."
    ], report.format()


def test_a_learning_rate_schedule_that_differs_is_named_at_the_step_it_parts(embedded):
    # TF1 decays the rate smoothly; the TF2 side keeps it constant. The
    # first update agrees (both use 0.1 at step 0); the steps rung fails and
    # names the rate each side used where they first differ.
    def tf1_decayed(images, labels):
        global_step = tf.compat.v1.train.get_or_create_global_step()
        rate = tf.compat.v1.train.exponential_decay(0.1, global_step, 10, 0.5)
        built = planted_bugs._tf1_with(
            tf.compat.v1.train.GradientDescentOptimizer(rate), images, labels)
        built["train_op"] = tf.group(built["train_op"], global_step.assign_add(1))
        return built

    report = _run(tf1_decayed, planted_bugs.tf2_correct, embedded, steps=20)
    failed = report.failed_rung
    assert failed is not None and failed.rung == "steps", report.format()
    assert failed.verdict == noise.SYSTEMATIC
    # The update of step 1 is the first to use a decayed rate, 0.1 × 0.5^0.1;
    # the loss it changes is step 2's.
    assert report.first_divergent_step == 2, report.format()
    assert any(cause.startswith("Learning rate at step 1: TF1 used 0.0933033, TF2 0.1")
               for cause in failed.likely_causes), report.format()


def test_a_pair_at_chance_fails_and_says_so(embedded):
    # A learning rate of zero: both sides agree perfectly and learn nothing.
    def tf1_frozen(images, labels):
        return planted_bugs._tf1_with(
            tf.compat.v1.train.GradientDescentOptimizer(0.0), images, labels)

    def tf2_frozen():
        return planted_bugs._side(optimizer=tf.keras.optimizers.SGD(0.0))

    report = _run(tf1_frozen, tf2_frozen, embedded, steps=3)
    failed = report.failed_rung
    assert failed is not None and failed.rung == "metric", report.format()
    assert failed.verdict == ladder.AT_CHANCE
    assert "Both sides are at chance" in report.format()


def test_the_parity_command_fails_a_run_at_chance(embedded):
    # An MLP trained from zero weights keeps its hidden units dead and
    # stays at chance on both sides.
    config = config_lib.TrainConfig(model="mlp", weight_init="zeros", steps=30, eval_at=())
    record = parity.run_matched(config, embedded)
    assert not record["passed"], record["report"]
    assert "FAILED at rung 'metric' (at chance)" in record["report"]


def test_the_report_keeps_its_verdicts_as_data(embedded):
    report = _run(user_pairs.tf1_mlp_adam, user_pairs.keras_mlp_adam, embedded, steps=5)
    data = report.to_dict()
    assert data["verdict"] in NOT_SYSTEMATIC
    for rung in data["rungs"][1:]:
        assert {"verdict", "floor", "factor", "max_abs_diff"} <= set(rung)
    assert len(data["control_losses"]) == 5


def test_the_noise_factor_is_the_boundary(embedded):
    # The same true pair judged again with noise_factor 1 passes exactly when
    # its worst gap is at most its floor: the factor is what decides. A
    # training rung above 1× its first control's floor is judged again
    # against more controls, whose floor is never lower, so the strict run's
    # own factors are the ones that decide.
    report = _run(user_pairs.tf1_mlp_adam, user_pairs.keras_mlp_adam, embedded, steps=20)
    worst = max(r.factor for r in report.rungs if r.factor is not None)
    assert 0 < worst <= report.noise_factor, report.format()
    strict = _run(user_pairs.tf1_mlp_adam, user_pairs.keras_mlp_adam, embedded, steps=20,
                  noise_factor=1.0)
    strict_worst = max(r.factor for r in strict.rungs if r.factor is not None)
    assert strict_worst <= worst
    assert strict.passed == (strict_worst <= 1.0), strict.format()
    with pytest.raises(ValueError, match="noise_factor must be >= 1"):
        _run(user_pairs.tf1_mlp_adam, user_pairs.keras_mlp_adam, embedded, steps=1,
             noise_factor=0.5)
