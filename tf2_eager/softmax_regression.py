"""Softmax regression on MNIST in idiomatic TF2: y = softmax(x W + b).

The TF2 form of tf1_graph/softmax_regression.py, reproducing the same three
documents (flagfiles in flags/):
- Hvass-Labs TensorFlow-Tutorials 01 "Simple Linear Model"
  (hvass_softmax.cfg): W and b zeros, softmax_cross_entropy_with_logits,
  gradient descent lr 0.5, batch 100, 1000 steps; 92.1 % on full MNIST.
- The Spanish notebook (notebook_softmax.cfg): zeros, lr 0.5, naive
  -reduce_sum(y * log(softmax)), 5000 steps of 100.
- tensorflow-without-a-phd mnist_1.0_softmax.py (codelab_softmax.cfg):
  W truncated_normal(stddev=0.1), -reduce_mean(Y_ * log(Y)) * 1000,
  lr 0.003, 5000 steps of 100; 92.32 %.
- The gradient-learning notebook's softmax with momentum
  (gradient_notebook_softmax_momentum.cfg): W and b uniform in [-1, 1],
  clipped categorical cross-entropy, momentum 0.9, lr 0.01, batch 500, 100
  epochs; --optimizer=momentum_assign is its tf.Variable.assign form.

Where TF1 had placeholders and a graph, TF2 has a tf.Module whose call takes
the images as an argument; the loss is a plain function of tensors
(tf2_eager/classifier.py); the train step (tf2_eager/train.py) is a
tf.function around a GradientTape.
"""

from typing import Optional

import tensorflow as tf

from flags import model_configs
from mnist_data import checks
from mnist_data.idx import IMAGE_PIXELS, NUM_CLASSES
from tf2_eager import initializers


class SoftmaxRegression(tf.Module):
    """logits = images @ weights + biases, variables named as in tf1_graph."""

    def __init__(
        self,
        model_config: model_configs.SoftmaxRegressionConfig = model_configs.SoftmaxRegressionConfig(),
        seed: Optional[int] = None,
        name: str = "softmax_regression",
    ):
        """Creates the variables.

        Args:
          model_config: The initial values; its defaults are the Hvass-Labs
            tutorial's zeros.
          seed: Seed of the tf.random.Generator that draws random initial
            values; None draws from a non-deterministic state.
          name: Module name, the prefix of the variable names.
        """
        super().__init__(name=name)
        generator = initializers.generator(seed)
        # Drawn in this order, weights then biases, from the one generator.
        initial_weights = initializers.initial_weights(
            [IMAGE_PIXELS, NUM_CLASSES], model_config, generator
        )
        initial_biases = initializers.initial_biases([NUM_CLASSES], model_config, generator)
        with self.name_scope:
            self.weights = tf.Variable(initial_weights, name="weights")
            self.biases = tf.Variable(initial_biases, name="biases")

    def __call__(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Returns logits, float32 [batch, 10], for images float32 [batch, 784].

        `training` is accepted like every classifier's and changes nothing:
        this model has no dropout.
        """
        checks.check_flat_image_shape(
            tf.TensorShape(images.shape).as_list(), "tf2_eager SoftmaxRegression"
        )
        return tf.matmul(images, self.weights) + self.biases


def create(
    model_config: model_configs.SoftmaxRegressionConfig, seed: Optional[int]
) -> SoftmaxRegression:
    """Returns the model `model_config` describes, its random initial values
    drawn from `seed` (None: a non-deterministic state)."""
    return SoftmaxRegression(model_config, seed)

