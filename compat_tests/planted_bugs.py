"""Realistic TF1 -> TF2 migration mistakes, each planted in softmax regression.

Every entry pairs a correct TF1 graph (tf1_graph.softmax_regression, with the
optimizer the mistake concerns) with a TF2 side that differs from the correct
one by exactly one mistake, and says where the parity ladder must catch it:
the rung, and a phrase of the likely cause it must name. ladder_test.py runs
them all; the true pairs here pass every rung.

They double as examples for `python -m compat_tests.check`:

    python -m compat_tests.check --tf1=compat_tests.planted_bugs:tf1_gradient_descent \\
        --tf2=compat_tests.planted_bugs:tf2_sum_instead_of_mean
"""

import dataclasses
from typing import Any, Callable, Mapping

import tensorflow as tf

import mnist_data
from compat_tests import ladder
from flags import config as config_lib
from tf1_graph import classifier as tf1_classifier
from tf1_graph import softmax_regression as tf1_softmax
from tf2_eager import classifier as tf2_classifier
from tf2_eager import softmax_regression as tf2_softmax

# Random initial weights make every mistake visible in the outputs; with the
# zeros of the Hvass tutorial a transposed kernel would multiply zeros alike.
CONFIG = config_lib.TrainConfig(
    weight_init="truncated_normal", learning_rate=0.1, loss="softmax_cross_entropy"
)
LEARNING_RATE = CONFIG.learning_rate


# The TF1 references: the project's graph, with the optimizer under test.


def _tf1_with(optimizer: tf.compat.v1.train.Optimizer, images, labels) -> dict:
    logits = tf1_softmax.inference(images, CONFIG.model_config, keep_prob=None)
    loss = tf1_classifier.loss(logits, labels, CONFIG.loss)
    return {"outputs": logits, "loss": loss, "train_op": optimizer.minimize(loss)}


def tf1_gradient_descent(images: tf.Tensor, labels: tf.Tensor) -> dict:
    return _tf1_with(tf.compat.v1.train.GradientDescentOptimizer(LEARNING_RATE), images, labels)


def tf1_momentum(images: tf.Tensor, labels: tf.Tensor) -> dict:
    return _tf1_with(tf.compat.v1.train.MomentumOptimizer(LEARNING_RATE, 0.9), images, labels)


# Adam's rate is 0.01 so that five steps learn: a pair at chance fails the
# metric rung whatever its numbers.
ADAM_LEARNING_RATE = 0.01


def tf1_adam(images: tf.Tensor, labels: tf.Tensor) -> dict:
    return _tf1_with(tf.compat.v1.train.AdamOptimizer(ADAM_LEARNING_RATE), images, labels)


def tf1_rmsprop(images: tf.Tensor, labels: tf.Tensor) -> dict:
    return _tf1_with(tf.compat.v1.train.RMSPropOptimizer(0.001), images, labels)


# A decay schedule short enough for five steps: the rate halves every two.
DECAY_STEPS = 2
DECAY_RATE = 0.5


def _tf1_decayed(images: tf.Tensor, labels: tf.Tensor, staircase: bool,
                 pass_global_step: bool) -> dict:
    global_step = tf.compat.v1.train.get_or_create_global_step()
    rate = tf.compat.v1.train.exponential_decay(
        LEARNING_RATE, global_step, DECAY_STEPS, DECAY_RATE, staircase=staircase)
    logits = tf1_softmax.inference(images, CONFIG.model_config, keep_prob=None)
    loss = tf1_classifier.loss(logits, labels, CONFIG.loss)
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(rate)
    train_op = optimizer.minimize(loss, global_step=global_step if pass_global_step else None)
    return {"outputs": logits, "loss": loss, "train_op": train_op}


def tf1_staircase_decay(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The rate halved every DECAY_STEPS steps, in stairs."""
    return _tf1_decayed(images, labels, staircase=True, pass_global_step=True)


def tf1_decay_without_global_step(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """Mistake on the TF1 side: minimize() without global_step, so the
    smooth decay the code asks for never advances."""
    return _tf1_decayed(images, labels, staircase=False, pass_global_step=False)


def tf1_label_smoothing(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The cross-entropy with labels smoothed by 0.1."""
    logits = tf1_softmax.inference(images, CONFIG.model_config, keep_prob=None)
    loss = tf.compat.v1.losses.softmax_cross_entropy(labels, logits, label_smoothing=0.1)
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(LEARNING_RATE)
    return {"outputs": logits, "loss": loss, "train_op": optimizer.minimize(loss)}


def tf1_clipped(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """Gradients clipped to a global norm of 0.1 between compute and apply."""
    logits = tf1_softmax.inference(images, CONFIG.model_config, keep_prob=None)
    loss = tf1_classifier.loss(logits, labels, CONFIG.loss)
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(LEARNING_RATE)
    gradients, variables = zip(*optimizer.compute_gradients(loss))
    clipped, _ = tf.clip_by_global_norm(gradients, 0.1)
    return {"outputs": logits, "loss": loss,
            "train_op": optimizer.apply_gradients(zip(clipped, variables))}


# The TF2 sides.


def _stable_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    return tf2_classifier.loss(logits, labels, CONFIG.loss)


def _side(model=None, loss_fn=_stable_loss, optimizer=None) -> ladder.Tf2Side:
    return ladder.Tf2Side(
        model=model or tf2_softmax.create(CONFIG.model_config, CONFIG.seed),
        loss_fn=loss_fn,
        optimizer=optimizer or tf.keras.optimizers.SGD(LEARNING_RATE),
    )


def tf2_correct() -> ladder.Tf2Side:
    """The true TF2 form of tf1_gradient_descent."""
    return _side()


def tf2_correct_momentum() -> ladder.Tf2Side:
    """Keras' v = m·v - lr·g equals TF1's accum = m·accum + g for constant lr."""
    return _side(optimizer=tf.keras.optimizers.SGD(LEARNING_RATE, momentum=0.9))


def tf2_correct_adam() -> ladder.Tf2Side:
    """Keras Adam with TF1's epsilon, 1e-8, matches tf.compat.v1.train.AdamOptimizer."""
    return _side(optimizer=tf.keras.optimizers.Adam(ADAM_LEARNING_RATE, epsilon=1e-8))


class _TransposedSoftmax(tf.Module):
    """Mistake: the kernel stored [out, in] and multiplied with transpose_b."""

    def __init__(self):
        super().__init__(name="softmax_regression")
        with self.name_scope:
            self.weights = tf.Variable(tf.zeros([10, 784]), name="weights")
            self.biases = tf.Variable(tf.zeros([10]), name="biases")

    def __call__(self, images):
        return tf.matmul(images, self.weights, transpose_b=True) + self.biases


def tf2_transposed_kernel() -> ladder.Tf2Side:
    return _side(model=_TransposedSoftmax())


class _NoBiasSoftmax(tf.Module):
    """Mistake: the bias was left out (a Dense(10, use_bias=False) port)."""

    def __init__(self):
        super().__init__(name="softmax_regression")
        with self.name_scope:
            self.weights = tf.Variable(tf.zeros([784, 10]), name="weights")

    def __call__(self, images):
        return tf.matmul(images, self.weights)


def tf2_missing_bias() -> ladder.Tf2Side:
    return _side(model=_NoBiasSoftmax())


class _ProbabilitySoftmax(tf2_softmax.SoftmaxRegression):
    """Mistake: softmax moved into the model, while the loss still takes logits."""

    def __call__(self, images, training=False):
        return tf.nn.softmax(super().__call__(images))


def tf2_softmax_applied_twice() -> ladder.Tf2Side:
    return _side(model=_ProbabilitySoftmax(CONFIG.model_config, seed=0))


class _DropoutSoftmax(tf2_softmax.SoftmaxRegression):
    """Mistake: dropout (keep 0.75) applied on every call, evaluation included."""

    def __call__(self, images, training=False):
        return super().__call__(tf.nn.dropout(images, rate=0.25))


def tf2_dropout_left_on() -> ladder.Tf2Side:
    return _side(model=_DropoutSoftmax(CONFIG.model_config, seed=0))


def tf2_sum_instead_of_mean() -> ladder.Tf2Side:
    """Mistake: per-example losses summed over the batch instead of averaged."""

    def summed_loss(labels, logits):
        return tf.reduce_sum(
            tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )

    return _side(loss_fn=summed_loss)


def tf2_wrong_learning_rate() -> ladder.Tf2Side:
    """Mistake: the learning rate of another experiment (0.01 for 0.1)."""
    return _side(optimizer=tf.keras.optimizers.SGD(LEARNING_RATE / 10))


def tf2_nesterov_momentum() -> ladder.Tf2Side:
    """Mistake: nesterov=True, a different momentum formulation from TF1's."""
    return _side(
        optimizer=tf.keras.optimizers.SGD(LEARNING_RATE, momentum=0.9, nesterov=True)
    )


def tf2_gradient_clipping() -> ladder.Tf2Side:
    """Mistake: clipnorm set on the Keras optimizer, where TF1 does not clip."""
    return _side(optimizer=tf.keras.optimizers.SGD(LEARNING_RATE, clipnorm=0.1))


def tf2_smooth_decay() -> ladder.Tf2Side:
    """Keras' ExponentialDecay without staircase: the rate decays every step."""
    return _side(optimizer=tf.keras.optimizers.SGD(
        tf.keras.optimizers.schedules.ExponentialDecay(LEARNING_RATE, DECAY_STEPS, DECAY_RATE)))


def tf2_adam_default_epsilon() -> ladder.Tf2Side:
    """Mistake: Keras Adam's default epsilon, 1e-7, for TF1's 1e-8."""
    return _side(optimizer=tf.keras.optimizers.Adam(ADAM_LEARNING_RATE))


def tf2_rmsprop_keras_defaults() -> ladder.Tf2Side:
    """Mistake: Keras RMSprop for TF1 RMSPropOptimizer (accumulator at zeros,
    not ones; epsilon 1e-7, not 1e-10)."""
    return _side(optimizer=tf.keras.optimizers.RMSprop(0.001))


@dataclasses.dataclass(frozen=True)
class Pair:
    """A TF1 reference and a TF2 side; for a mistake, where it must be caught."""

    tf1: Callable
    tf2: Callable[[], ladder.Tf2Side]
    rung: str = ""  # Empty for a true pair: every rung passes.
    where: str = ""  # A phrase of the failing rung's `where`.
    # A phrase of one of the likely causes; empty when nothing measured
    # points at one and the report must say so.
    cause: str = ""
    # A phrase of the failing rung's detail (where a forward failure parts).
    detail: str = ""
    # More run_ladder arguments the pair runs with (check_initial_values).
    ladder_arguments: Mapping[str, Any] = dataclasses.field(default_factory=dict)


TRUE_PAIRS = {
    "gradient_descent": Pair(tf1_gradient_descent, tf2_correct),
    "momentum": Pair(tf1_momentum, tf2_correct_momentum),
    "adam_epsilon_1e-8": Pair(tf1_adam, tf2_correct_adam),
}

MISTAKES = {
    "transposed_kernel": Pair(
        tf1_gradient_descent, tf2_transposed_kernel, "variables",
        "softmax_regression/weights", "Transposed kernel"),
    "missing_bias": Pair(
        tf1_gradient_descent, tf2_missing_bias, "variables",
        "softmax_regression/biases", "Missing bias"),
    "softmax_applied_twice": Pair(
        tf1_gradient_descent, tf2_softmax_applied_twice, "forward",
        "outputs", "Logits vs probabilities"),
    "dropout_left_on": Pair(
        tf1_gradient_descent, tf2_dropout_left_on, "forward", "outputs", "Dropout left on"),
    "sum_instead_of_mean": Pair(
        tf1_gradient_descent, tf2_sum_instead_of_mean, "forward", "loss", "Sum vs mean"),
    "wrong_learning_rate": Pair(
        tf1_gradient_descent, tf2_wrong_learning_rate, "one_update",
        "softmax_regression/", "different learning rate"),
    "nesterov_momentum": Pair(
        tf1_momentum, tf2_nesterov_momentum, "one_update", "softmax_regression/",
        "Momentum formulation"),
    "gradient_clipping": Pair(
        tf1_gradient_descent, tf2_gradient_clipping, "one_update", "softmax_regression/",
        "Gradient clipping: the TF2 optimizer clips (clipnorm=0.1)"),
    "adam_default_epsilon": Pair(
        tf1_adam, tf2_adam_default_epsilon, "one_update", "softmax_regression/",
        "Adam epsilon"),
    "rmsprop_keras_defaults": Pair(
        tf1_rmsprop, tf2_rmsprop_keras_defaults, "one_update", "softmax_regression/",
        "RMSProp"),
    # The port forgets staircase=True: the rates agree at steps 0, 2 and 4.
    "staircase_vs_smooth_decay": Pair(
        tf1_staircase_decay, tf2_smooth_decay, "steps", "loss at step",
        "Staircase vs smooth decay: TF1's learning rate changes in stairs every 2 steps"),
    "decay_without_global_step": Pair(
        tf1_decay_without_global_step, tf2_smooth_decay, "steps", "loss at step",
        "the TF1 train op does not increment global_step; pass global_step=... to minimize()"),
    # The port forgets CategoricalCrossentropy(label_smoothing=0.1).
    "label_smoothing_forgotten": Pair(
        tf1_label_smoothing, tf2_correct, "forward", "loss",
        "Label smoothing: TF1's loss is the cross-entropy with labels smoothed by 0.1, TF2's by 0"),
    # The port forgets TF1's clip_by_global_norm: every update is scaled alike.
    "tf1_clipping_forgotten": Pair(
        tf1_clipped, tf2_correct, "one_update", "softmax_regression/",
        "the TF1 graph clips (tf.clip_by_global_norm ops)"),
}


def run(pair: Pair, steps: int = 5, **ladder_arguments) -> ladder.LadderReport:
    """Runs the ladder on a pair over the embedded MNIST data."""
    dataset = mnist_data.load_dataset("mnist_embedded")
    return ladder.run_ladder(
        pair.tf1,
        pair.tf2,
        (dataset.train_images, mnist_data.one_hot(dataset.train_labels)),
        batch_size=100,
        steps=steps,
        eval_data=(dataset.test_images, mnist_data.one_hot(dataset.test_labels)),
        **{**pair.ladder_arguments, **ladder_arguments},
    )

