"""The tf.compat.v1.train optimizers the documents use, by flag name, and
the gradient-learning notebook's momentum written with tf.Variable.assign."""

import tensorflow as tf

from flags import optimizer_config
from runtime import errors


def create(
    name: str, learning_rate: tf.Tensor | float, momentum: float = 0.9
) -> tf.compat.v1.train.Optimizer:
    """Returns a TF1 optimizer with its TF1 defaults.

    Those defaults are what tf2_eager's "tf1" semantics reproduce:
    RMSPropOptimizer(decay=0.9, momentum=0, epsilon=1e-10) starts its
    mean-square accumulator at ones; AdamOptimizer uses epsilon 1e-8.
    """
    if name == "gradient_descent":
        return tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
    if name == "momentum":
        return tf.compat.v1.train.MomentumOptimizer(learning_rate, momentum)
    if name == "rmsprop":
        return tf.compat.v1.train.RMSPropOptimizer(learning_rate)
    if name == "adam":
        return tf.compat.v1.train.AdamOptimizer(learning_rate)
    if name == "momentum_assign":
        raise errors.FixableError(
            "momentum_assign is not an optimizer class; build its update with "
            "momentum_by_assign(loss, learning_rate, momentum, global_step)."
        )
    raise errors.FixableError(
        f"Unknown optimizer {name!r}; expected one of "
        f"{', '.join(optimizer_config.OPTIMIZERS)}."
    )


def momentum_by_assign(
    loss: tf.Tensor,
    learning_rate: tf.Tensor | float,
    momentum: float,
    global_step: tf.Variable,
) -> tf.Operation:
    """The notebook's momentum as explicit assign ops, no optimizer class.

    For every trainable variable w, a velocity variable starting at zeros
    (named "<w>/velocity", not trainable) and the update
        vel.assign(momentum * vel - learning_rate * grad); w.assign_add(vel)
    which is what MomentumOptimizer computes (its accum is -vel / lr for a
    constant lr), written the way the notebook wrote it.

    Returns:
      An op that updates every variable once, then increments global_step.
    """
    variables = tf.compat.v1.trainable_variables()
    gradients = tf.compat.v1.gradients(loss, variables)
    updates = []
    for variable, gradient in zip(variables, gradients):
        velocity = tf.Variable(
            tf.zeros(variable.shape, variable.dtype),
            trainable=False,
            name=f"{variable.op.name}/velocity",
        )
        new_velocity = velocity.assign(momentum * velocity - learning_rate * gradient)
        updates.append(variable.assign_add(new_velocity))
    with tf.control_dependencies(updates):
        return global_step.assign_add(1).op
