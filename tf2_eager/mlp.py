"""A multilayer perceptron on MNIST in idiomatic TF2: dense layers, then logits.

The TF2 form of tf1_graph/mlp.py, reproducing the Keras notebook's MLP
(flags/keras_mlp.cfg): 784 -> Dense(512, relu) -> Dense(10), softmax inside
the loss (sparse categorical cross-entropy), optimizer "rmsprop" (lr 0.001),
5 epochs of batch 128; Keras' default glorot_uniform kernels, zero biases.

Two TF2 forms live here:
- `MLP`, a tf.Module of `Dense` tf.Modules, general over the hidden widths,
  the activation and dropout, whose variables carry tf1_graph's names
  (mlp/hidden_0/weights, ..., mlp/output/biases) so the parity ladder pairs
  them by name. tf2_eager/deep_mlp.py (the codelab's five-layer nets) is the
  same class under the name "deep_mlp". Dropout, where TF1 fed keep_prob,
  is on only in calls with training=True.
- `keras_sequential`, the notebook's own code: a tf.keras.Sequential with
  softmax in its last layer, compiled with rmsprop,
  sparse_categorical_crossentropy and accuracy, trained with model.fit.
"""

import dataclasses
from typing import Optional

import tensorflow as tf

from flags import model_configs
from flags import optimizer_config as optimizer_config_lib
from mnist_data import checks
from mnist_data.idx import IMAGE_PIXELS, NUM_CLASSES
from tf2_eager import initializers
from tf2_eager import layers
from tf2_eager import optimizers

SCOPE = "mlp"

_ACTIVATIONS = {"relu": tf.nn.relu, "sigmoid": tf.nn.sigmoid}


class MLP(tf.Module):
    """Dense layers with an activation (and dropout), then a Dense to logits."""

    def __init__(
        self,
        model_config: model_configs.MlpConfig = model_configs.MlpConfig(),
        seed: Optional[int] = None,
        name: str = SCOPE,
    ):
        """Creates the layers and their variables.

        Args:
          model_config: The hidden widths, the activation, dropout_keep (its
            dropout applies in calls with training=True) and the initial
            values; its defaults are the Keras notebook's.
          seed: Seed of the tf.random.Generator that draws random initial
            weights, layer by layer; None draws from a non-deterministic
            state.
          name: Module name, the first part of every variable name: "mlp",
            or "deep_mlp" for tf2_eager/deep_mlp.py.
        """
        super().__init__(name=name)
        self.activation = _ACTIVATIONS[model_config.activation]
        self.dropout_keep = model_config.dropout_keep
        generator = initializers.generator(seed)
        bias_init = model_config.bias_init

        def initial_weights(shape: list[int]) -> tf.Tensor:
            return initializers.initial_weights(shape, model_config, generator)

        widths = [IMAGE_PIXELS, *model_config.hidden_sizes]
        # Submodules made inside this module's name scope nest their own
        # scopes in it: "mlp/hidden_0/weights", as tf1_graph names it.
        with self.name_scope:
            self.hidden_layers = [
                layers.Dense(
                    initial_weights([fan_in, fan_out]), bias_init, name=f"hidden_{index}"
                )
                for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]))
            ]
            self.output_layer = layers.Dense(
                initial_weights([widths[-1], NUM_CLASSES]), bias_init, name="output"
            )

    def __call__(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Returns logits, float32 [batch, 10], for images float32 [batch, 784].

        With training=True and dropout_keep < 1, each hidden activation is
        dropped out with rate 1 - dropout_keep (kept units scaled by
        1 / dropout_keep), a new mask on every call.
        """
        checks.check_flat_image_shape(
            tf.TensorShape(images.shape).as_list(), f"tf2_eager {self.name}"
        )
        hidden = images
        for layer in self.hidden_layers:
            hidden = self.activation(layer(hidden))
            if training and self.dropout_keep < 1:
                hidden = tf.nn.dropout(hidden, rate=1.0 - self.dropout_keep)
        return self.output_layer(hidden)


def create(model_config: model_configs.MlpConfig, seed: Optional[int]) -> MLP:
    """Returns the MLP `model_config` describes, its random initial values
    drawn from `seed` (None: a non-deterministic state)."""
    return MLP(model_config, seed)


def keras_sequential(
    model_config: model_configs.MlpConfig, optimizer_config: optimizer_config_lib.OptimizerConfig
) -> tf.keras.Sequential:
    """The Keras notebook's model, compiled as the notebook compiled it.

    Input(784), then Dense(width, activation) for each of
    model_config.hidden_sizes (each followed by Dropout(1 - dropout_keep)
    when dropout_keep < 1), then
    Dense(10, softmax): the probabilities come out of the model, not the
    loss. Compiled with optimizer_config's optimizer in Keras semantics (for the
    notebook's "rmsprop", tf.keras.optimizers.RMSprop(0.001)),
    "sparse_categorical_crossentropy" and ["accuracy"], so model.fit takes
    int class-id labels [N].

    Kernels start per model_config.weight_init ("glorot_uniform" is Keras'
    own default) and biases at model_config.bias_init. Keras draws them, and
    model.fit shuffles, from its global seed: call
    tf.keras.utils.set_random_seed(seed) first for a repeatable run.
    """
    if model_config.weight_init == "truncated_normal":
        kernel_initializer = tf.keras.initializers.TruncatedNormal(stddev=model_config.init_stddev)
    elif model_config.weight_init == "uniform":
        kernel_initializer = tf.keras.initializers.RandomUniform(
            -model_config.init_limit, model_config.init_limit
        )
    else:
        # "zeros" and "glorot_uniform" are Keras' own initializer names.
        kernel_initializer = model_config.weight_init

    def dense(width: int, activation: str) -> tf.keras.layers.Dense:
        return tf.keras.layers.Dense(
            width,
            activation=activation,
            kernel_initializer=kernel_initializer,
            bias_initializer=tf.keras.initializers.Constant(model_config.bias_init),
        )

    keras_layers = [tf.keras.Input(shape=(IMAGE_PIXELS,))]
    for width in model_config.hidden_sizes:
        keras_layers.append(dense(width, model_config.activation))
        if model_config.dropout_keep < 1:
            keras_layers.append(tf.keras.layers.Dropout(1.0 - model_config.dropout_keep))
    keras_layers.append(dense(NUM_CLASSES, "softmax"))
    model = tf.keras.Sequential(keras_layers)
    model.compile(
        optimizer=optimizers.create(
            dataclasses.replace(optimizer_config, optimizer_semantics="keras")
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
