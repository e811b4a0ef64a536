"""What every tf1_graph MNIST classifier shares, in the TF1 tutorials' split.

A model module supplies `inference(images, model_config, keep_prob) ->
logits`, its config class from flags/model_configs.py;
this module adds the placeholders, the loss in the documents' forms, the
training op and the count of correct predictions, the way
tutorials/mnist/mnist.py split them (its evaluation() is count_correct here,
the name tf2_eager/classifier.py gives its twin).
Nothing here reads flags: the model's config, the loss form and the
optimizer's config come in as arguments.
"""

import functools
from typing import Callable

import tensorflow as tf

from flags import config as config_lib
from flags import model_configs
from flags import optimizer_config as optimizer_config_lib
from mnist_data import checks
from mnist_data.idx import IMAGE_PIXELS, NUM_CLASSES
from tf1_graph import optimizers
from runtime import errors

Inference = Callable[[tf.Tensor, model_configs.ModelConfig, tf.Tensor], tf.Tensor]


def placeholder_inputs(integer_labels: bool) -> tuple[tf.Tensor, tf.Tensor]:
    """Returns the images placeholder, float32 [None, 784], and the labels
    placeholder: int64 [None] class ids with `integer_labels` (a sparse
    loss, TrainConfig.integer_labels), else float32 [None, 10] one-hot rows."""
    images = tf.compat.v1.placeholder(tf.float32, [None, IMAGE_PIXELS], name="images")
    if integer_labels:
        labels = tf.compat.v1.placeholder(tf.int64, [None], name="labels")
    else:
        labels = tf.compat.v1.placeholder(tf.float32, [None, NUM_CLASSES], name="labels")
    return images, labels


def loss(logits: tf.Tensor, labels: tf.Tensor, form: str) -> tf.Tensor:
    """Adds the cross-entropy in one of the documents' forms.

    Args:
      logits: Logits tensor, float32 [batch, 10], from inference().
      labels: One-hot float32 [batch, 10], or int64 [batch] for the sparse form.
      form: One of flags.config.LOSS_FORMS.

    Returns:
      Loss tensor, float32 scalar.
    """
    checks.check_label_encoding(
        labels.shape.as_list(), form == "sparse_softmax_cross_entropy", "tf1_graph loss"
    )
    with tf.compat.v1.name_scope("loss"):
        if form == "sparse_softmax_cross_entropy":
            return tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        if form in ("softmax_cross_entropy", "softmax_cross_entropy_x100"):
            mean = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
            return mean * 100.0 if form.endswith("x100") else mean
        probabilities = tf.nn.softmax(logits)
        if form == "clipped_cross_entropy":
            clipped = tf.clip_by_value(
                probabilities, config_lib.CLIP_EPSILON, 1.0 - config_lib.CLIP_EPSILON
            )
            return -tf.reduce_mean(tf.reduce_sum(labels * tf.compat.v1.log(clipped), axis=1))
        # The documents' naive forms take the log of the softmax output, as
        # written there (tf.log is tf.compat.v1.log in TF2).
        log_probabilities = tf.compat.v1.log(probabilities)
        if form == "naive_sum":
            return -tf.reduce_sum(labels * log_probabilities)
        if form == "naive_mean_x1000":
            return -tf.reduce_mean(labels * log_probabilities) * 1000.0
        if form == "naive_batch_mean":
            # reduction_indices is TF1's spelling of axis.
            return -tf.reduce_mean(
                tf.compat.v1.reduce_sum(labels * log_probabilities, reduction_indices=[1])
            )
    raise errors.FixableError(
        f"Unknown loss form {form!r}; expected one of {', '.join(config_lib.LOSS_FORMS)}."
    )


def training(
    loss_tensor: tf.Tensor, optimizer_config: optimizer_config_lib.OptimizerConfig
) -> tuple[tf.Operation, tf.Tensor]:
    """Adds the op that minimises the loss and increments global_step.

    Returns:
      (train_op, learning_rate), the rate from scheduled_learning_rate().
    """
    global_step = tf.compat.v1.train.get_or_create_global_step()
    learning_rate = scheduled_learning_rate(global_step, optimizer_config)
    momentum = optimizer_config.momentum
    if optimizer_config.optimizer == "momentum_assign":
        train_op = optimizers.momentum_by_assign(loss_tensor, learning_rate, momentum, global_step)
    else:
        optimizer = optimizers.create(optimizer_config.optimizer, learning_rate, momentum)
        train_op = optimizer.minimize(loss_tensor, global_step=global_step)
    return train_op, learning_rate


def scheduled_learning_rate(
    global_step: tf.Tensor, optimizer_config: optimizer_config_lib.OptimizerConfig
) -> tf.Tensor:
    """Adds the learning rate of the current step, float32 scalar.

    The codelab computed its decayed rate in Python and fed it to an `lr`
    placeholder; here the default of that placeholder computes the same
    formula from global_step in the graph, so a loop that feeds nothing (the
    parity ladder's) still decays.
    """
    rate, minimum = optimizer_config.learning_rate, optimizer_config.min_learning_rate
    if optimizer_config.learning_rate_decay == "none":
        scheduled = tf.constant(rate, tf.float32)
    else:
        step = tf.cast(global_step, tf.float64)
        scheduled = tf.cast(
            minimum + (rate - minimum) * tf.exp(-step / optimizer_config.decay_steps),
            tf.float32,
        )
    return tf.compat.v1.placeholder_with_default(scheduled, [], name="learning_rate")


def count_correct(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Returns the number of correct predictions, int32 scalar; labels are
    class ids or one-hot rows."""
    targets = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=1)
    correct = tf.equal(tf.argmax(logits, axis=1), targets)
    return tf.reduce_sum(tf.cast(correct, tf.int32))


def build(
    inference: Inference,
    images: tf.Tensor,
    labels: tf.Tensor,
    model_config: model_configs.ModelConfig,
    loss_form: str,
    optimizer_config: optimizer_config_lib.OptimizerConfig,
) -> dict[str, tf.Tensor | tf.Operation]:
    """Builds a whole training graph: the compat_tests.ladder contract.

    Args:
      inference: The model's inference(images, model_config, keep_prob).
      images: Images placeholder, float32 [batch, 784].
      labels: Labels placeholder, as placeholder_inputs() makes them.
      model_config: The model's config (flags/model_configs.py).
      loss_form: One of flags.config.LOSS_FORMS.
      optimizer_config: The optimizer and its learning-rate schedule.

    Returns:
      {"outputs": logits, "loss", "train_op", "correct": number of correct
       predictions, "learning_rate": the (scheduled) rate, "keep_prob": a
       placeholder defaulting to 1.0 (dropout off) that training feeds}.
    """
    keep_prob = tf.compat.v1.placeholder_with_default(1.0, [], name="keep_prob")
    logits = inference(images, model_config, keep_prob)
    loss_tensor = loss(logits, labels, loss_form)
    train_op, learning_rate = training(loss_tensor, optimizer_config)
    return {
        "outputs": logits,
        "loss": loss_tensor,
        "train_op": train_op,
        "correct": count_correct(logits, labels),
        "learning_rate": learning_rate,
        "keep_prob": keep_prob,
    }


Build = Callable[
    [tf.Tensor, tf.Tensor, model_configs.ModelConfig, str, optimizer_config_lib.OptimizerConfig],
    dict[str, tf.Tensor | tf.Operation],
]


def builder(inference: Inference) -> Build:
    """Returns a model module's build(images, labels, model_config,
    loss_form, optimizer_config): build() with that module's inference, so a
    module needs only its inference."""
    return functools.partial(build, inference)
