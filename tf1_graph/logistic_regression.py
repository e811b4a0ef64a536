"""Logistic regression on breast cancer in TF1 graph style: p = sigmoid(x·w + b).

The gradient-learning notebook classifies scikit-learn's breast-cancer rows
(mnist_data/breast_cancer.py: 500 train, 69 test, min-max scaled) with w
float64 [30] and b float64 [], both zeros, the mean clipped cross-entropy,
and three trainers: full-batch gradient descent, minibatch SGD and
momentum. Everything is float64 so the two sides can be compared to 1e-12.

build() adds the graph to the default graph with the optimizer it is given;
train() owns its tf.Graph and Session as tf1_graph/train.py does, and the
three trainers choose the optimizer and the batches. The TF2 form is
tf2_eager/logistic_regression.py.
"""

import functools
from typing import Any, Optional, Sequence

import numpy as np
import tensorflow as tf

from flags import config as config_lib
from mnist_data import breast_cancer
from mnist_data import checks
from tf1_graph import optimizers
from runtime import errors

SCOPE = "logistic_regression"


def build(
    x: tf.Tensor, y: tf.Tensor, optimizer: tf.compat.v1.train.Optimizer
) -> dict[str, tf.Tensor | tf.Operation]:
    """Adds the model, its loss and training op to the default graph.

    The loss is -mean(y log(p') + (1 - y) log(1 - p')) with
    p' = clip(p, ε, 1 - ε), ε = breast_cancer.CLIP_EPSILON (1e-7, the
    project's choice: it keeps log finite when p saturates to 0 or 1).

    Args:
      x: Features, float64 [None, 30].
      y: Labels, float64 [None] of 0/1.
      optimizer: A tf.compat.v1.train optimizer, e.g. GradientDescentOptimizer
        or MomentumOptimizer; it minimizes the loss over w and b.

    Returns:
      {"outputs": p float64 [None], the probability of class 1, "loss":
       float64 [], "train_op": one optimizer step}. The variables are
      "logistic_regression/w" float64 [30] and "logistic_regression/b"
      float64 [], zeros.
    """
    for name, tensor in (("x", x), ("y", y)):
        checks.check_float64(
            tensor.dtype.name, name, "tf1_graph logistic_regression",
            "the 1e-12 comparison between sides",
        )
    with tf.compat.v1.name_scope(SCOPE):
        w = tf.Variable(tf.zeros([breast_cancer.NUM_FEATURES], tf.float64), name="w")
        b = tf.Variable(tf.constant(0.0, tf.float64), name="b")
        outputs = tf.sigmoid(tf.linalg.matvec(x, w) + b)
        clipped = tf.clip_by_value(
            outputs, breast_cancer.CLIP_EPSILON, 1.0 - breast_cancer.CLIP_EPSILON
        )
        loss = -tf.reduce_mean(y * tf.math.log(clipped) + (1.0 - y) * tf.math.log(1.0 - clipped))
    return {
        "outputs": outputs,
        "loss": loss,
        "train_op": optimizer.minimize(loss, var_list=[w, b]),
    }


def train(
    train_x: np.ndarray,
    train_y: np.ndarray,
    optimizer: tf.compat.v1.train.Optimizer,
    batches: Sequence[np.ndarray],
    eval_x: Optional[np.ndarray] = None,
) -> dict[str, np.ndarray | float | list[float] | None]:
    """Trains from w = 0, b = 0, one optimizer step per batch, in its own graph.

    Args:
      train_x: Features, float64 [n, 30].
      train_y: Labels, float64 [n] of 0/1.
      optimizer: A fresh tf.compat.v1.train optimizer; its slots are created
        in this function's graph.
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
    graph = tf.Graph()
    with graph.as_default():
        x_placeholder = tf.compat.v1.placeholder(
            tf.float64, [None, breast_cancer.NUM_FEATURES], name="x"
        )
        y_placeholder = tf.compat.v1.placeholder(tf.float64, [None], name="y")
        endpoints = build(x_placeholder, y_placeholder, optimizer)
        w, b = tf.compat.v1.trainable_variables()
        initializer = tf.compat.v1.global_variables_initializer()
    # Finalising catches any op accidentally added inside the training loop.
    graph.finalize()
    losses = []
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        for indices in batches:
            loss_value, _ = session.run(
                [endpoints["loss"], endpoints["train_op"]],
                feed_dict={x_placeholder: train_x[indices], y_placeholder: train_y[indices]},
            )
            losses.append(float(loss_value))
        final_w, final_b = session.run([w, b])
        eval_probabilities = None
        if eval_x is not None:
            eval_probabilities = session.run(
                endpoints["outputs"], feed_dict={x_placeholder: eval_x}
            )
    return {"w": final_w, "b": float(final_b), "losses": losses,
            "eval_probabilities": eval_probabilities}


def train_gradient_descent(
    train_x: np.ndarray,
    train_y: np.ndarray,
    learning_rate: float = 0.1,
    cycles: int = 100,
    eval_x: Optional[np.ndarray] = None,
) -> dict[str, np.ndarray | float | list[float] | None]:
    """Full-batch gradient descent, `cycles` >= 1 steps; returns as train()."""
    return train(
        train_x, train_y, tf.compat.v1.train.GradientDescentOptimizer(learning_rate),
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
        train_x, train_y, tf.compat.v1.train.GradientDescentOptimizer(learning_rate),
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

    The notebook's vel = m·vel - lr·grad; w += vel is MomentumOptimizer's
    accum = m·accum + grad; w -= lr·accum with vel = -lr·accum, equal for a
    constant lr.
    """
    # MomentumOptimizer turns the Python float momentum into a float32
    # tensor (0.9 becomes 0.899999976) and casts it to float64; Keras SGD
    # does the same (its ops.cast converts the float to float32 first), so
    # both sides take the same steps. The two formulations round differently
    # (lr·accum vs an accumulated vel), which leaves losses about 1e-16 apart.
    return train(
        train_x, train_y, tf.compat.v1.train.MomentumOptimizer(learning_rate, momentum),
        breast_cancer.full_batches(cycles, len(train_x)), eval_x,
    )


def experiment(config: config_lib.TrainConfig) -> dict[str, Any]:
    """`python -m tf1_graph.train --model=logistic_regression`: one of the
    notebook's trainers, chosen by config.optimizer (gradient_descent or
    momentum) and config.batch_size (500, the training rows, for full
    batches; 50 for its minibatch SGD), for config.steps steps."""
    optimizer = optimizers.create(config.optimizer, config.learning_rate, config.momentum)
    return breast_cancer.run_logistic_regression(
        "tf1_graph", functools.partial(train, optimizer=optimizer),
        config.batch_size, config.steps, config.seed,
    )
