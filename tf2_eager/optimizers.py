"""The TF2 optimizers that replace the documents' tf.compat.v1.train ones.

With --optimizer_semantics=keras they are tf.keras.optimizers with Keras'
defaults, what a TF2 user writes. With "tf1" (matched mode) each is its TF1
counterpart's update on the fused kernel that TF1's optimizer runs
(tf.raw_ops.ResourceApply*, tensorflow/core/kernels/training_ops.cc), on
the same resource variables: one op per variable, and TF1's arithmetic by
construction, rounding included:
- gradient_descent: Tf1GradientDescent below, ResourceApplyGradientDescent.
  (Keras SGD computes the same var -= lr·grad with two ops.)
- momentum: Tf1Momentum below, ResourceApplyMomentum. Keras
  SGD(momentum) computes v = m·v - lr·g; var += v, equal to TF1's
  accum = m·accum + g; var -= lr·accum for a constant learning rate only
  up to float32 rounding.
- momentum_assign: AssignMomentum below, the gradient-learning notebook's
  hand-written update, the same under both semantics.
- adam: Tf1Adam below, on TF1's ResourceApplyAdam kernel (small
  variables on ResourceApplyAdamWithAmsgrad, made to compute the same
  update, which it does without splitting it across threads). Keras Adam
  differs in more than its epsilon (1e-7 against TF1's 1e-8): it rounds
  1 - β and the β powers differently, which moves losses apart within a
  few steps.
- rmsprop: Tf1RMSProp below, on TF1's ResourceApplyRMSProp kernel. Keras
  RMSprop starts its mean square at zeros and uses epsilon 1e-7; TF1's
  RMSPropOptimizer starts it at ones and uses 1e-10, so their first steps
  already differ.
"""


import functools
from typing import Any, Callable, Optional

import tensorflow as tf

from flags import optimizer_config as optimizer_config_lib
from tf2_eager import weights
from runtime import errors


class CodelabDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
    """lr = min + (max - min) * exp(-step / decay_steps), in float64 like
    the codelab's Python, then cast to float32 as its feed_dict did."""

    def __init__(self, maximum: float, minimum: float, decay_steps: float):
        self.maximum, self.minimum, self.decay_steps = maximum, minimum, decay_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float64)
        rate = self.minimum + (self.maximum - self.minimum) * tf.exp(-step / self.decay_steps)
        return tf.cast(rate, tf.float32)

    def get_config(self):
        return {"maximum": self.maximum, "minimum": self.minimum, "decay_steps": self.decay_steps}


# Tf1Adam's variables of this many elements or more take ResourceApplyAdam,
# smaller ones ResourceApplyAdamWithAmsgrad (see Tf1Adam). Measured on a
# 2-core host, the two cost the same between 20,000 and 40,000 elements.
ADAM_KERNEL_MIN_SIZE = 2**15


class _Scratch:
    """An optimizer's work buffers per variable, in `buffers` (keyed as its
    slots): a plain object, invisible to tf.Module's tracking."""

    def __init__(self):
        self.buffers: dict[str, tuple[tf.Variable, ...]] = {}


class _Tf1Optimizer(tf.Module):
    """Slots per variable, created on first use, for the TF1-semantics rules.

    Every subclass but AssignMomentum updates each variable with one call of
    the fused kernel TF1's optimizer runs (tf.raw_ops.ResourceApply*,
    tensorflow/core/kernels/training_ops.cc), on the same resource
    variables: the arithmetic is TF1's by construction, rounding included,
    in one op per variable instead of about ten (Tf1Adam's small variables
    take a sibling kernel, made to compute the same update). Subclasses give
    `_apply(gradient, variable, learning_rate)` for one variable, and may
    extend `_finish()`, which runs once after all of them.
    """

    def __init__(self, learning_rate, name: str):
        super().__init__(name=name)
        self.learning_rate = learning_rate
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self._slots = {}
        # Work buffers per variable that hold nothing between steps: kept in
        # a plain object, which tf.Module neither checkpoints nor lists among
        # the optimizer's variables.
        self._scratch = _Scratch()
        # The tf.distribute strategy whose scope the optimizer is made in (the
        # default one outside any scope): its slots are made under it too, so
        # that a mirrored variable's slots are mirrored, and it applies the
        # updates, copy by copy.
        self._strategy = tf.distribute.get_strategy()

    def _current_learning_rate(self) -> tf.Tensor:
        if callable(self.learning_rate):
            return self.learning_rate(self.iterations)
        return tf.constant(self.learning_rate, tf.float32)

    def _slot(self, variable: tf.Variable, initial_values) -> tuple[tf.Variable, ...]:
        return self._per_variable(self._slots, variable, initial_values)

    def _per_variable(
        self, table: dict[str, tuple[tf.Variable, ...]], variable: tf.Variable, initial_values
    ) -> tuple[tf.Variable, ...]:
        """table's variables for `variable`, made from initial_values on first use."""
        # Keyed by the variable's name, unique within a model, because
        # tf.train.Checkpoint can only save dictionaries with string keys.
        key = weights.variable_name(variable)
        if key not in table:
            # Created outside any tf.function trace, as Keras builds its slots.
            with tf.init_scope(), self._strategy.scope():
                table[key] = tuple(
                    tf.Variable(initial(variable), trainable=False) for initial in initial_values
                )
        return table[key]

    def apply_gradients(self, gradients_and_variables) -> None:
        learning_rate = self._current_learning_rate()
        for gradient, variable in gradients_and_variables:
            self._apply(gradient, variable, learning_rate)
        self._finish()

    def _apply(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: tf.Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _apply.")

    def _update_each_copy(
        self, update: Callable[..., Any], variable: tf.Variable, *slots: tf.Variable
    ) -> None:
        """Calls update(variable, *slots) on every copy of `variable` and its slots.

        The kernels take variable handles. Under tf.distribute a mirrored
        variable has one copy per device and no handle of its own in
        cross-replica context, where tf2_eager.distributed applies the
        update; the strategy's update() calls `update` once per copy, with
        the same device's copy of each slot. Without a strategy it is one
        plain call.
        """
        self._strategy.extended.update(variable, update, args=slots, group=False)

    def _finish(self) -> None:
        self.iterations.assign_add(1)


class Tf1GradientDescent(_Tf1Optimizer):
    """tf.compat.v1.train.GradientDescentOptimizer's update, on its own kernel.

    var <- var - lr·grad: ResourceApplyGradientDescent (ApplyGradientDescent
    in tensorflow/core/kernels/training_ops.cc). The rate is cast to the
    variable's dtype, as TF1 casts its float32 rate tensor.
    """

    def __init__(self, learning_rate, name: str = "tf1_gradient_descent"):
        super().__init__(learning_rate, name)

    def _apply(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: tf.Tensor) -> None:
        def update(variable_copy) -> None:
            tf.raw_ops.ResourceApplyGradientDescent(
                var=variable_copy.handle, alpha=tf.cast(learning_rate, variable.dtype),
                delta=gradient,
            )

        self._update_each_copy(update, variable)


class Tf1Momentum(_Tf1Optimizer):
    """tf.compat.v1.train.MomentumOptimizer's update, on its own kernel.

    accum <- momentum·accum + grad   (accum starts at zeros)
    var   <- var - lr·accum
    is ResourceApplyMomentum with use_nesterov=False (ApplyMomentum in
    training_ops.cc). The rate and the momentum are float32, cast to the
    variable's dtype, as TF1 casts its float32 hyperparameter tensors (the
    breast-cancer notebook's float64 variables take 0.9 as 0.899999976).
    """

    def __init__(self, learning_rate, momentum: float, name: str = "tf1_momentum"):
        super().__init__(learning_rate, name)
        self.momentum = tf.constant(momentum, tf.float32)

    def _apply(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: tf.Tensor) -> None:
        (accumulation,) = self._slot(variable, (tf.zeros_like,))

        def update(variable_copy, accumulation_copy) -> None:
            tf.raw_ops.ResourceApplyMomentum(
                var=variable_copy.handle, accum=accumulation_copy.handle,
                lr=tf.cast(learning_rate, variable.dtype), grad=gradient,
                momentum=tf.cast(self.momentum, variable.dtype), use_nesterov=False,
            )

        self._update_each_copy(update, variable, accumulation)


class Tf1RMSProp(_Tf1Optimizer):
    """tf.compat.v1.train.RMSPropOptimizer's update, on its own kernel.

    ms  <- ms + (grad² - ms)·(1 - decay)          (ms starts at ones)
    mom <- momentum·mom + lr·grad / sqrt(ms + ε)   (mom starts at zeros)
    var <- var - mom
    with TF1's defaults decay 0.9, momentum 0, ε 1e-10: ResourceApplyRMSProp
    (ApplyRMSProp in tensorflow/core/kernels/training_ops.cc).
    """

    def __init__(self, learning_rate, decay: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-10, name: str = "tf1_rmsprop"):
        super().__init__(learning_rate, name)
        self.decay = tf.constant(decay, tf.float32)
        self.momentum = tf.constant(momentum, tf.float32)
        self.epsilon = tf.constant(epsilon, tf.float32)

    def _apply(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: tf.Tensor) -> None:
        mean_square, moment = self._slot(variable, (tf.ones_like, tf.zeros_like))

        def update(variable_copy, mean_square_copy, moment_copy) -> None:
            tf.raw_ops.ResourceApplyRMSProp(
                var=variable_copy.handle, ms=mean_square_copy.handle, mom=moment_copy.handle,
                lr=learning_rate, rho=self.decay, momentum=self.momentum, epsilon=self.epsilon,
                grad=gradient,
            )

        self._update_each_copy(update, variable, mean_square, moment)


class AssignMomentum(_Tf1Optimizer):
    """The notebook's momentum as explicit tf.Variable.assign calls.

    vel <- momentum·vel - lr·grad   (vel starts at zeros)
    var <- var + vel
    The twin of tf1_graph.optimizers.momentum_by_assign, with the same
    float32 constants, so the two sides take the same steps. It stays
    written out: the notebook's update is not any TF1 kernel's.
    """

    def __init__(self, learning_rate, momentum: float, name: str = "assign_momentum"):
        super().__init__(learning_rate, name)
        self.momentum = tf.constant(momentum, tf.float32)

    def _apply(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: tf.Tensor) -> None:
        (velocity,) = self._slot(variable, (tf.zeros_like,))
        velocity.assign(self.momentum * velocity - learning_rate * gradient)
        variable.assign_add(velocity)


class Tf1Adam(_Tf1Optimizer):
    """tf.compat.v1.train.AdamOptimizer's update, on its own kernel.

    alpha <- lr·sqrt(1 - β2_power) / (1 - β1_power)
    m     <- m + (grad - m)·(1 - β1)
    v     <- v + (grad² - v)·(1 - β2)
    var   <- var - (m·alpha) / (sqrt(v) + ε)
    is ResourceApplyAdam (ApplyAdam in training_ops.cc); after every
    variable's update β1_power *= β1 and β2_power *= β2, float32 variables
    that start at β1 and β2, as AdamOptimizer._finish does. Keras' Adam
    instead recomputes the powers from the step count and rounds 1 - β
    differently, so even with ε = 1e-8 its losses part from TF1's within a
    few steps.

    Variables of fewer than `adam_kernel_min_size` elements take the same
    update from ResourceApplyAdamWithAmsgrad instead. ResourceApplyAdam's
    CPU kernel hands Eigen's parallelFor the whole array's cost as the cost
    of each element, so it splits even a 10-element bias across the
    intra-op threads and waits for them: on a busy 2-core host about 0.1 ms
    a call, many times the update itself. The AMSGrad kernel computes the
    same m, v and var lines, with the same operations in the same order, as
    Eigen expressions costed per element, which run on the calling thread
    when small. Its one more line, vhat <- max(vhat, v), with var then
    divided by sqrt(vhat) + ε, must give the new v itself, so vhat is set
    to the old v times 0 before the call. Where the old v is finite that is
    0, and the new v is never negative (when it is NaN, from a NaN
    gradient, m is NaN too, and var with it either way); where the old v
    overflowed to infinity it is NaN, as is the new v, and max keeps it. The
    update is then ResourceApplyAdam's bit for bit, overflow and NaN
    included (compat_tests/optimizers_test.py). vhat is a scratch buffer,
    not a slot: TF1's Adam has none, and checkpoints keep TF1's layout.
    Above the size, one sharded pass beats the AMSGrad kernel's four.
    """

    def __init__(self, learning_rate, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, name: str = "tf1_adam",
                 adam_kernel_min_size: int = ADAM_KERNEL_MIN_SIZE):
        super().__init__(learning_rate, name)
        self.beta1 = tf.constant(beta1, tf.float32)
        self.beta2 = tf.constant(beta2, tf.float32)
        self.epsilon = tf.constant(epsilon, tf.float32)
        self.beta1_power = tf.Variable(beta1, dtype=tf.float32, trainable=False)
        self.beta2_power = tf.Variable(beta2, dtype=tf.float32, trainable=False)
        self.adam_kernel_min_size = adam_kernel_min_size

    def _apply(self, gradient: tf.Tensor, variable: tf.Variable, learning_rate: tf.Tensor) -> None:
        slots = self._slot(variable, (tf.zeros_like, tf.zeros_like))
        update = functools.partial(
            _adam_kernel, beta1_power=self.beta1_power, beta2_power=self.beta2_power,
            lr=learning_rate, beta1=self.beta1, beta2=self.beta2, epsilon=self.epsilon,
            grad=gradient,
        )
        size = variable.shape.num_elements()  # None for a shape not fully known.
        if size is not None and size < self.adam_kernel_min_size:
            slots += self._per_variable(self._scratch.buffers, variable, (tf.zeros_like,))
        self._update_each_copy(update, variable, *slots)

    def _finish(self) -> None:
        self.beta1_power.assign(self.beta1_power * self.beta1)
        self.beta2_power.assign(self.beta2_power * self.beta2)
        super()._finish()


def _adam_kernel(
    variable: tf.Variable,
    first: tf.Variable,
    second: tf.Variable,
    second_maximum: Optional[tf.Variable] = None,
    **arguments: tf.Tensor,
) -> None:
    """Tf1Adam's update of one copy of `variable` with its slots: by
    ResourceApplyAdam, or given a scratch `second_maximum` (AMSGrad's vhat),
    by ResourceApplyAdamWithAmsgrad with it set to second·0 first (see
    Tf1Adam)."""
    if second_maximum is None:
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=first.handle, v=second.handle, **arguments
        )
        return
    second_maximum.assign(second * 0.0)
    tf.raw_ops.ResourceApplyAdamWithAmsgrad(
        var=variable.handle, m=first.handle, v=second.handle, vhat=second_maximum.handle,
        **arguments,
    )


def create(optimizer_config: optimizer_config_lib.OptimizerConfig):
    """Returns the TF2 optimizer for optimizer_config.optimizer and its
    semantics, the learning rate following its schedule."""
    learning_rate = optimizer_config.learning_rate
    if optimizer_config.learning_rate_decay == "exponential":
        learning_rate = CodelabDecay(
            learning_rate, optimizer_config.min_learning_rate, optimizer_config.decay_steps
        )
    tf1_semantics = optimizer_config.optimizer_semantics == "tf1"
    if optimizer_config.optimizer == "gradient_descent":
        if tf1_semantics:
            return Tf1GradientDescent(learning_rate)
        return tf.keras.optimizers.SGD(learning_rate)
    if optimizer_config.optimizer == "momentum":
        if tf1_semantics:
            return Tf1Momentum(learning_rate, optimizer_config.momentum)
        return tf.keras.optimizers.SGD(learning_rate, momentum=optimizer_config.momentum)
    if optimizer_config.optimizer == "momentum_assign":
        return AssignMomentum(learning_rate, optimizer_config.momentum)
    if optimizer_config.optimizer == "adam":
        return Tf1Adam(learning_rate) if tf1_semantics else tf.keras.optimizers.Adam(learning_rate)
    if optimizer_config.optimizer == "rmsprop":
        return Tf1RMSProp(learning_rate) if tf1_semantics else tf.keras.optimizers.RMSprop(learning_rate)
    raise errors.FixableError(
        f"Unknown optimizer {optimizer_config.optimizer!r}; expected one of "
        f"{', '.join(optimizer_config_lib.OPTIMIZERS)}."
    )


