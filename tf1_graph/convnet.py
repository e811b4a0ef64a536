"""A three-layer convolutional network on MNIST in TF1 graph style.

One graph reproduces two programs of tensorflow-without-a-phd (Martin
Gorner's codelab "TensorFlow and deep learning, without a PhD"):
- mnist_3.0_convolutional.py: conv layers of 4, 8 and 12 channels with
  5x5 stride 1, 5x5 stride 2 and 4x4 stride 2 patches (its result comments
  also try 4x4 stride 2 for the second layer), a 200-unit relu layer, no
  dropout; best 0.989 after 10,000 steps on full MNIST.
- mnist_3.1_convolutional_bigger_dropout.py: 6, 12 and 24 channels with
  6x6 stride 1, 5x5 stride 2 and 4x4 stride 2 patches, a 200-unit relu
  layer with dropout (pkeep 0.75 in training, 1.0 in evaluation); best
  0.9931 (0.9921 to 0.9935 over runs), above 0.99 after about 1,300 steps.
Both: weights truncated_normal(stddev=0.1), biases tf.ones/10 (0.1), every
conv padding "SAME" followed by the bias and a relu, loss
reduce_mean(softmax_cross_entropy_with_logits) * 100, Adam with the learning
rate decaying from 0.003 to 0.0001 over 2000 steps, 10,000 steps of 100.

The layers come from the model config's conv_channels, conv_kernels and
conv_strides, the dense width from its dense_units and the keep probability
from its dropout_keep, so both programs are flagfiles of this one graph. The
codelab fed a [None, 28, 28, 1] placeholder; here the images arrive as
[batch, 784] rows, like every classifier's, and inference() reshapes them.
The TF2 form is tf2_eager/convnet.py; both name their variables
convnet/conv_0/weights ... convnet/output/biases.
"""

import tensorflow as tf

from flags import model_configs
from mnist_data import checks
from mnist_data.idx import IMAGE_SIDE, NUM_CLASSES
from tf1_graph import classifier

SCOPE = "convnet"


def _variables(
    shape: list[int], model_config: model_configs.ConvnetConfig
) -> tuple[tf.Variable, tf.Variable]:
    """Creates `weights` of `shape` and `biases` of its last dimension in the
    current name scope, initialised as the codelab did."""
    weights = tf.Variable(
        tf.compat.v1.truncated_normal(shape, stddev=model_config.init_stddev), name="weights"
    )
    biases = tf.Variable(tf.fill(shape[-1:], model_config.bias_init), name="biases")
    return weights, biases


def inference(
    images: tf.Tensor, model_config: model_configs.ConvnetConfig, keep_prob: tf.Tensor
) -> tf.Tensor:
    """Builds the model up to the logits.

    Args:
      images: Images placeholder, float32 [batch, 784].
      model_config: The layers and their initial values, truncated_normal
        weights as the codelab's; their op seeds come from the graph-level
        seed (tf.compat.v1.set_random_seed), as TF1 programs did.
      keep_prob: Probability of keeping each dense unit, float32 scalar:
        the codelab's pkeep, fed 0.75 in training and left at 1.0 to
        evaluate.

    Returns:
      Logits tensor, float32 [batch, 10].

    Raises:
      ValueError: If images are not [batch, 784].
    """
    checks.check_flat_image_shape(images.shape.as_list(), "tf1_graph convnet inference")
    with tf.compat.v1.name_scope(SCOPE):
        activations = tf.reshape(images, [-1, IMAGE_SIDE, IMAGE_SIDE, 1])  # [batch, 28, 28, 1]
        in_channels = 1
        layers = zip(model_config.conv_channels, model_config.conv_kernels, model_config.conv_strides)
        for index, (channels, kernel, stride) in enumerate(layers):
            with tf.compat.v1.name_scope(f"conv_{index}"):
                weights, biases = _variables([kernel, kernel, in_channels, channels], model_config)
                activations = tf.nn.relu(
                    tf.nn.conv2d(
                        activations, weights, strides=[1, stride, stride, 1], padding="SAME"
                    )
                    + biases
                )
            in_channels = channels
        # The static shape gives the flattened size, 7 * 7 * channels for the
        # codelab's strides, which the codelab wrote out by hand.
        flat_size = activations.shape[1:].num_elements()
        flat = tf.reshape(activations, [-1, flat_size])  # [batch, 7 * 7 * C3]
        with tf.compat.v1.name_scope("dense"):
            weights, biases = _variables([flat_size, model_config.dense_units], model_config)
            hidden = tf.nn.relu(tf.matmul(flat, weights) + biases)
            # TF1's keep_prob argument; TF2's tf.nn.dropout takes rate = 1 - keep.
            hidden = tf.compat.v1.nn.dropout(hidden, keep_prob=keep_prob)
        with tf.compat.v1.name_scope("output"):
            weights, biases = _variables([model_config.dense_units, NUM_CLASSES], model_config)
            logits = tf.matmul(hidden, weights) + biases
    return logits


# The whole training graph, build(images, labels, model_config, loss_form,
# optimizer_config); see classifier.build.
build = classifier.builder(inference)
