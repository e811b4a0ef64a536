"""True TF1/TF2 pairs written as a migrating team writes its own.

The TF1 side is plain `tf.compat.v1` graph code with its own variables; the
TF2 side is Keras as a user would write it, with Keras' own optimizers (not
this project's TF1-semantics classes). They compute the same mathematics, but
not the same float32 bits: Keras Adam takes 1 - β2 in float64 where TF1 takes
it in float32, and graph mode fuses kernels that eager mode runs one by one.
The ladder must call them identical or within noise, never systematic, with
oneDNN on and off (verdicts_test.py).

    python -m compat_tests.check --tf1=compat_tests.user_pairs:tf1_mlp_adam \\
        --tf2=compat_tests.user_pairs:keras_mlp_adam --steps=100
"""

import tensorflow as tf

from compat_tests import ladder

HIDDEN_UNITS = 64
LEARNING_RATE = 0.001
EPSILON = 1e-8  # TF1 AdamOptimizer's default; Keras' is 1e-7.
CONV_CHANNELS = (4, 8)
CONV_DENSE_UNITS = 32


def _tf1_dense(inputs: tf.Tensor, units: int, name: str) -> tf.Tensor:
    with tf.compat.v1.variable_scope(name):
        kernel = tf.compat.v1.get_variable(
            "kernel", [inputs.shape[-1], units],
            initializer=tf.compat.v1.glorot_uniform_initializer())
        bias = tf.compat.v1.get_variable("bias", [units], initializer=tf.zeros_initializer())
    return tf.matmul(inputs, kernel) + bias


def _tf1_train(logits: tf.Tensor, labels: tf.Tensor) -> dict:
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    optimizer = tf.compat.v1.train.AdamOptimizer(LEARNING_RATE, epsilon=EPSILON)
    return {"outputs": logits, "loss": loss, "train_op": optimizer.minimize(loss)}


def tf1_mlp_adam(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """A two-layer MLP, trained with tf.compat.v1.train.AdamOptimizer."""
    hidden = tf.nn.relu(_tf1_dense(images, HIDDEN_UNITS, "hidden"))
    return _tf1_train(_tf1_dense(hidden, 10, "logits"), labels)


def _keras_side(layers: list) -> ladder.Tf2Side:
    return ladder.Tf2Side(
        model=tf.keras.Sequential([tf.keras.Input([784]), *layers]),
        loss_fn=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON),
    )


def keras_mlp_adam() -> ladder.Tf2Side:
    """The same MLP in Keras, with Keras Adam at TF1's epsilon."""
    return _keras_side([
        tf.keras.layers.Dense(HIDDEN_UNITS, activation="relu"),
        tf.keras.layers.Dense(10),
    ])


def tf1_convnet_adam(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """Two 5x5 convolutions (stride 2, SAME), a dense layer and logits."""
    hidden = tf.reshape(images, [-1, 28, 28, 1])
    for index, channels in enumerate(CONV_CHANNELS):
        with tf.compat.v1.variable_scope(f"conv{index}"):
            kernel = tf.compat.v1.get_variable(
                "kernel", [5, 5, hidden.shape[-1], channels],
                initializer=tf.compat.v1.glorot_uniform_initializer())
            bias = tf.compat.v1.get_variable("bias", [channels], initializer=tf.zeros_initializer())
        hidden = tf.nn.relu(
            tf.nn.conv2d(hidden, kernel, strides=[1, 2, 2, 1], padding="SAME") + bias)
    flat = tf.reshape(hidden, [-1, 7 * 7 * CONV_CHANNELS[-1]])
    dense = tf.nn.relu(_tf1_dense(flat, CONV_DENSE_UNITS, "dense"))
    return _tf1_train(_tf1_dense(dense, 10, "logits"), labels)


def keras_convnet_adam() -> ladder.Tf2Side:
    """The same convnet in Keras (NHWC, so the flatten order matches TF1's)."""
    return _keras_side([
        tf.keras.layers.Reshape([28, 28, 1]),
        *[tf.keras.layers.Conv2D(channels, 5, strides=2, padding="same", activation="relu")
          for channels in CONV_CHANNELS],
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(CONV_DENSE_UNITS, activation="relu"),
        tf.keras.layers.Dense(10),
    ])
