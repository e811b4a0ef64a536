"""The optimizer's settings, with the learning-rate schedule: a frozen dataclass.

`flags.config.TrainConfig` builds one as `config.optimizer_config`; the
graph's training op (tf1_graph/classifier.py's `training`) and the TF2
optimizer (tf2_eager/optimizers.py's `create`) take only that. It checks its
own values when it is made. No absl, no TensorFlow.
"""

import dataclasses
import math

from runtime import errors

# "momentum_assign" is the gradient-learning notebook's hand-written momentum,
# vel.assign(momentum * vel - lr * grad); w.assign_add(vel), with explicit
# tf.Variable.assign calls instead of an optimizer class.
OPTIMIZERS = ("gradient_descent", "momentum", "momentum_assign", "rmsprop", "adam")

# The TF2 side's optimizers. "tf1": update rules that compute what the
# tf.compat.v1.train optimizer computes (RMSProp's accumulator starting at
# ones, Adam's epsilon 1e-8), for matched mode. "keras": tf.keras.optimizers
# with their own defaults, what a TF2 user would write.
OPTIMIZER_SEMANTICS = ("tf1", "keras")

LEARNING_RATE_DECAYS = ("none", "exponential")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer and its learning rate, step by step.

    The defaults are those of a document that sets none of them (Hvass-Labs
    tutorial 01's gradient descent at 0.5); each model's document sets its
    own in its flagfile.

    Attributes:
      optimizer: One of OPTIMIZERS.
      learning_rate: Step size, > 0; with exponential decay, the rate at
        step 0.
      momentum: Momentum of the "momentum" optimizers (and of "rmsprop").
      learning_rate_decay: "none", or "exponential": the codelab's
        min + (learning_rate - min) * exp(-step / decay_steps).
      min_learning_rate: The floor of the exponential decay.
      decay_steps: The exponential decay's time constant, in steps.
      optimizer_semantics: One of OPTIMIZER_SEMANTICS (the TF2 side only).
    """

    optimizer: str = "gradient_descent"
    learning_rate: float = 0.5
    momentum: float = 0.9
    learning_rate_decay: str = "none"
    min_learning_rate: float = 0.0001
    decay_steps: float = 2000.0
    optimizer_semantics: str = "tf1"

    def __post_init__(self):
        errors.check_choice("optimizer", self.optimizer, OPTIMIZERS)
        errors.check_choice("optimizer_semantics", self.optimizer_semantics, OPTIMIZER_SEMANTICS)
        errors.check_choice("learning_rate_decay", self.learning_rate_decay, LEARNING_RATE_DECAYS)
        if not self.learning_rate > 0:
            raise errors.FixableError(
                f"learning_rate must be > 0, got {self.learning_rate!r}."
            )
        if self.learning_rate_decay == "exponential" and not (
            0 < self.min_learning_rate <= self.learning_rate and self.decay_steps > 0
        ):
            raise errors.FixableError(
                "Exponential decay needs 0 < min_learning_rate <= learning_rate "
                f"and decay_steps > 0, got {self.min_learning_rate}, "
                f"{self.learning_rate}, {self.decay_steps}."
            )

    def learning_rate_at(self, step: int) -> float:
        """The learning rate of 0-based training step `step`, in float64, as
        the codelab computed it in Python; both sides compute this formula
        in the graph, and compat_tests/train_scripts_test.py checks them
        against this reference."""
        if self.learning_rate_decay == "none":
            return self.learning_rate
        return self.min_learning_rate + (
            self.learning_rate - self.min_learning_rate
        ) * math.exp(-step / self.decay_steps)


SETTING_NAMES = tuple(field.name for field in dataclasses.fields(OptimizerConfig))
