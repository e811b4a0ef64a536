"""A multilayer perceptron on MNIST in TF1 graph style: dense layers, then logits.

The Keras notebook's MLP (flags/keras_mlp.cfg): 784 -> Dense(512, relu) ->
Dense(10), softmax inside the loss (sparse categorical cross-entropy),
optimizer "rmsprop" (lr 0.001), 5 epochs of batch 128; Keras' default
glorot_uniform kernels and zero biases. Here that is RMSPropOptimizer on
sparse_softmax_cross_entropy_with_logits.

The graph is general over the hidden widths, the activation and dropout,
so tf1_graph/deep_mlp.py (the codelab's five-layer nets) is this graph under
another scope name. With dropout (dropout_keep < 1), every hidden
activation goes through tf.compat.v1.nn.dropout(h, keep_prob=keep_prob), the
documents' own call; the training loop feeds keep_prob and evaluation leaves
it at its default, 1.0.

Variables are named SCOPE/hidden_0/weights, SCOPE/hidden_0/biases, ...,
SCOPE/output/weights, SCOPE/output/biases, as tf2_eager/mlp.py names its
own, so matched mode can draw their initial values by name. The TF2 form is
tf2_eager/mlp.py.
"""

import tensorflow as tf

from flags import model_configs
from mnist_data import checks
from mnist_data.idx import IMAGE_PIXELS, NUM_CLASSES
from tf1_graph import classifier
from tf1_graph import initializers

SCOPE = "mlp"

_ACTIVATIONS = {"relu": tf.nn.relu, "sigmoid": tf.nn.sigmoid}


def inference(
    images: tf.Tensor,
    model_config: model_configs.MlpConfig,
    keep_prob: tf.Tensor,
    scope: str = SCOPE,
) -> tf.Tensor:
    """Builds the model up to the logits.

    Args:
      images: Images placeholder, float32 [batch, 784].
      model_config: The layers and their initial values; dropout ops are
        built only when its dropout_keep is below 1. The random
        initialisers take their op seeds from the graph-level seed
        (tf.compat.v1.set_random_seed), as TF1 programs did.
      keep_prob: Probability of keeping a hidden unit, float32 scalar tensor;
        read only when model_config.dropout_keep < 1.
      scope: Name scope of every variable: "mlp", or "deep_mlp" for
        tf1_graph/deep_mlp.py.

    Returns:
      Logits tensor, float32 [batch, 10].
    """
    checks.check_flat_image_shape(images.shape.as_list(), f"tf1_graph {scope} inference")
    activation = _ACTIVATIONS[model_config.activation]
    widths = [IMAGE_PIXELS, *model_config.hidden_sizes]
    with tf.compat.v1.name_scope(scope):
        hidden = images
        for index, shape in enumerate(zip(widths[:-1], widths[1:])):
            with tf.compat.v1.name_scope(f"hidden_{index}"):
                hidden = activation(_dense(hidden, list(shape), model_config))
                # Dropout ops are built only for configurations that use
                # dropout, so the 2.0 and 2.1 graphs have no random ops, as
                # in the codelab's own scripts.
                if model_config.dropout_keep < 1:
                    hidden = tf.compat.v1.nn.dropout(hidden, keep_prob=keep_prob)
        with tf.compat.v1.name_scope("output"):
            logits = _dense(hidden, [widths[-1], NUM_CLASSES], model_config)
    return logits


# The whole training graph, build(images, labels, model_config, loss_form,
# optimizer_config); see classifier.build.
build = classifier.builder(inference)


def _dense(inputs: tf.Tensor, shape: list[int], model_config: model_configs.MlpConfig) -> tf.Tensor:
    """inputs @ weights + biases, creating the two variables in the current scope."""
    weights = tf.Variable(initializers.initial_weights(shape, model_config), name="weights")
    biases = tf.Variable(tf.fill([shape[1]], model_config.bias_init), name="biases")
    return tf.matmul(inputs, weights) + biases

