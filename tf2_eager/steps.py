"""The TF2 step functions: what replaces `session.run([loss, train_op])`.

Every tf2_eager trainer builds its step here: tf2_eager/train.py for the
MNIST classifiers on one device or under a tf.distribute strategy,
linear_regression.py and logistic_regression.py for the notebook's small
models, and compat_tests.ladder for any TF2 side.

Under a tf.distribute strategy the same gradient computation runs on every
replica under strategy.run: replica r takes rows [r·B/R, (r+1)·B/R) of the
global batch (flags/replication.py's shard), and one all-reduce in the
replica context sums the replicas' losses and gradients over all replicas of
all workers, what SyncReplicasOptimizer's accumulators and the towers' sum
did in TF1. The update is then applied once, in cross-replica context, so
every mirrored copy gets the same update. (A Keras optimizer could be called
inside strategy.run, where it all-reduces by itself; applying outside serves
the TF1-semantics optimizers of tf2_eager/optimizers.py too, which assign
their slots directly, as MirroredVariables allow only in cross-replica
context.)
"""

from typing import Callable, Optional

import tensorflow as tf

from tf2_eager import classifier

LossFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def make_train_step(
    model: tf.Module,
    loss_fn: LossFunction,
    optimizer: tf.keras.optimizers.Optimizer,
    training: bool = False,
    strategy: Optional[tf.distribute.Strategy] = None,
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Returns a tf.function that takes one optimizer step and returns the loss.

    This is what replaces `session.run([loss, train_op], feed_dict=...)`: the
    placeholders become the function's arguments, and the loss it returns is
    computed before the update, as the TF1 fetch was. With `training`, the
    model is called with training=True (dropout on), where TF1 fed keep_prob.
    With a `strategy`, the step is shared among its replicas as the module
    docstring describes.

    Args:
      model: Called as model(images) (model(images, training=True) with
        `training`), giving logits.
      loss_fn: loss_fn(labels, logits) -> float32 scalar. Under a strategy,
        the replica's share: weighted so that the replicas' losses sum to the
        global batch's (flags/replication.py's loss_weight).
      optimizer: Applies the gradients of model.trainable_variables.
      training: Call the model with training=True (dropout on).
      strategy: The strategy whose replicas share each step; None for one
        device, where no strategy.run is needed.

    Returns:
      train_step(images, labels) -> loss, for a global batch of images
      float32 [B, 784] and labels int64 [B] or float32 [B, 10].
    """
    call_arguments = {"training": True} if training else {}

    def loss_and_gradients(images: tf.Tensor, labels: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            loss_value = loss_fn(labels, model(images, **call_arguments))
        return [loss_value, *tape.gradient(loss_value, model.trainable_variables)]

    def replica_step(images: tf.Tensor, labels: tf.Tensor) -> list[tf.Tensor]:
        context = tf.distribute.get_replica_context()
        rows = _replica_rows(context.num_replicas_in_sync, context.replica_id_in_sync_group)
        return context.all_reduce(
            tf.distribute.ReduceOp.SUM, loss_and_gradients(rows(images), rows(labels))
        )

    @tf.function
    def train_step(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        if strategy is None:
            loss_value, *gradients = loss_and_gradients(images, labels)
        else:
            # After the all-reduce every replica holds the same sums; the
            # first local replica's are applied.
            loss_value, *gradients = [
                strategy.experimental_local_results(summed)[0]
                for summed in strategy.run(replica_step, args=(images, labels))
            ]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss_value

    return train_step


def _replica_rows(num_replicas: int, replica: tf.Tensor) -> Callable[[tf.Tensor], tf.Tensor]:
    """flags/replication.py's shard on tensors whose batch size may be known
    only when the step runs (the in-graph loop of multi_step.py)."""

    def rows(batch: tf.Tensor) -> tf.Tensor:
        size = tf.shape(batch)[0] // num_replicas
        return batch[replica * size : (replica + 1) * size]

    return rows


def make_count_correct(model: tf.Module) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Returns a tf.function counting the correct predictions of `model`."""

    @tf.function
    def count_correct(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        return classifier.count_correct(model(images), labels)

    return count_correct
