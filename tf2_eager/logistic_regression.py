"""Logistic regression on breast cancer in idiomatic TF2: p = sigmoid(x·w + b).

The TF2 form of tf1_graph/logistic_regression.py (the gradient-learning
notebook: scikit-learn's breast-cancer rows, w float64 [30] and b float64 []
from zeros, mean clipped cross-entropy, and three trainers: full-batch
gradient descent, minibatch SGD and momentum). The variables live in a
tf.Module, the optimizer passed to build() became a Keras optimizer, and
Session.run([loss, train_op]) a call of the tf.function step that
tf2_eager/steps.py's make_train_step builds.
"""

import functools
from typing import Any, Optional, Sequence

import numpy as np
import tensorflow as tf

from flags import config as config_lib
from mnist_data import breast_cancer
from mnist_data import checks
from tf2_eager import optimizers
from tf2_eager import steps
from runtime import errors


class LogisticRegression(tf.Module):
    """p = sigmoid(x·w + b) with float64 variables named as in tf1_graph."""

    def __init__(self, name: str = "logistic_regression"):
        """Creates w, float64 [30] zeros, and b, float64 [] zero, as "<name>/w"
        and "<name>/b"."""
        super().__init__(name=name)
        with self.name_scope:
            self.w = tf.Variable(tf.zeros([breast_cancer.NUM_FEATURES], tf.float64), name="w")
            self.b = tf.Variable(tf.constant(0.0, tf.float64), name="b")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Returns p(class 1), float64 [n], for features x float64 [n, 30]."""
        x = tf.convert_to_tensor(x)
        checks.check_float64(
            x.dtype.name, "x", "tf2_eager LogisticRegression", "the 1e-12 comparison between sides"
        )
        return tf.sigmoid(tf.linalg.matvec(x, self.w) + self.b)


def loss(y: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
    """Mean clipped cross-entropy, float64 [], in Keras' (labels, outputs) order.

    -mean(y log(p') + (1 - y) log(1 - p')) with p' = clip(p, ε, 1 - ε),
    ε = breast_cancer.CLIP_EPSILON (1e-7, the project's choice).

    Args:
      y: Labels, float64 [n] of 0/1.
      p: Probabilities of class 1, float64 [n].
    """
    clipped = tf.clip_by_value(p, breast_cancer.CLIP_EPSILON, 1.0 - breast_cancer.CLIP_EPSILON)
    return -tf.reduce_mean(y * tf.math.log(clipped) + (1.0 - y) * tf.math.log(1.0 - clipped))


def train(
    train_x: np.ndarray,
    train_y: np.ndarray,
    optimizer: tf.keras.optimizers.Optimizer,
    batches: Sequence[np.ndarray],
    eval_x: Optional[np.ndarray] = None,
) -> dict[str, np.ndarray | float | list[float] | None]:
    """Trains from w = 0, b = 0, one optimizer step per batch.

    Args:
      train_x: Features, float64 [n, 30].
      train_y: Labels, float64 [n] of 0/1.
      optimizer: A fresh Keras optimizer (its slots start at zero).
      batches: Row indices into train_x of each step's batch, int [batch]
        each; at least one.
      eval_x: Optional features, float64 [m, 30], to predict after training.

    Returns:
      {"w": float64 [30], "b": float, "losses": the loss of each step's
       batch, before its update, "eval_probabilities": float64 [m] of
       p(class 1) for eval_x, or None without eval_x}.
    """
    if not batches:
        raise errors.FixableError("batches is empty; pass at least one array of row indices.")
    breast_cancer.check_training_data(train_x, train_y)
    model = LogisticRegression()
    step = steps.make_train_step(model, loss, optimizer)
    losses = [
        float(step(tf.constant(train_x[indices]), tf.constant(train_y[indices])))
        for indices in batches
    ]
    eval_probabilities = None if eval_x is None else model(eval_x).numpy()
    return {"w": model.w.numpy(), "b": float(model.b.numpy()), "losses": losses,
            "eval_probabilities": eval_probabilities}


def train_gradient_descent(
    train_x: np.ndarray,
    train_y: np.ndarray,
    learning_rate: float = 0.1,
    cycles: int = 100,
    eval_x: Optional[np.ndarray] = None,
) -> dict[str, np.ndarray | float | list[float] | None]:
    """Full-batch gradient descent, `cycles` >= 1 steps; returns as train().

    Keras SGD keeps the learning rate as a float32 variable (0.1 becomes
    0.10000000149) and casts it to float64, as TF1's
    GradientDescentOptimizer does with its float32 tensor.
    """
    return train(
        train_x, train_y, tf.keras.optimizers.SGD(learning_rate),
        breast_cancer.full_batches(cycles, len(train_x)), eval_x,
    )


def train_minibatch(
    train_x: np.ndarray,
    train_y: np.ndarray,
    learning_rate: float = 0.1,
    epochs: int = 100,
    batch_size: int = 50,
    seed: int = 0,
    eval_x: Optional[np.ndarray] = None,
) -> dict[str, np.ndarray | float | list[float] | None]:
    """Minibatch SGD over breast_cancer.minibatch_indices(seed, ...), which
    shuffles each epoch; returns as train(), with one loss per batch."""
    return train(
        train_x, train_y, tf.keras.optimizers.SGD(learning_rate),
        breast_cancer.minibatch_indices(seed, epochs, batch_size, len(train_x)), eval_x,
    )


def train_momentum(
    train_x: np.ndarray,
    train_y: np.ndarray,
    learning_rate: float = 0.1,
    momentum: float = 0.9,
    cycles: int = 100,
    eval_x: Optional[np.ndarray] = None,
) -> dict[str, np.ndarray | float | list[float] | None]:
    """Full-batch gradient descent with momentum, `cycles` >= 1 steps;
    returns as train().

    Keras SGD's momentum is the notebook's own: vel = m·vel - lr·grad;
    w += vel. Keras rounds m to float32 before casting it to float64
    (0.9 becomes 0.899999976), as TF1's MomentumOptimizer does.
    """
    return train(
        train_x, train_y, tf.keras.optimizers.SGD(learning_rate, momentum=momentum),
        breast_cancer.full_batches(cycles, len(train_x)), eval_x,
    )



def experiment(config: config_lib.TrainConfig) -> dict[str, Any]:
    """`python -m tf2_eager.train --model=logistic_regression`: one of the
    notebook's trainers, chosen by config.optimizer (gradient_descent or
    momentum, both Keras SGD) and config.batch_size (500, the training rows,
    for full batches; 50 for its minibatch SGD), for config.steps steps."""
    return breast_cancer.run_logistic_regression(
        "tf2_eager", functools.partial(train, optimizer=optimizers.create(config.optimizer_config)),
        config.batch_size, config.steps, config.seed,
    )
