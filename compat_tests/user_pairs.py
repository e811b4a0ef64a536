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

Three pairs have what real models have: batch norm with a training mode and
moving statistics (tf1_mlp_batch_norm, keras_mlp_batch_norm), dropout fed
through keep_prob (tf1_mlp_dropout, keras_mlp_dropout) and L2 weight decay,
TF1's l2_loss term against Keras' kernel_regularizer (tf1_mlp_l2,
keras_mlp_l2).
"""

from typing import Any, Optional, Sequence

import tensorflow as tf

from compat_tests import ladder

HIDDEN_UNITS = 64
LEARNING_RATE = 0.001
EPSILON = 1e-8  # TF1 AdamOptimizer's default; Keras' is 1e-7.
CONV_CHANNELS = (4, 8)
CONV_DENSE_UNITS = 32
# TF1's decay and Keras' momentum mean the same: the weight of the old value.
BATCH_NORM_MOMENTUM = 0.99
BATCH_NORM_EPSILON = 1e-3  # Keras' default.
KEEP_PROB = 0.5
# TF1 adds WEIGHT_DECAY × tf.nn.l2_loss(kernel) = WEIGHT_DECAY × Σw² / 2.
WEIGHT_DECAY = 1e-3


def _tf1_dense(inputs: tf.Tensor, units: int, name: str,
               kernel_initializer: Optional[Any] = None,
               bias_initializer: Optional[Any] = None) -> tf.Tensor:
    with tf.compat.v1.variable_scope(name):
        kernel = tf.compat.v1.get_variable(
            "kernel", [inputs.shape[-1], units],
            initializer=kernel_initializer or tf.compat.v1.glorot_uniform_initializer())
        bias = tf.compat.v1.get_variable(
            "bias", [units], initializer=bias_initializer or tf.zeros_initializer())
    return tf.matmul(inputs, kernel) + bias


def _tf1_train(logits: tf.Tensor, labels: tf.Tensor, penalty: float = 0.0) -> dict:
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)) + penalty
    optimizer = tf.compat.v1.train.AdamOptimizer(LEARNING_RATE, epsilon=EPSILON)
    # TF1's batch norm updates its moving statistics through UPDATE_OPS,
    # which run only when the train op depends on them.
    with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
        train_op = optimizer.minimize(loss)
    return {"outputs": logits, "loss": loss, "train_op": train_op}


def tf1_mlp_adam(images: tf.Tensor, labels: tf.Tensor,
                 kernel_initializer: Optional[Any] = None,
                 bias_initializer: Optional[Any] = None) -> dict:
    """A two-layer MLP, trained with tf.compat.v1.train.AdamOptimizer.

    Its kernels start glorot-uniform and its biases at zero, as Keras'
    Dense does, unless other TF1 initialisers are given.
    """
    initializers = {"kernel_initializer": kernel_initializer,
                    "bias_initializer": bias_initializer}
    hidden = tf.nn.relu(_tf1_dense(images, HIDDEN_UNITS, "hidden", **initializers))
    return _tf1_train(_tf1_dense(hidden, 10, "logits", **initializers), labels)


def keras_side(layers: list) -> ladder.Tf2Side:
    return ladder.Tf2Side(
        model=tf.keras.Sequential([tf.keras.Input([784]), *layers]),
        loss_fn=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON),
    )


def keras_mlp_adam() -> ladder.Tf2Side:
    """The same MLP in Keras, with Keras Adam at TF1's epsilon."""
    return keras_side([
        tf.keras.layers.Dense(HIDDEN_UNITS, activation="relu"),
        tf.keras.layers.Dense(10),
    ])


def tf1_convnet_adam(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """Two 5x5 convolutions (stride 2, SAME), a dense layer and logits."""
    hidden = tf.reshape(images, [-1, 28, 28, 1])
    layers = {}
    for index, channels in enumerate(CONV_CHANNELS):
        with tf.compat.v1.variable_scope(f"conv{index}"):
            kernel = tf.compat.v1.get_variable(
                "kernel", [5, 5, hidden.shape[-1], channels],
                initializer=tf.compat.v1.glorot_uniform_initializer())
            bias = tf.compat.v1.get_variable("bias", [channels], initializer=tf.zeros_initializer())
        hidden = tf.nn.relu(
            tf.nn.conv2d(hidden, kernel, strides=[1, 2, 2, 1], padding="SAME") + bias)
        layers[f"conv{index}"] = hidden
    layers["flatten"] = tf.reshape(hidden, [-1, 7 * 7 * CONV_CHANNELS[-1]])
    layers["dense"] = tf.nn.relu(_tf1_dense(layers["flatten"], CONV_DENSE_UNITS, "dense"))
    # The named layers let the ladder say where the two sides part.
    return {**_tf1_train(_tf1_dense(layers["dense"], 10, "logits"), labels), "layers": layers}


def keras_convnet_adam(
    before_flatten: Sequence[tf.keras.layers.Layer] = (), dense_activation: str = "relu"
) -> ladder.Tf2Side:
    """The same convnet in Keras (NHWC, so the flatten order matches TF1's).

    compat_tests.planted_layers plants its mistakes through the arguments.
    """
    return keras_side([
        tf.keras.layers.Reshape([28, 28, 1]),
        *[tf.keras.layers.Conv2D(channels, 5, strides=2, padding="same", activation="relu")
          for channels in CONV_CHANNELS],
        *before_flatten,
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(CONV_DENSE_UNITS, activation=dense_activation),
        tf.keras.layers.Dense(10),
    ])


def tf1_batch_norm(
    inputs: tf.Tensor, is_training: tf.Tensor, decay: float, name: str
) -> tf.Tensor:
    """Batch norm written with TF1 ops: batch statistics in training, moving
    ones in inference, and the moving averages' updates in UPDATE_OPS."""
    units = inputs.shape[-1]
    with tf.compat.v1.variable_scope(name):
        gamma = tf.compat.v1.get_variable("gamma", [units], initializer=tf.ones_initializer())
        beta = tf.compat.v1.get_variable("beta", [units], initializer=tf.zeros_initializer())
        moving_mean = tf.compat.v1.get_variable(
            "moving_mean", [units], initializer=tf.zeros_initializer(), trainable=False)
        moving_variance = tf.compat.v1.get_variable(
            "moving_variance", [units], initializer=tf.ones_initializer(), trainable=False)
    batch_mean, batch_variance = tf.nn.moments(inputs, axes=[0])
    for moving, batch in ((moving_mean, batch_mean), (moving_variance, batch_variance)):
        tf.compat.v1.add_to_collection(
            tf.compat.v1.GraphKeys.UPDATE_OPS,
            moving.assign(moving * decay + batch * (1.0 - decay)))
    mean, variance = tf.cond(
        is_training,
        lambda: (batch_mean, batch_variance),
        lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
    return tf.compat.v1.nn.batch_normalization(
        inputs, mean, variance, beta, gamma, BATCH_NORM_EPSILON)


def tf1_mlp_batch_norm(images: tf.Tensor, labels: tf.Tensor,
                       decay: float = BATCH_NORM_MOMENTUM) -> dict:
    """A hidden layer with batch norm before its relu; is_training is fed."""
    is_training = tf.compat.v1.placeholder(tf.bool, [], name="is_training")
    hidden = _tf1_dense(images, HIDDEN_UNITS, "hidden")
    hidden = tf.nn.relu(tf1_batch_norm(hidden, is_training, decay, "batch_norm"))
    built = _tf1_train(_tf1_dense(hidden, 10, "logits"), labels)
    return {**built, "train_feed": {is_training: True}, "eval_feed": {is_training: False}}


def keras_mlp_batch_norm(momentum: float = BATCH_NORM_MOMENTUM) -> ladder.Tf2Side:
    """The same in Keras: BatchNormalization between the dense layer and its relu."""
    return keras_side([
        tf.keras.layers.Dense(HIDDEN_UNITS),
        tf.keras.layers.BatchNormalization(momentum=momentum, epsilon=BATCH_NORM_EPSILON),
        tf.keras.layers.ReLU(),
        tf.keras.layers.Dense(10),
    ])


def tf1_mlp_dropout(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The MLP with dropout on its hidden layer; keep_prob is fed."""
    keep_prob = tf.compat.v1.placeholder(tf.float32, [], name="keep_prob")
    hidden = tf.nn.relu(_tf1_dense(images, HIDDEN_UNITS, "hidden"))
    hidden = tf.nn.dropout(hidden, rate=1.0 - keep_prob)
    built = _tf1_train(_tf1_dense(hidden, 10, "logits"), labels)
    return {**built, "train_feed": {keep_prob: KEEP_PROB}, "eval_feed": {keep_prob: 1.0}}


def keras_mlp_dropout() -> ladder.Tf2Side:
    """The same in Keras: Dropout's rate is TF1's 1 - keep_prob."""
    return keras_side([
        tf.keras.layers.Dense(HIDDEN_UNITS, activation="relu"),
        tf.keras.layers.Dropout(1.0 - KEEP_PROB),
        tf.keras.layers.Dense(10),
    ])


def tf1_mlp_l2(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The MLP with TF1's weight decay: WEIGHT_DECAY × l2_loss of each kernel."""
    hidden = tf.nn.relu(_tf1_dense(images, HIDDEN_UNITS, "hidden"))
    logits = _tf1_dense(hidden, 10, "logits")
    kernels = [v for v in tf.compat.v1.trainable_variables() if v.op.name.endswith("kernel")]
    penalty = WEIGHT_DECAY * tf.add_n([tf.nn.l2_loss(kernel) for kernel in kernels])
    return _tf1_train(logits, labels, penalty)


def keras_mlp_l2() -> ladder.Tf2Side:
    """The same in Keras: L2(l2) adds l2 × Σw², so l2 is half TF1's decay."""
    regularizer = tf.keras.regularizers.L2(WEIGHT_DECAY / 2)
    return keras_side([
        tf.keras.layers.Dense(HIDDEN_UNITS, activation="relu", kernel_regularizer=regularizer),
        tf.keras.layers.Dense(10, kernel_regularizer=regularizer),
    ])
