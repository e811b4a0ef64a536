"""What every tf2_eager MNIST classifier shares: the loss in the documents'
forms and the count of correct predictions. The TF1 twin is
tf1_graph/classifier.py, whose functions take the same arguments in the same
order: loss(logits, labels, form) and count_correct(logits, labels).
"""

from typing import Callable

import tensorflow as tf

from flags import config as config_lib
from mnist_data import checks
from runtime import errors


def keras_loss(form: str) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Returns loss_fn(labels, logits), loss() in Keras' (y_true, y_pred)
    argument order: the loss_fn that tf2_eager/steps.py's train steps and the
    parity ladder's Tf2Side take, as they take Keras' own losses.

    Args:
      form: One of flags.config.LOSS_FORMS.
    """

    def loss_fn(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return loss(logits, labels, form)

    return loss_fn


def loss(logits: tf.Tensor, labels: tf.Tensor, form: str) -> tf.Tensor:
    """The cross-entropy in one of the documents' forms.

    Args:
      logits: Logits, float32 [batch, 10].
      labels: One-hot float32 [batch, 10], or int64 [batch] for the sparse form.
      form: One of flags.config.LOSS_FORMS.

    Returns:
      Loss, float32 scalar.
    """
    checks.check_label_encoding(
        tf.TensorShape(labels.shape).as_list(), form == "sparse_softmax_cross_entropy",
        "tf2_eager loss",
    )
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
        # Keras' categorical_crossentropy(labels, probabilities) clips with
        # the same 1e-7 but first renormalises the probabilities, which
        # rounds differently; this is the TF1 side's arithmetic.
        clipped = tf.clip_by_value(
            probabilities, config_lib.CLIP_EPSILON, 1.0 - config_lib.CLIP_EPSILON
        )
        return -tf.reduce_mean(tf.reduce_sum(labels * tf.math.log(clipped), axis=1))
    log_probabilities = tf.math.log(probabilities)
    if form == "naive_sum":
        return -tf.reduce_sum(labels * log_probabilities)
    if form == "naive_mean_x1000":
        return -tf.reduce_mean(labels * log_probabilities) * 1000.0
    if form == "naive_batch_mean":
        return -tf.reduce_mean(tf.reduce_sum(labels * log_probabilities, axis=1))
    raise errors.FixableError(
        f"Unknown loss form {form!r}; expected one of {', '.join(config_lib.LOSS_FORMS)}."
    )


def count_correct(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Number of rows whose argmax is the label (class id or one-hot), int32."""
    targets = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=1)
    correct = tf.equal(tf.argmax(logits, axis=1), targets)
    return tf.reduce_sum(tf.cast(correct, tf.int32))
