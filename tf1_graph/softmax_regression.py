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
- The gradient-learning notebook's softmax with momentum
  (flags/gradient_notebook_softmax_momentum.cfg): W and b uniform in
  [-1, 1], clipped categorical cross-entropy, momentum 0.9, lr 0.01, batch
  500, 100 epochs; --optimizer=momentum_assign is its tf.Variable.assign
  form of the same update.

As in TF1's tutorials/mnist/mnist.py, the graph is split into inference()
(here), loss(), training() and count_correct() (tf1_graph/classifier.py, shared
by every classifier). Each takes tensors and returns tensors or ops, reads no
flags, and adds to the default graph; the caller owns the tf.Graph and the
Session. The TF2 form is tf2_eager/softmax_regression.py.
"""

import tensorflow as tf

from flags import model_configs
from mnist_data import checks
from mnist_data.idx import IMAGE_PIXELS, NUM_CLASSES
from tf1_graph import classifier
from tf1_graph import initializers

SCOPE = "softmax_regression"


def inference(
    images: tf.Tensor,
    model_config: model_configs.SoftmaxRegressionConfig,
    keep_prob: tf.Tensor,
) -> tf.Tensor:
    """Builds the model up to the logits.

    Args:
      images: Images placeholder, float32 [batch, 784].
      model_config: The initial values (see tf1_graph/initializers.py).
      keep_prob: Unused: the documents' softmax regression has no dropout.

    Returns:
      Logits tensor, float32 [batch, 10].
    """
    del keep_prob  # Every classifier takes it; this one has no dropout.
    checks.check_flat_image_shape(images.shape.as_list(), "tf1_graph inference")
    with tf.compat.v1.name_scope(SCOPE):
        weights = tf.Variable(
            initializers.initial_weights([IMAGE_PIXELS, NUM_CLASSES], model_config), name="weights"
        )
        biases = tf.Variable(initializers.initial_biases([NUM_CLASSES], model_config), name="biases")
        logits = tf.matmul(images, weights) + biases
    return logits


# The whole training graph, build(images, labels, model_config, loss_form,
# optimizer_config); see classifier.build.
build = classifier.builder(inference)
