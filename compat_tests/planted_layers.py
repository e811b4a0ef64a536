"""Migration mistakes planted in the layers real models have: batch norm,
dropout, weight decay, and a convnet's flatten and activations.

Each TF1 reference is a true side of compat_tests.user_pairs (a small MLP
with batch norm fed `is_training`, with dropout fed `keep_prob`, or with TF1's
l2_loss weight decay); each TF2 side differs from the correct Keras port by
exactly one mistake, and the entry says where the parity ladder must catch it:
the rung, the value or variable, and a phrase of the measured cause.
planted_layers_test.py runs them all, next to the true pairs.

    python -m compat_tests.check --tf1=compat_tests.planted_layers:tf1_batch_norm_decay_0_999 \\
        --tf2=compat_tests.user_pairs:keras_mlp_batch_norm
"""

import tensorflow as tf

from compat_tests import ladder
from compat_tests import planted_bugs
from compat_tests import user_pairs

Pair = planted_bugs.Pair


def tf1_batch_norm_decay_0_999(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The batch-norm MLP with a slower moving average, decay 0.999: a port
    that keeps Keras' default momentum, 0.99, is the mistake."""
    return user_pairs.tf1_mlp_batch_norm(images, labels, decay=0.999)


class _AlwaysTrainingBatchNorm(tf.keras.layers.BatchNormalization):
    """Mistake: batch statistics in every call, as a layer called with
    training=True hard-coded computes them."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def keras_batch_norm_ignores_mode() -> ladder.Tf2Side:
    return user_pairs.keras_side([
        tf.keras.layers.Dense(user_pairs.HIDDEN_UNITS),
        _AlwaysTrainingBatchNorm(momentum=user_pairs.BATCH_NORM_MOMENTUM,
                                 epsilon=user_pairs.BATCH_NORM_EPSILON),
        tf.keras.layers.ReLU(),
        tf.keras.layers.Dense(10),
    ])


def keras_batch_norm_epsilon() -> ladder.Tf2Side:
    """Mistake: batch norm's epsilon 1e-5 (PyTorch's, and many TF1 codes') for TF1's 1e-3."""
    return user_pairs.keras_side([
        tf.keras.layers.Dense(user_pairs.HIDDEN_UNITS),
        tf.keras.layers.BatchNormalization(momentum=user_pairs.BATCH_NORM_MOMENTUM,
                                           epsilon=1e-5),
        tf.keras.layers.ReLU(),
        tf.keras.layers.Dense(10),
    ])


def keras_without_batch_norm() -> ladder.Tf2Side:
    """Mistake: the batch-norm layer left out of the port."""
    return user_pairs.keras_side([
        tf.keras.layers.Dense(user_pairs.HIDDEN_UNITS, activation="relu"),
        tf.keras.layers.Dense(10),
    ])


def keras_dropout_forgotten() -> ladder.Tf2Side:
    """Mistake: the dropout layer left out of the port."""
    return user_pairs.keras_mlp_adam()


def keras_l2_forgotten() -> ladder.Tf2Side:
    """Mistake: the kernels' regulariser left out of the port."""
    return user_pairs.keras_mlp_adam()


def keras_l2_at_tf1_coefficient() -> ladder.Tf2Side:
    """Mistake: L2(WEIGHT_DECAY), twice TF1's term: Keras' L2 has no 1/2."""
    regularizer = tf.keras.regularizers.L2(user_pairs.WEIGHT_DECAY)
    return user_pairs.keras_side([
        tf.keras.layers.Dense(user_pairs.HIDDEN_UNITS, activation="relu",
                              kernel_regularizer=regularizer),
        tf.keras.layers.Dense(10, kernel_regularizer=regularizer),
    ])


def keras_convnet_flattens_channels_first() -> ladder.Tf2Side:
    """Mistake: the feature maps flattened channels first (NCHW order), as a
    port from a channels-first model does, where TF1 flattens NHWC."""
    return user_pairs.keras_convnet_adam(before_flatten=[tf.keras.layers.Permute((3, 1, 2))])


def keras_convnet_elu() -> ladder.Tf2Side:
    """Mistake: elu for relu in the dense layer."""
    return user_pairs.keras_convnet_adam(dense_activation="elu")


def tf1_dropout_on_in_inference(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """Mistake on the TF1 side's declaration: eval_feed keeps keep_prob at
    its training value, so TF1's inference drops units out."""
    built = user_pairs.tf1_mlp_dropout(images, labels)
    return {**built, "eval_feed": built["train_feed"]}


def keras_l2_step_without_model_losses() -> ladder.Tf2Side:
    """Mistake: the regularised port trained by a step of the user's own
    that leaves model.losses out (fit would add them)."""
    side = user_pairs.keras_mlp_l2()

    @tf.function
    def train_step(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss_value = side.loss_fn(labels, side.model(images, training=True))
        variables = side.model.trainable_variables
        side.optimizer.apply_gradients(zip(tape.gradient(loss_value, variables), variables))
        return loss_value

    side.train_step = train_step
    return side


def tf1_mlp_dropout_keep_0_9(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The dropout MLP trained with keep_prob 0.9 (it drops 10 %)."""
    built = user_pairs.tf1_mlp_dropout(images, labels)
    keep_prob = next(iter(built["train_feed"]))
    return {**built, "train_feed": {keep_prob: 0.9}}


def keras_dropout_rate_is_keep_prob() -> ladder.Tf2Side:
    """Mistake: TF1's keep_prob 0.9 ported as Dropout(0.9), which drops 90 %."""
    return user_pairs.keras_side([
        tf.keras.layers.Dense(user_pairs.HIDDEN_UNITS, activation="relu"),
        tf.keras.layers.Dropout(0.9),
        tf.keras.layers.Dense(10),
    ])


def keras_mlp_mixed_bfloat16() -> ladder.Tf2Side:
    """Mistake: the layers built under the mixed_bfloat16 policy (given per
    layer here, as set_global_policy would for every layer)."""
    return user_pairs.keras_side([
        tf.keras.layers.Dense(user_pairs.HIDDEN_UNITS, activation="relu",
                              dtype="mixed_bfloat16"),
        tf.keras.layers.Dense(10, dtype="mixed_bfloat16"),
    ])


def tf1_mlp_bias_0_1(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The Adam MLP with its biases initialised to 0.1 (a common TF1 choice
    for relu units), where Keras' Dense starts them at zero."""
    return user_pairs.tf1_mlp_adam(images, labels,
                                   bias_initializer=tf.compat.v1.constant_initializer(0.1))


def tf1_mlp_truncated_normal(images: tf.Tensor, labels: tf.Tensor) -> dict:
    """The Adam MLP with the tutorials' truncated_normal(stddev=0.1) kernels,
    where Keras' Dense draws glorot_uniform."""
    return user_pairs.tf1_mlp_adam(
        images, labels,
        kernel_initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.1))


TRUE_PAIRS = {
    "batch_norm": Pair(user_pairs.tf1_mlp_batch_norm, user_pairs.keras_mlp_batch_norm),
    "dropout": Pair(user_pairs.tf1_mlp_dropout, user_pairs.keras_mlp_dropout),
    "l2_regulariser": Pair(user_pairs.tf1_mlp_l2, user_pairs.keras_mlp_l2),
}

MISTAKES = {
    "batch_norm_momentum": Pair(
        tf1_batch_norm_decay_0_999, user_pairs.keras_mlp_batch_norm, "one_update",
        "batch_norm/moving_", "TF1 decays with about 0.999"),
    "batch_norm_ignores_mode": Pair(
        user_pairs.tf1_mlp_batch_norm, keras_batch_norm_ignores_mode, "forward",
        "outputs", "Mode ignored"),
    "batch_norm_epsilon": Pair(
        user_pairs.tf1_mlp_batch_norm, keras_batch_norm_epsilon, "forward", "(training mode)",
        "Batch norm epsilon: TF1 adds 0.001 (batchnorm/add) to the variance, the TF2 layers "
        "1e-05 ('batch_normalization"),
    "batch_norm_left_out": Pair(
        user_pairs.tf1_mlp_batch_norm, keras_without_batch_norm, "variables",
        "batch_norm/", ""),
    "dropout_forgotten": Pair(
        user_pairs.tf1_mlp_dropout, keras_dropout_forgotten, "forward",
        "outputs (training mode)", "Dropout on the TF1 side only"),
    "l2_forgotten": Pair(
        user_pairs.tf1_mlp_l2, keras_l2_forgotten, "forward", "loss", "L2 term"),
    "l2_coefficient_doubled": Pair(
        user_pairs.tf1_mlp_l2, keras_l2_at_tf1_coefficient, "forward", "loss", "L2 term"),
    "dropout_on_in_inference": Pair(
        tf1_dropout_on_in_inference, user_pairs.keras_mlp_dropout, "forward", "outputs",
        "TF1 answers the same input twice differently in inference mode"),
    "own_step_without_model_losses": Pair(
        user_pairs.tf1_mlp_l2, keras_l2_step_without_model_losses, "one_update",
        "kernel", "leaves model.losses out"),
    "flatten_order": Pair(
        user_pairs.tf1_convnet_adam, keras_convnet_flattens_channels_first, "forward",
        "outputs", "holds TF1's 'flatten' values in another order",
        "part is TF1 'flatten'"),
    "elu_for_relu": Pair(
        user_pairs.tf1_convnet_adam, keras_convnet_elu, "forward", "outputs",
        "Activation: TF1 applies relu in 'dense', TF2 elu", "part is TF1 'dense' / TF2 'dense"),
    "dropout_keep_prob_as_rate": Pair(
        tf1_mlp_dropout_keep_0_9, keras_dropout_rate_is_keep_prob, "forward", "dropout rate",
        "A keep_prob ported as a rate"),
    "mixed_bfloat16_policy": Pair(
        user_pairs.tf1_mlp_adam, keras_mlp_mixed_bfloat16, "forward", "outputs",
        "Dtype policy: TF1 computes in float32, while the TF2 layers"),
    # The opt-in rung: each side's own initial values.
    "bias_initialised_to_0_1": Pair(
        tf1_mlp_bias_0_1, user_pairs.keras_mlp_adam, "initial_values", "hidden/bias",
        "Initialiser of 'hidden/bias': TF1 starts it at 0.1",
        ladder_arguments={"check_initial_values": True}),
    "truncated_normal_for_glorot": Pair(
        tf1_mlp_truncated_normal, user_pairs.keras_mlp_adam, "initial_values", "hidden/kernel",
        "Initialiser of 'hidden/kernel'", ladder_arguments={"check_initial_values": True}),
}

