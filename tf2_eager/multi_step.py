"""Many training steps in one tf.function call: the loop moves into the graph.

`steps.make_train_step` gives one step per call, the TF2 form of one
`session.run`: each call crosses from Python into the runtime and back, and
each batch is built in numpy and converted. `make_multi_step` runs a whole
stretch of steps in one call. The training set stays on the device as two
tensors, the batch order arrives as one int64 array
(mnist_data.batch_schedule), and a `tf.range` loop gathers each batch and
takes the step inside the graph. It gathers with tf.gather_nd, the same
rows as tf.gather's: on a busy 2-core host GatherNd's CPU kernel copied a
batch of 100 digits in about 35 µs, GatherV2's in about 65 µs (200
gathers in a loop, less the loop alone), 2-4 % of deep_mlp's step.

    train_steps = multi_step.make_multi_step(model, loss_fn, optimizer)
    images, labels = tf.constant(dataset.train_images), tf.constant(train_labels)
    schedule = mnist_data.batch_schedule(seed, first_step, 100, batch_size, n)
    losses = train_steps(images, labels, schedule)  # float32 [100]

The step itself is `steps.make_train_step`'s, so the losses are those of a
loop that calls it once per batch of the same schedule.
"""

from typing import Callable, Optional

import tensorflow as tf

from tf2_eager import steps

MultiStep = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def make_multi_step(
    model: tf.Module,
    loss_fn: steps.LossFunction,
    optimizer: tf.keras.optimizers.Optimizer,
    training: bool = False,
    strategy: Optional[tf.distribute.Strategy] = None,
) -> MultiStep:
    """Returns a tf.function that takes one optimizer step per schedule row.

    Args:
      model: Called as model(images) (model(images, training=True) with
        `training`), giving logits.
      loss_fn: loss_fn(labels, logits) -> float32 scalar.
      optimizer: Applies the gradients of model.trainable_variables.
      training: Call the model with training=True (dropout on).
      strategy: Shares each step among its replicas (see
        steps.make_train_step); None for one device.

    Returns:
      train_steps(images, labels, schedule) -> losses, where images is
      float32 [N, 784], labels int64 [N] or float32 [N, 10], schedule int64
      [steps, batch] of indices into them, and losses float32 [steps] holds
      each step's loss before its update.
    """
    train_step = steps.make_train_step(
        model, loss_fn, optimizer, training=training, strategy=strategy
    )

    # reduce_retracing: a schedule of another length gives one more trace
    # with an unknown length, then no more.
    @tf.function(reduce_retracing=True)
    def train_steps(images: tf.Tensor, labels: tf.Tensor, schedule: tf.Tensor) -> tf.Tensor:
        count = tf.shape(schedule)[0]
        losses = tf.TensorArray(tf.float32, size=count)
        # int64 [steps, batch, 1]: each step's rows as gather_nd indices.
        step_rows = schedule[:, :, tf.newaxis]
        # AutoGraph turns this loop over a tensor range into a tf.while_loop;
        # automatic control dependencies keep the steps' updates in order.
        for step in tf.range(count):
            rows = step_rows[step]
            losses = losses.write(
                step, train_step(tf.gather_nd(images, rows), tf.gather_nd(labels, rows))
            )
        return losses.stack()

    return train_steps
