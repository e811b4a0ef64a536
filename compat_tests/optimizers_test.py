"""The TF1-semantics optimizers against TF1's optimizers and their own formulas.

tf2_eager.optimizers.Tf1GradientDescent, Tf1Momentum, Tf1RMSProp and
Tf1Adam call TF1's fused kernels (tf.raw_ops.ResourceApplyGradientDescent,
ResourceApplyMomentum, ResourceApplyRMSProp, ResourceApplyAdam, and for
small variables ResourceApplyAdamWithAmsgrad in Adam's form). Here they
take the same gradients as the tf.compat.v1.train optimizers in a TF1
graph, and as the update written out in TensorFlow ops (what the classes
computed before they called the kernels), and every variable and slot must
come out bit for bit equal after each step. Keras SGD, which the
TF1-semantics gradient descent and momentum were before, is compared too:
bit for bit for gradient descent, to float32 rounding for momentum, whose
update it writes in another form. The models' whole training runs are
compared by parity_test's matched mode.
"""

import functools
from typing import Optional

import numpy as np
import pytest
import tensorflow as tf

from tf2_eager import optimizers
from tf2_eager import weights

pytestmark = pytest.mark.cross_kernel

STEPS = 12
# Shapes of the keras_mlp preset's variables: a matrix, then a bias.
SHAPES = {"mlp/hidden_0/weights": (784, 64), "mlp/hidden_0/biases": (64,)}
LEARNING_RATE = 0.003


def _initial_values() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.normal(0, 0.1, shape).astype(np.float32) for name, shape in SHAPES.items()}


def _gradients() -> list[dict[str, np.ndarray]]:
    """Each step's gradients, over six orders of magnitude so that the
    square roots and the epsilon all matter somewhere."""
    rng = np.random.default_rng(1)
    return [
        {
            name: (rng.normal(0, 1, shape) * 10.0 ** rng.integers(-6, 1, shape)).astype(np.float32)
            for name, shape in SHAPES.items()
        }
        for _ in range(STEPS)
    ]


def _tf2_variables() -> list[tf.Variable]:
    return [tf.Variable(value, name=name) for name, value in _initial_values().items()]


def _run_tf2(
    optimizer,
    variables: list[tf.Variable],
    in_function: bool = True,
    gradients_per_step: Optional[list[dict[str, np.ndarray]]] = None,
) -> list[list[np.ndarray]]:
    """Applies every step's gradients (_gradients() unless given), in a
    tf.function as the train step does or else op by op; returns the
    variables and all slots after each step."""

    def step(gradients: list[tf.Tensor]) -> None:
        optimizer.apply_gradients(zip(gradients, variables))

    if in_function:
        step = tf.function(step)

    states = []
    for gradients in gradients_per_step or _gradients():
        step([tf.constant(gradients[weights.variable_name(v)]) for v in variables])
        slots = [slot.numpy() for key in sorted(optimizer._slots) for slot in optimizer._slots[key]]
        states.append([v.numpy() for v in variables] + slots)
    return states


def _run_tf1(make_optimizer, slot_names: tuple[str, ...]) -> list[list[np.ndarray]]:
    """The same steps through a tf.compat.v1.train optimizer in a TF1 graph."""
    graph = tf.Graph()
    with graph.as_default():
        variables = [
            tf.compat.v1.get_variable(name, initializer=value, use_resource=True)
            for name, value in _initial_values().items()
        ]
        fed = [tf.compat.v1.placeholder(tf.float32, v.shape) for v in variables]
        optimizer = make_optimizer()
        train_op = optimizer.apply_gradients(zip(fed, variables))
        # In the TF2 classes' slot order: sorted by variable name.
        slots = [
            optimizer.get_slot(variable, slot_name)
            for variable in sorted(variables, key=lambda v: v.op.name)
            for slot_name in slot_names
        ]
        initializer = tf.compat.v1.global_variables_initializer()
    states = []
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        for gradients in _gradients():
            session.run(train_op, {f: gradients[v.op.name] for f, v in zip(fed, variables)})
            states.append(session.run(variables + slots))
    return states


class _ArithmeticGradientDescent(optimizers.Tf1GradientDescent):
    """var -= lr·grad written out in TensorFlow ops."""

    def _apply(self, gradient, variable, learning_rate) -> None:
        variable.assign_sub(gradient * learning_rate)


class _ArithmeticMomentum(optimizers.Tf1Momentum):
    """Tf1Momentum's update written out in TensorFlow ops, in TF1's form:
    accum = accum·momentum + grad; var -= accum·lr."""

    def _apply(self, gradient, variable, learning_rate) -> None:
        (accumulation,) = self._slot(variable, (tf.zeros_like,))
        accumulation.assign(accumulation * self.momentum + gradient)
        variable.assign_sub(accumulation * learning_rate)


class _ArithmeticRMSProp(optimizers.Tf1RMSProp):
    """Tf1RMSProp's update written out in TensorFlow ops, as it was before
    it called ResourceApplyRMSProp."""

    def _apply(self, gradient, variable, learning_rate) -> None:
        mean_square, moment = self._slot(variable, (tf.ones_like, tf.zeros_like))
        mean_square.assign_add((tf.square(gradient) - mean_square) * (1.0 - self.decay))
        moment.assign(
            moment * self.momentum + (gradient * learning_rate) / tf.sqrt(mean_square + self.epsilon)
        )
        variable.assign_sub(moment)


class _ArithmeticAdam(optimizers.Tf1Adam):
    """Tf1Adam's update written out in TensorFlow ops, as it was before it
    called ResourceApplyAdam."""

    def _apply(self, gradient, variable, learning_rate) -> None:
        alpha = learning_rate * tf.sqrt(1.0 - self.beta2_power) / (1.0 - self.beta1_power)
        first, second = self._slot(variable, (tf.zeros_like, tf.zeros_like))
        first.assign_add((gradient - first) * (1.0 - self.beta1))
        second.assign_add((tf.square(gradient) - second) * (1.0 - self.beta2))
        variable.assign_sub((first * alpha) / (tf.sqrt(second) + self.epsilon))


def _assert_bitwise_equal(actual: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> None:
    # assert_array_equal takes NaN for equal to NaN, and only to NaN.
    assert len(actual) == len(expected) == STEPS
    for step, (actual_values, expected_values) in enumerate(zip(actual, expected)):
        assert len(actual_values) == len(expected_values)
        for index, (value, reference) in enumerate(zip(actual_values, expected_values)):
            np.testing.assert_array_equal(value, reference, err_msg=f"step {step}, array {index}")


MOMENTUM = 0.9
CASES = {
    "gradient_descent": (
        optimizers.Tf1GradientDescent,
        _ArithmeticGradientDescent,
        lambda: tf.compat.v1.train.GradientDescentOptimizer(LEARNING_RATE),
        (),
    ),
    "momentum": (
        lambda learning_rate: optimizers.Tf1Momentum(learning_rate, MOMENTUM),
        lambda learning_rate: _ArithmeticMomentum(learning_rate, MOMENTUM),
        lambda: tf.compat.v1.train.MomentumOptimizer(LEARNING_RATE, MOMENTUM),
        ("momentum",),
    ),
    "rmsprop": (
        optimizers.Tf1RMSProp,
        _ArithmeticRMSProp,
        lambda: tf.compat.v1.train.RMSPropOptimizer(LEARNING_RATE),
        ("rms", "momentum"),
    ),
    "adam": (
        optimizers.Tf1Adam,
        _ArithmeticAdam,
        lambda: tf.compat.v1.train.AdamOptimizer(LEARNING_RATE),
        ("m", "v"),
    ),
}
# Tf1Adam takes ResourceApplyAdam for the weights of SHAPES and
# ResourceApplyAdamWithAmsgrad for the biases; these take one kernel for both.
ADAM_KERNEL_MIN_SIZES = {"adam_kernel_only": 0, "amsgrad_kernel_only": 2**62}
for _name, _size in ADAM_KERNEL_MIN_SIZES.items():
    CASES[_name] = (
        functools.partial(optimizers.Tf1Adam, adam_kernel_min_size=_size), *CASES["adam"][1:]
    )


@pytest.mark.parametrize("name", CASES)
def test_kernel_optimizer_equals_tf1_optimizer_bit_for_bit(name):
    kernel_class, _, make_tf1_optimizer, slot_names = CASES[name]

    tf2_states = _run_tf2(kernel_class(LEARNING_RATE), _tf2_variables())

    _assert_bitwise_equal(tf2_states, _run_tf1(make_tf1_optimizer, slot_names))


@pytest.mark.parametrize("schedule", ["constant", "codelab_decay"])
@pytest.mark.parametrize("name", CASES)
def test_kernel_optimizer_equals_the_written_out_update_bit_for_bit(name, schedule):
    kernel_class, arithmetic_class, _, _ = CASES[name]
    learning_rate = (
        optimizers.CodelabDecay(LEARNING_RATE, 0.0001, 2.0)
        if schedule == "codelab_decay" else LEARNING_RATE
    )

    kernel_states = _run_tf2(kernel_class(learning_rate), _tf2_variables())

    # The written-out update runs op by op: inside a tf.function Grappler
    # rewrites RMSProp's grad / sqrt(ms + eps) as grad * rsqrt(ms + eps),
    # which rounds differently, so that form was off TF1 by an ulp here
    # and there, where the kernel is not.
    _assert_bitwise_equal(
        kernel_states, _run_tf2(arithmetic_class(learning_rate), _tf2_variables(), in_function=False)
    )


# Keras SGD, the TF1-semantics gradient descent and momentum before they
# called the kernels, and the largest difference allowed, relative to the
# largest magnitude of each array: none for gradient descent, whose
# var -= grad·lr is one product and one difference either way; float32
# rounding of the two forms of momentum, over STEPS steps.
KERAS_CASES = {
    "gradient_descent": (lambda: tf.keras.optimizers.SGD(LEARNING_RATE), 0.0),
    "momentum": (lambda: tf.keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM), 1e-6),
}


@pytest.mark.parametrize("name", KERAS_CASES)
def test_kernel_optimizer_takes_keras_sgds_steps(name):
    kernel_class = CASES[name][0]
    make_keras_optimizer, relative_tolerance = KERAS_CASES[name]
    kernel_variables, keras_variables = _tf2_variables(), _tf2_variables()
    kernel_optimizer, keras_optimizer = kernel_class(LEARNING_RATE), make_keras_optimizer()

    @tf.function
    def steps(gradients: list[tf.Tensor]) -> None:
        kernel_optimizer.apply_gradients(zip(gradients, kernel_variables))
        keras_optimizer.apply_gradients(zip(gradients, keras_variables))

    largest_difference = 0.0
    for gradients in _gradients():
        steps([tf.constant(gradients[weights.variable_name(v)]) for v in kernel_variables])
        for kernel_variable, keras_variable in zip(kernel_variables, keras_variables):
            kernel_value, keras_value = kernel_variable.numpy(), keras_variable.numpy()
            largest_difference = max(
                largest_difference,
                np.abs(kernel_value - keras_value).max() / np.abs(keras_value).max(),
            )
            # The updates moved the variables: a test of two no-ops would pass.
            assert not np.array_equal(kernel_value, _initial_values()[
                weights.variable_name(kernel_variable)])

    assert largest_difference <= relative_tolerance


@pytest.mark.parametrize("name", ["rmsprop", "adam", "amsgrad_kernel_only"])
def test_kernel_optimizer_keeps_the_checkpoint_layout(name, tmp_path):
    # tf2_eager.train checkpoints the optimizer with the model, so the
    # kernel classes must write the keys and shapes the written-out ones
    # wrote, or earlier checkpoints would no longer restore.
    def layout(optimizer_class, directory: str) -> list[tuple[str, list[int]]]:
        variables = _tf2_variables()
        optimizer = optimizer_class(LEARNING_RATE)
        optimizer.apply_gradients([(tf.zeros_like(v), v) for v in variables])
        path = tf.train.Checkpoint(optimizer=optimizer).write(str(tmp_path / directory / "ckpt"))
        return tf.train.list_variables(path)

    kernel_class, arithmetic_class, _, _ = CASES[name]
    kernel_layout = layout(kernel_class, "kernel")

    assert kernel_layout == layout(arithmetic_class, "arithmetic")
    assert "optimizer/_slots/mlp.Shidden_0.Sweights/1/.ATTRIBUTES/VARIABLE_VALUE" in dict(
        kernel_layout)


def test_adam_takes_the_amsgrad_kernel_below_its_size_only():
    # The bit-for-bit tests above pass whichever kernel runs; this checks
    # that the small variable really takes the unsharded one.
    variables = _tf2_variables()
    optimizer = optimizers.Tf1Adam(LEARNING_RATE)
    step = tf.function(lambda gradients: optimizer.apply_gradients(zip(gradients, variables)))

    graph = step.get_concrete_function([tf.TensorSpec(v.shape) for v in variables]).graph
    kernels = sorted(op.type for op in graph.get_operations() if op.type.startswith("ResourceApply"))

    assert [v.shape.num_elements() >= optimizers.ADAM_KERNEL_MIN_SIZE for v in variables] == [
        True, False]
    assert kernels == ["ResourceApplyAdam", "ResourceApplyAdamWithAmsgrad"]


def _overflowing_gradients() -> list[dict[str, np.ndarray]]:
    """_gradients() with, at step 2, some elements whose square overflows
    float32, some infinite and some NaN: the steps after must still match."""
    gradients = _gradients()
    for values in gradients[2].values():
        flat = values.reshape(-1)
        flat[0:3], flat[3:6], flat[6:9] = 1e20, np.inf, np.nan
    return gradients


@pytest.mark.parametrize("in_function", [True, False], ids=["tf.function", "eager"])
def test_adam_kernels_agree_through_overflow_and_nan(in_function):
    def states(adam_kernel_min_size: int) -> list[list[np.ndarray]]:
        optimizer = optimizers.Tf1Adam(LEARNING_RATE, adam_kernel_min_size=adam_kernel_min_size)
        return _run_tf2(optimizer, _tf2_variables(), in_function, _overflowing_gradients())

    adam_kernel_states = states(ADAM_KERNEL_MIN_SIZES["adam_kernel_only"])

    _assert_bitwise_equal(states(ADAM_KERNEL_MIN_SIZES["amsgrad_kernel_only"]), adam_kernel_states)
    # The overflow made the old kernel's variables NaN after one more step,
    # which the AMSGrad kernel must reproduce, not skip.
    weights_after_overflow = adam_kernel_states[3][0].reshape(-1)
    assert np.isnan(weights_after_overflow[0:9]).all()
    assert np.isfinite(weights_after_overflow[9:]).all()
