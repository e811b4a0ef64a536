"""The parity ladder passes true pairs and catches each planted mistake at
the rung, variable and cause where it belongs."""

import json

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import ladder
from compat_tests import noise
from compat_tests import planted_bugs

pytestmark = pytest.mark.cross_kernel


@pytest.mark.parametrize("name", planted_bugs.TRUE_PAIRS)
def test_true_pair_passes_every_rung(name):
    report = planted_bugs.run(planted_bugs.TRUE_PAIRS[name])
    assert report.passed, report.format()
    assert [r.status for r in report.rungs] == ["passed"] * len(ladder.RUNGS)
    assert len(report.tf1_losses) == len(report.tf2_losses) == 5
    # A pair within noise prints no cause.
    assert all(not r.likely_causes for r in report.rungs)
    assert "Likely causes" not in report.format()


@pytest.mark.parametrize("name", planted_bugs.MISTAKES)
def test_mistake_is_caught_at_its_rung_with_its_cause(name):
    pair = planted_bugs.MISTAKES[name]
    report = planted_bugs.run(pair)
    failed = report.failed_rung
    assert failed is not None, report.format()
    assert failed.rung == pair.rung, report.format()
    assert failed.verdict == noise.SYSTEMATIC and report.verdict == noise.SYSTEMATIC, report.format()
    # Those judged against a floor sit far above it, not at the edge (the
    # variables rung compares names and shapes; a TF2 side that answers twice
    # differently has no floor).
    assert failed.factor is None or failed.factor > 100 * report.noise_factor, report.format()
    if failed.rung in ("one_update", "steps"):
        # A training rung is failed only against the floor of all the
        # controls, and the report says so.
        confirmed = [note for note in report.notes if "more controls were trained" in note]
        assert len(confirmed) == 1, report.format()
        assert f"all {ladder.CONFIRMING_CONTROLS} it is systematic" in confirmed[0]
    assert pair.where in failed.where, report.format()
    assert any(pair.cause in cause for cause in failed.likely_causes), report.format()
    # The ladder stops at the first failing rung.
    later = ladder.RUNGS[ladder.RUNGS.index(pair.rung) + 1:]
    assert all(r.status == "not run" for r in report.rungs if r.rung in later)


def test_assert_equivalent_raises_with_the_readable_report():
    pair = planted_bugs.MISTAKES["sum_instead_of_mean"]
    with pytest.raises(AssertionError) as raised:
        ladder.assert_equivalent(
            pair.tf1, pair.tf2, _small_data(), batch_size=10, steps=2
        )
    message = str(raised.value)
    assert "FAILED at rung 'forward' (systematic)" in message
    assert "Sum vs mean reduction" in message
    assert "noise ≤ 32× floor" in message


def test_report_as_data_is_json_serialisable():
    report = ladder.run_ladder(
        planted_bugs.tf1_gradient_descent, planted_bugs.tf2_correct, _small_data(),
        batch_size=10, steps=3,
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is True
    assert [r["rung"] for r in data["rungs"]] == list(ladder.RUNGS)
    assert data["rungs"][-1]["status"] == "not run"  # No eval_data was given.
    assert len(data["tf1_losses"]) == 3


def test_a_fixed_tolerance_replaces_the_noise_floor_of_its_rung():
    # Keras Adam's epsilon 1e-7 moves the first update by at most 5e-3 here:
    # systematic against the floor, within a loose fixed tolerance.
    pair = planted_bugs.MISTAKES["adam_default_epsilon"]
    report = planted_bugs.run(
        pair, tolerances={"one_update": ladder.Tolerance(atol=1e-2, rtol=0.0)}
    )
    one_update = next(r for r in report.rungs if r.rung == "one_update")
    assert one_update.status == "passed"
    assert one_update.verdict == ladder.WITHIN_TOLERANCE
    assert one_update.tolerance == "fixed: atol 0.01, rtol 0"
    assert one_update.floor is None
    forward = next(r for r in report.rungs if r.rung == "forward")
    assert forward.tolerance == "noise ≤ 32× floor"


def test_keras_model_with_other_names_is_mapped_by_order_and_shape():
    def make_keras():
        model = tf.keras.Sequential([tf.keras.Input([784]), tf.keras.layers.Dense(10)])
        return ladder.Tf2Side(
            model=model,
            loss_fn=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
            optimizer=tf.keras.optimizers.SGD(planted_bugs.LEARNING_RATE),
        )

    report = ladder.run_ladder(
        planted_bugs.tf1_gradient_descent, make_keras, _small_data(), batch_size=10, steps=3
    )
    assert report.passed, report.format()
    assert report.mapping_inferred
    assert list(report.variable_map) == ["softmax_regression/weights", "softmax_regression/biases"]
    assert report.variable_map["softmax_regression/weights"].endswith("kernel")
    assert "inferred" in report.format()


@pytest.mark.parametrize("as_function", [False, True])
def test_explicit_map_as_dict_or_function(as_function):
    mapping = {"softmax_regression/weights": "softmax_regression/weights",
               "softmax_regression/biases": "softmax_regression/biases"}
    report = ladder.run_ladder(
        planted_bugs.tf1_gradient_descent, planted_bugs.tf2_correct, _small_data(),
        batch_size=10, steps=2, variable_map=mapping.get if as_function else mapping,
    )
    assert report.passed and not report.mapping_inferred


def test_explicit_map_to_a_missing_variable_lists_it():
    report = ladder.run_ladder(
        planted_bugs.tf1_gradient_descent, planted_bugs.tf2_correct, _small_data(),
        batch_size=10, steps=2,
        variable_map={"softmax_regression/weights": "dense/kernel",
                      "softmax_regression/biases": "softmax_regression/biases"},
    )
    variables = report.failed_rung
    assert variables.rung == "variables"
    assert "TF1 without a TF2 counterpart: ['softmax_regression/weights']" in variables.detail
    assert "TF2 without a TF1 counterpart: ['softmax_regression/weights']" in variables.detail


def test_initial_values_are_checked_by_name_and_shape():
    with pytest.raises(ValueError, match=r"Mis-shaped: \['softmax_regression/biases"):
        ladder.run_ladder(
            planted_bugs.tf1_gradient_descent, planted_bugs.tf2_correct, _small_data(),
            batch_size=10, steps=1,
            initial_values={"softmax_regression/weights": np.zeros([784, 10], np.float32),
                            "softmax_regression/biases": np.zeros([11], np.float32)},
        )


def test_bad_arguments_are_named():
    images, labels = _small_data()
    with pytest.raises(ValueError, match="40 images but 39 labels"):
        ladder.run_ladder(planted_bugs.tf1_gradient_descent, planted_bugs.tf2_correct,
                          (images, labels[:-1]), batch_size=10, steps=1)
    with pytest.raises(ValueError, match="Unknown tolerance rungs"):
        ladder.run_ladder(planted_bugs.tf1_gradient_descent, planted_bugs.tf2_correct,
                          (images, labels), batch_size=10, steps=1,
                          tolerances={"fowrard": ladder.Tolerance(1, 1)})
    with pytest.raises(ValueError, match="missing: \\['train_op'\\]"):
        ladder.run_ladder(lambda x, y: {"outputs": x, "loss": tf.reduce_sum(x)},
                          planted_bugs.tf2_correct, (images, labels), batch_size=10, steps=1)


def _tf1_two_heads(images, labels):
    logits = planted_bugs._tf1_with(
        tf.compat.v1.train.GradientDescentOptimizer(planted_bugs.LEARNING_RATE), images, labels)
    return {**logits, "outputs": {"logits": logits["outputs"],
                                  "probabilities": tf.nn.softmax(logits["outputs"])}}


class _TwoHeads(tf.Module):
    def __init__(self, squash):
        super().__init__(name="two_heads")
        self.softmax_regression = planted_bugs.tf2_correct().model
        self.squash = squash

    def __call__(self, images, training=False):
        logits = self.softmax_regression(images)
        return {"logits": logits, "probabilities": self.squash(logits)}


def _two_heads_side(squash):
    def make():
        side = planted_bugs.tf2_correct()
        model = _TwoHeads(squash)
        return ladder.Tf2Side(model, lambda labels, outputs: side.loss_fn(
            labels, outputs["logits"]), side.optimizer)
    return make


def test_dict_outputs_are_compared_per_key():
    passed = ladder.run_ladder(_tf1_two_heads, _two_heads_side(tf.nn.softmax),
                               _small_data(), batch_size=10, steps=2)
    assert passed.passed, passed.format()
    failed = ladder.run_ladder(_tf1_two_heads, _two_heads_side(tf.sigmoid),
                               _small_data(), batch_size=10, steps=2).failed_rung
    assert failed.rung == "forward" and failed.where == "outputs[probabilities]"


def test_one_hot_labels_with_a_sparse_loss_name_the_side_and_the_fix():
    def tf2_sparse():
        side = planted_bugs.tf2_correct()
        side.loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return side

    with pytest.raises(ValueError, match=r"TF2 side's loss_fn.*one-hot.*integer labels"):
        ladder.run_ladder(planted_bugs.tf1_gradient_descent, tf2_sparse, _small_data(),
                          batch_size=10, steps=1)

    def tf1_sparse(images, labels):
        logits = images[:, :10]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits))
        return {"outputs": logits, "loss": loss, "train_op": tf.no_op()}

    with pytest.raises(ValueError, match=r"build_tf1 failed.*one-hot.*TF1 loss takes class ids"):
        ladder.run_ladder(tf1_sparse, planted_bugs.tf2_correct, _small_data(),
                          batch_size=10, steps=1)


def test_a_regression_is_judged_by_mean_squared_error():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(400, 5)).astype(np.float32)
    targets = (inputs @ np.arange(1, 6, dtype=np.float32))[:, None] + 0.5

    def tf1_linear(images, labels):
        kernel = tf.compat.v1.get_variable("kernel", [5, 1])
        bias = tf.compat.v1.get_variable("bias", [1], initializer=tf.zeros_initializer())
        outputs = tf.matmul(images, kernel) + bias
        loss = tf.reduce_mean(tf.square(outputs - labels))
        return {"outputs": outputs, "loss": loss,
                "train_op": tf.compat.v1.train.GradientDescentOptimizer(0.05).minimize(loss)}

    def keras_linear():
        model = tf.keras.Sequential([tf.keras.Input([5]), tf.keras.layers.Dense(1)])
        model.compile(loss="mse", optimizer=tf.keras.optimizers.SGD(0.05))
        return model

    report = ladder.run_ladder(tf1_linear, keras_linear, (inputs[:300], targets[:300]),
                               batch_size=20, steps=30, eval_data=(inputs[300:], targets[300:]))
    assert report.passed, report.format()
    # Argmax over one column would give 100 % on both sides, whatever they learned.
    assert report.tf1_metric < 0.5 * np.mean((targets[300:] - targets.mean()) ** 2)


def _small_data(count: int = 40):
    """The first real digits of the embedded set, one-hot labels."""
    dataset = mnist_data.load_dataset("mnist_embedded")
    return (dataset.train_images[:count],
            mnist_data.one_hot(dataset.train_labels[:count]))


def _tf1_one_flag_for_batch_norm_and_dropout(images, labels):
    """Batch norm and dropout both driven by one is_training placeholder, as
    much TF1 code wrote them."""
    is_training = tf.compat.v1.placeholder(tf.bool, [], name="is_training")
    hidden = tf.matmul(images, tf.compat.v1.get_variable("W", [784, 32]))
    gamma = tf.compat.v1.get_variable("gamma", [32], initializer=tf.ones_initializer())
    beta = tf.compat.v1.get_variable("beta", [32], initializer=tf.zeros_initializer())
    moving = [tf.compat.v1.get_variable(name, [32], initializer=initializer, trainable=False)
              for name, initializer in (("mean_ma", tf.zeros_initializer()),
                                        ("var_ma", tf.ones_initializer()))]
    batch_moments = tf.nn.moments(hidden, axes=[0])
    for average, value in zip(moving, batch_moments):
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS,
                                       average.assign(average * 0.99 + value * 0.01))
    mean, variance = tf.cond(is_training, lambda: batch_moments,
                             lambda: tuple(tf.identity(v) for v in moving))
    hidden = tf.nn.relu(tf.nn.batch_normalization(hidden, mean, variance, beta, gamma, 1e-3))
    hidden = tf.nn.dropout(hidden, rate=tf.where(is_training, 0.5, 0.0))
    logits = tf.matmul(hidden, tf.compat.v1.get_variable("V", [32, 10]))
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    return {"outputs": logits, "loss": loss, "train_op": train_op,
            "train_feed": {is_training: True}, "eval_feed": {is_training: False}}


def _keras_batch_norm_and_dropout():
    model = tf.keras.Sequential([
        tf.keras.Input([784]),
        tf.keras.layers.Dense(32, use_bias=False),
        tf.keras.layers.BatchNormalization(momentum=0.99),
        tf.keras.layers.ReLU(),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(10, use_bias=False),
    ])
    return ladder.Tf2Side(model, tf.keras.losses.CategoricalCrossentropy(from_logits=True),
                          tf.keras.optimizers.SGD(0.1))


@pytest.mark.cross_kernel
def test_one_flag_for_batch_norm_and_dropout_keeps_batch_norm_training():
    # Feeding is_training its eval value would stop TF1's dropout but also put
    # its batch norm in inference mode while TF2's trains; the ladder instead
    # feeds the dropout's rate 0 and keeps both batch norms training.
    report = ladder.run_ladder(_tf1_one_flag_for_batch_norm_and_dropout,
                               _keras_batch_norm_and_dropout, _small_data(200),
                               batch_size=20, steps=5)
    assert report.passed, report.format()
    assert any("TF1 fed its 1 tf.nn.dropout rate tensors 0" in note for note in report.notes), (
        report.format())


def test_a_systematic_training_rung_is_judged_again_against_distinct_controls(monkeypatch):
    # The confirming controls are each their own draw of perturbations, so
    # their drifts cover flips that one draw may miss; eight copies of the
    # first control would confirm nothing.
    contexts = []
    add_controls = ladder.Context.add_controls

    def recording(context, total):
        contexts.append(context)
        return add_controls(context, total)

    monkeypatch.setattr(ladder.Context, "add_controls", recording)
    report = planted_bugs.run(planted_bugs.MISTAKES["adam_default_epsilon"])
    assert report.failed_rung.rung == "one_update", report.format()
    controls = contexts[-1].training().controls
    assert len(controls) == ladder.CONFIRMING_CONTROLS
    for name in ("softmax_regression/weights", "softmax_regression/biases"):
        finals = {control.trajectory.final[name].tobytes() for control in controls}
        assert len(finals) == len(controls), name
