"""The TF2 optimizers that replace the documents' tf.compat.v1.train ones.

With --optimizer_semantics=keras they are tf.keras.optimizers with Keras'
defaults, what a TF2 user writes. With "tf1" (matched mode) each computes
what its TF1 counterpart computes:
- gradient_descent: Keras SGD; var -= lr * grad, the same arithmetic.
- momentum: Keras SGD(momentum): v = m·v - lr·g; var += v equals TF1's
  accum = m·accum + g; var -= lr·accum for a constant learning rate.
- adam: Keras Adam with TF1's epsilon, 1e-8 (Keras' default is 1e-7).
- rmsprop: Tf1RMSProp below. Keras RMSprop starts its mean square at zeros
  and uses epsilon 1e-7; TF1's RMSPropOptimizer starts it at ones and uses
  1e-10, so their first steps already differ.
"""


import tensorflow as tf

from flags import config as config_lib


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


class Tf1RMSProp(tf.Module):
    """tf.compat.v1.train.RMSPropOptimizer's update, as TF2 code.

    ms  <- ms + (grad² - ms)·(1 - decay)          (ms starts at ones)
    mom <- momentum·mom + lr·grad / sqrt(ms + ε)   (mom starts at zeros)
    var <- var - mom
    with TF1's defaults decay 0.9, momentum 0, ε 1e-10 (training_ops.cc).
    """

    def __init__(self, learning_rate: float, decay: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-10, name: str = "tf1_rmsprop"):
        super().__init__(name=name)
        self.learning_rate, self.decay = learning_rate, decay
        self.momentum, self.epsilon = momentum, epsilon
        self._slots = {}

    def apply_gradients(self, gradients_and_variables) -> None:
        for gradient, variable in gradients_and_variables:
            key = variable.ref()
            if key not in self._slots:
                # Slots are created on the first call, outside any trace's
                # branches, as Keras optimizers build theirs.
                with tf.init_scope():
                    self._slots[key] = (
                        tf.Variable(tf.ones_like(variable), trainable=False),
                        tf.Variable(tf.zeros_like(variable), trainable=False),
                    )
            mean_square, moment = self._slots[key]
            mean_square.assign_add((tf.square(gradient) - mean_square) * (1.0 - self.decay))
            moment.assign(
                moment * self.momentum
                + (gradient * self.learning_rate) / tf.sqrt(mean_square + self.epsilon)
            )
            variable.assign_sub(moment)


def create(config: config_lib.TrainConfig):
    """Returns the TF2 optimizer for config.optimizer and its semantics."""
    learning_rate = config.learning_rate
    if config.learning_rate_decay == "exponential":
        learning_rate = CodelabDecay(
            config.learning_rate, config.min_learning_rate, config.decay_steps
        )
    tf1_semantics = config.optimizer_semantics == "tf1"
    if config.optimizer == "gradient_descent":
        return tf.keras.optimizers.SGD(learning_rate)
    if config.optimizer == "momentum":
        return tf.keras.optimizers.SGD(learning_rate, momentum=config.momentum)
    if config.optimizer == "adam":
        return tf.keras.optimizers.Adam(learning_rate, epsilon=1e-8 if tf1_semantics else 1e-7)
    if config.optimizer == "rmsprop":
        if tf1_semantics:
            if config.learning_rate_decay != "none":
                raise ValueError(
                    "Tf1RMSProp takes a constant learning rate; drop "
                    "--learning_rate_decay or use --optimizer_semantics=keras."
                )
            return Tf1RMSProp(learning_rate)
        return tf.keras.optimizers.RMSprop(learning_rate)
    raise ValueError(
        f"Unknown optimizer {config.optimizer!r}; expected one of "
        f"{', '.join(config_lib.OPTIMIZERS)}."
    )


