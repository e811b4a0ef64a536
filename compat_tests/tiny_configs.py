"""One tiny configuration per MNIST classifier, for the migration tests.

A few steps on small layers keep each test to seconds on 2 cores, while the
optimizers are those whose state TF1 and Keras keep differently (RMSProp,
Adam), so the checkpoint bridge must leave that state behind.
"""

from flags import config as config_lib

CONFIGS = {
    "softmax_regression": config_lib.TrainConfig(
        model="softmax_regression", steps=3, batch_size=50, weight_init="truncated_normal"),
    "mlp": config_lib.TrainConfig(
        model="mlp", steps=3, batch_size=50, hidden_sizes=(16,), weight_init="glorot_uniform",
        optimizer="rmsprop", learning_rate=0.001, loss="sparse_softmax_cross_entropy"),
    "deep_mlp": config_lib.TrainConfig(
        model="deep_mlp", steps=3, batch_size=50, hidden_sizes=(12, 8, 6),
        activation="sigmoid", weight_init="truncated_normal", optimizer="adam",
        learning_rate=0.003, loss="softmax_cross_entropy_x100"),
    "convnet": config_lib.TrainConfig(
        model="convnet", steps=3, batch_size=50, conv_channels=(2, 3, 4), conv_kernels=(3, 3, 3),
        conv_strides=(2, 2, 2), dense_units=8,
        weight_init="truncated_normal", bias_init=0.1, optimizer="adam",
        learning_rate=0.003, loss="softmax_cross_entropy_x100"),
}
