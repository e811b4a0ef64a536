"""Softmax regression on MNIST in TF1 graph style: y = softmax(x W + b).

One graph reproduces three documents (their hyperparameters are flagfiles):
- Hvass-Labs TensorFlow-Tutorials 01 "Simple Linear Model"
  (flags/hvass_softmax.cfg): x [None, 784], W and b zeros,
  softmax_cross_entropy_with_logits, gradient descent lr 0.5, batch 100,
  1000 steps; reports 9.8 % / 40.7 % / 78.2 % / 92.1 % test accuracy after
  0 / 1 / 10 / 1000 steps on full MNIST.
- The Spanish notebook (flags/notebook_softmax.cfg): its [None, 28, 28]
  placeholder crashed the MatMul; flattened to 784 here. Zeros, lr 0.5,
  naive -reduce_sum(y * log(softmax)), 5000 steps of 100.
- tensorflow-without-a-phd mnist_1.0_softmax.py (flags/codelab_softmax.cfg):
  W truncated_normal(stddev=0.1), b zeros, -reduce_mean(Y_ * log(Y)) * 1000,
  lr 0.003, 5000 steps of 100; reports 92.32 %.

As in TF1's tutorials/mnist/mnist.py, the graph is split into inference(),
loss(), training() and evaluation(). Each takes tensors and returns tensors
or ops, reads no flags, and adds to the default graph; the caller owns the
tf.Graph and the Session. The TF2 form is tf2_eager/softmax_regression.py.
"""

import tensorflow as tf

from flags import config as config_lib
from mnist_data import checks
from tf1_graph import optimizers

NUM_CLASSES = 10
IMAGE_PIXELS = 784
SCOPE = "softmax_regression"


def placeholder_inputs() -> tuple[tf.Tensor, tf.Tensor]:
    """Returns the images placeholder, float32 [None, 784], and the one-hot
    labels placeholder, float32 [None, 10]."""
    images = tf.compat.v1.placeholder(
        tf.float32, [None, IMAGE_PIXELS], name="images"
    )
    labels = tf.compat.v1.placeholder(
        tf.float32, [None, NUM_CLASSES], name="labels"
    )
    return images, labels


def inference(
    images: tf.Tensor,
    weight_init: str = "zeros",
    init_stddev: float = 0.1,
    init_limit: float = 1.0,
) -> tf.Tensor:
    """Builds the model up to the logits.

    Args:
      images: Images placeholder, float32 [batch, 784].
      weight_init: "zeros", "truncated_normal" or "uniform". The random
        initialisers take their op seeds from the graph-level seed
        (tf.compat.v1.set_random_seed), as TF1 programs did.
      init_stddev: Standard deviation for "truncated_normal".
      init_limit: W is uniform in [-init_limit, init_limit] for "uniform".

    Returns:
      Logits tensor, float32 [batch, 10].
    """
    checks.check_flat_image_shape(images.shape.as_list(), "tf1_graph inference")
    shape = [IMAGE_PIXELS, NUM_CLASSES]
    with tf.compat.v1.name_scope(SCOPE):
        if weight_init == "zeros":
            initial_weights = tf.zeros(shape)
        elif weight_init == "truncated_normal":
            initial_weights = tf.compat.v1.truncated_normal(shape, stddev=init_stddev)
        elif weight_init == "uniform":
            initial_weights = tf.compat.v1.random_uniform(
                shape, minval=-init_limit, maxval=init_limit
            )
        else:
            raise ValueError(
                f"Unknown weight_init {weight_init!r}; expected one of "
                f"{', '.join(config_lib.WEIGHT_INITIALIZERS)}."
            )
        weights = tf.Variable(initial_weights, name="weights")
        biases = tf.Variable(tf.zeros([NUM_CLASSES]), name="biases")
        logits = tf.matmul(images, weights) + biases
    return logits


def loss(logits: tf.Tensor, labels: tf.Tensor, form: str) -> tf.Tensor:
    """Adds the cross-entropy in one of the documents' forms.

    Args:
      logits: Logits tensor, float32 [batch, 10], from inference().
      labels: One-hot labels, float32 [batch, 10].
      form: One of flags.config.LOSS_FORMS.

    Returns:
      Loss tensor, float32 scalar.
    """
    with tf.compat.v1.name_scope("loss"):
        if form == "softmax_cross_entropy":
            return tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        # The documents' naive forms take the log of the softmax output, as
        # written there (tf.log is tf.compat.v1.log in TF2).
        log_probabilities = tf.compat.v1.log(tf.nn.softmax(logits))
        if form == "naive_sum":
            return -tf.reduce_sum(labels * log_probabilities)
        if form == "naive_mean_x1000":
            return -tf.reduce_mean(labels * log_probabilities) * 1000.0
        if form == "naive_batch_mean":
            # reduction_indices is TF1's spelling of axis.
            return -tf.reduce_mean(
                tf.compat.v1.reduce_sum(labels * log_probabilities, reduction_indices=[1])
            )
    raise ValueError(
        f"Unknown loss form {form!r}; expected one of "
        f"{', '.join(config_lib.LOSS_FORMS)}."
    )


def training(
    loss_tensor: tf.Tensor, optimizer_name: str, learning_rate: float
) -> tf.Operation:
    """Adds the op that minimises the loss and increments global_step."""
    global_step = tf.compat.v1.train.get_or_create_global_step()
    optimizer = optimizers.create(optimizer_name, learning_rate)
    return optimizer.minimize(loss_tensor, global_step=global_step)


def evaluation(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Returns the number of correct predictions, int32 scalar."""
    correct = tf.equal(tf.argmax(logits, axis=1), tf.argmax(labels, axis=1))
    return tf.reduce_sum(tf.cast(correct, tf.int32))


def build(
    images: tf.Tensor, labels: tf.Tensor, config: config_lib.TrainConfig
) -> dict[str, tf.Tensor | tf.Operation]:
    """Builds the whole training graph: the compat_tests.ladder contract.

    Returns:
      {"outputs": logits, "loss": loss, "train_op": training op,
       "correct": number of correct predictions}.
    """
    logits = inference(
        images, config.weight_init, config.init_stddev, config.init_limit
    )
    loss_tensor = loss(logits, labels, config.loss)
    return {
        "outputs": logits,
        "loss": loss_tensor,
        "train_op": training(loss_tensor, config.optimizer, config.learning_rate),
        "correct": evaluation(logits, labels),
    }
