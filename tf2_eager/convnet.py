"""A three-layer convolutional network on MNIST in idiomatic TF2.

The TF2 form of tf1_graph/convnet.py, reproducing the same two programs of
tensorflow-without-a-phd (Martin Gorner's codelab):
- mnist_3.0_convolutional.py: 4, 8 and 12 channels, 5x5 stride 1, 5x5
  stride 2 and 4x4 stride 2 patches, a 200-unit relu layer, no dropout;
  best 0.989 after 10,000 steps on full MNIST.
- mnist_3.1_convolutional_bigger_dropout.py: 6, 12 and 24 channels, 6x6
  stride 1, 5x5 stride 2 and 4x4 stride 2 patches, a 200-unit relu layer
  with dropout (keep 0.75); best 0.9931 (0.9921 to 0.9935 over runs).
Both: weights truncated_normal(stddev=0.1), biases 0.1, "SAME" padding,
loss reduce_mean(softmax_cross_entropy_with_logits) * 100, Adam decaying
from 0.003 to 0.0001 over 2000 steps, 10,000 steps of 100.

Where TF1 fed pkeep through a placeholder, the module's call takes
`training`: dropout runs only when it is True. The codelab's [None, 28, 28,
1] placeholder becomes [batch, 784] rows reshaped in the call. Each layer is
a small tf.Module created inside the parent's name scope, so the variables
are named as in the TF1 graph: convnet/conv_0/weights ... convnet/output/biases.
"""

import math
from typing import Optional

import tensorflow as tf

from flags import model_configs
from mnist_data import checks
from mnist_data.idx import IMAGE_SIDE, NUM_CLASSES
from tf2_eager import initializers
from tf2_eager import layers


class Conv(tf.Module):
    """relu(conv2d(x, weights, stride, "SAME") + biases)."""

    def __init__(
        self,
        kernel: int,
        in_channels: int,
        out_channels: int,
        stride: int,
        generator: tf.random.Generator,
        init_stddev: float,
        bias_init: float,
        name: str,
    ):
        """Creates weights [kernel, kernel, in, out] and biases [out].

        Args:
          kernel: Side of the square patch.
          in_channels: Channels of the input.
          out_channels: Channels of the output.
          stride: Step of the patch in both directions.
          generator: Draws the truncated_normal initial weights.
          init_stddev: Their standard deviation.
          bias_init: Initial value of every bias.
          name: Module name, the variables' scope ("conv_0").
        """
        super().__init__(name=name)
        self.stride = stride
        with self.name_scope:
            self.weights = tf.Variable(
                generator.truncated_normal(
                    [kernel, kernel, in_channels, out_channels], stddev=init_stddev
                ),
                name="weights",
            )
            self.biases = tf.Variable(tf.fill([out_channels], bias_init), name="biases")

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """float32 [batch, height, width, in] -> [batch, height / stride,
        width / stride, out] (rounded up)."""
        strides = [1, self.stride, self.stride, 1]
        return tf.nn.relu(
            tf.nn.conv2d(images, self.weights, strides=strides, padding="SAME") + self.biases
        )


class Convnet(tf.Module):
    """Three Conv layers, a relu Dense layer with dropout, Dense logits."""

    def __init__(
        self,
        model_config: model_configs.ConvnetConfig = model_configs.ConvnetConfig(),
        seed: Optional[int] = None,
        name: str = "convnet",
    ):
        """Creates the layers and their variables.

        Args:
          model_config: The layers, dropout_keep (its dropout applies in
            calls with training=True) and the initial values; its defaults
            are the codelab's mnist_3.0_convolutional.
          seed: Seed of the tf.random.Generator that draws the initial
            weights; None draws from a non-deterministic state.
          name: Module name, the prefix of the variable names.
        """
        super().__init__(name=name)
        generator = initializers.generator(seed)
        self.dropout_keep = model_config.dropout_keep
        conv_channels, conv_strides = model_config.conv_channels, model_config.conv_strides
        dense_units = model_config.dense_units
        init_stddev, bias_init = model_config.init_stddev, model_config.bias_init
        # "SAME" padding makes each conv's output side ceil(input side / stride):
        # 28 -> 28 -> 14 -> 7 for the codelab's strides.
        side = IMAGE_SIDE
        for stride in conv_strides:
            side = math.ceil(side / stride)
        in_channels = [1, *conv_channels[:-1]]
        with self.name_scope:
            self.convs = [
                Conv(kernel, inputs, outputs, stride, generator, init_stddev, bias_init,
                     name=f"conv_{index}")
                for index, (kernel, inputs, outputs, stride) in enumerate(
                    zip(model_config.conv_kernels, in_channels, conv_channels, conv_strides)
                )
            ]
            self.dense = layers.Dense(
                generator.truncated_normal(
                    [side * side * conv_channels[-1], dense_units], stddev=init_stddev
                ),
                bias_init,
                name="dense",
            )
            self.output = layers.Dense(
                generator.truncated_normal([dense_units, NUM_CLASSES], stddev=init_stddev),
                bias_init,
                name="output",
            )

    def __call__(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Returns logits, float32 [batch, 10], for images float32 [batch, 784].

        With training=True the dense layer's units are dropped with
        probability 1 - dropout_keep and the rest scaled by 1 / dropout_keep,
        a new mask on every call.
        """
        checks.check_flat_image_shape(
            tf.TensorShape(images.shape).as_list(), "tf2_eager Convnet"
        )
        activations = tf.reshape(images, [-1, IMAGE_SIDE, IMAGE_SIDE, 1])  # [batch, 28, 28, 1]
        for conv in self.convs:
            activations = conv(activations)
        flat = tf.reshape(activations, [-1, self.dense.weights.shape[0]])  # [batch, 7 * 7 * C3]
        hidden = tf.nn.relu(self.dense(flat))
        if training:
            hidden = tf.nn.dropout(hidden, rate=1.0 - self.dropout_keep)
        return self.output(hidden)


def create(model_config: model_configs.ConvnetConfig, seed: Optional[int]) -> Convnet:
    """Returns the convnet `model_config` describes, its initial weights
    drawn from `seed` (None: a non-deterministic state)."""
    return Convnet(model_config, seed)
