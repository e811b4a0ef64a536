"""The fully connected layer that tf2_eager's MLP and convnet share.

Its variables are named as tf1_graph's layers name theirs, NAME/weights and
NAME/biases inside the parent module's scope, so the parity ladder and the
checkpoint converter pair the two sides by name.
"""

import tensorflow as tf


class Dense(tf.Module):
    """outputs = inputs @ weights + biases, the activation left to the caller."""

    def __init__(self, initial_weights: tf.Tensor, bias_init: float, name: str):
        """Creates the variables.

        Args:
          initial_weights: Initial weights, float32 [fan_in, fan_out].
          bias_init: Initial value of every bias.
          name: Module name, the last part of the variables' scope
            ("hidden_0", "dense", "output").
        """
        super().__init__(name=name)
        with self.name_scope:
            self.weights = tf.Variable(initial_weights, name="weights")
            self.biases = tf.Variable(
                tf.fill([initial_weights.shape[1]], bias_init), name="biases"
            )

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        """Returns float32 [batch, fan_out] for inputs float32 [batch, fan_in]."""
        return tf.matmul(inputs, self.weights) + self.biases
