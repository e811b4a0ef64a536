"""The TF2 step functions: what replaces `session.run([loss, train_op])`.

Every tf2_eager trainer builds its step here: tf2_eager/train.py for the
MNIST classifiers, linear_regression.py and logistic_regression.py for the
notebook's small models, and compat_tests.ladder for any TF2 side.
"""

from typing import Callable

import tensorflow as tf

from tf2_eager import classifier

LossFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def make_train_step(
    model: tf.Module,
    loss_fn: LossFunction,
    optimizer: tf.keras.optimizers.Optimizer,
    training: bool = False,
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Returns a tf.function that takes one optimizer step and returns the loss.

    This is what replaces `session.run([loss, train_op], feed_dict=...)`: the
    placeholders become the function's arguments, and the loss it returns is
    computed before the update, as the TF1 fetch was. With `training`, the
    model is called with training=True (dropout on), where TF1 fed keep_prob.
    """
    call_arguments = {"training": True} if training else {}

    @tf.function
    def train_step(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss_value = loss_fn(labels, model(images, **call_arguments))
        variables = model.trainable_variables
        gradients = tape.gradient(loss_value, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss_value

    return train_step


def make_count_correct(model: tf.Module) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Returns a tf.function counting the correct predictions of `model`."""

    @tf.function
    def count_correct(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        return classifier.count_correct(model(images), labels)

    return count_correct
