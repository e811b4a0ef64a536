"""The test material of compat_tests.tf1_sources: a small legacy TF1 model, its
Keras 3 port, mistakes planted in the port, and builders that fail.

The TF1 builder is written as TF1 code was: `tf.compat.v1.layers` (dense,
batch_normalization with its UPDATE_OPS, dropout); `train_and_save` also
writes it as a SavedModel and a frozen GraphDef. (The tutorials' legacy
models, tf-slim's LeNet among them, are in tf1_graph/legacy.) Under
TensorFlow 2.16+ with Keras 3 those layers raise, so the builders run only
in a Python started with TF_USE_LEGACY_KERAS=1 and tf_keras installed: compat_tests.tf1_sources.legacy runs them there. The
legacy imports sit inside the functions so this module imports under Keras 3,
where the ports run.

compat_tests/tf1_sources_test.py runs them; the `hang` and `raise_error`
builders stand in for a legacy process that never answers or dies.
"""

import os
import time
from typing import Any

import tensorflow as tf

from compat_tests import ladder

BATCH_NORM_DECAY = 0.9
BATCH_NORM_EPSILON = 1e-3
DROPOUT_RATE = 0.5
LEARNING_RATE = 0.01
ADAM_EPSILON = 1e-8  # AdamOptimizer's default; Keras' Adam defaults to 1e-7.
HIDDEN_UNITS = 32
NUM_CLASSES = 10
IMAGE_PIXELS = 784


def batch_norm_mlp(images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
    """dense -> batch_normalization -> relu -> dropout -> dense, trained by Adam.

    As the TF1 guides prescribed, the moving averages update through the
    UPDATE_OPS collection, made a control dependency of the train op, and an
    is_training placeholder switches batch norm and dropout. The dropout rate
    is a placeholder too, so that a check can run training steps without
    dropout while batch norm stays in training mode.
    """
    is_training = tf.compat.v1.placeholder(tf.bool, [], name="is_training")
    dropout_rate = tf.compat.v1.placeholder(tf.float32, [], name="dropout_rate")
    logits = batch_norm_mlp_logits(images, is_training, dropout_rate)
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.compat.v1.train.AdamOptimizer(LEARNING_RATE).minimize(loss)
    tf.compat.v1.add_to_collection("train_op", train_op)
    # The rate comes first: switching it off is what makes training
    # deterministic without taking batch norm out of training mode.
    return {
        "outputs": logits, "loss": loss, "train_op": train_op,
        "train_feed": {dropout_rate: DROPOUT_RATE, is_training: True},
        "eval_feed": {dropout_rate: 0.0, is_training: False},
    }


def batch_norm_mlp_logits(images: tf.Tensor, is_training: Any, dropout_rate: Any) -> tf.Tensor:
    """The inference part of batch_norm_mlp; with is_training a Python
    False it is the graph a TF1 export script froze (no conditionals)."""
    hidden = tf.compat.v1.layers.dense(images, HIDDEN_UNITS, name="hidden")
    hidden = tf.compat.v1.layers.batch_normalization(
        hidden, momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON,
        training=is_training, name="batch_norm")
    hidden = tf.nn.relu(hidden)
    hidden = tf.compat.v1.layers.dropout(hidden, rate=dropout_rate, training=is_training)
    return tf.compat.v1.layers.dense(hidden, NUM_CLASSES, name="logits")


def make_batch_norm_mlp_port(
    momentum: float = BATCH_NORM_DECAY, epsilon: float = BATCH_NORM_EPSILON
) -> ladder.Tf2Side:
    """batch_norm_mlp in Keras 3; the arguments plant the mistakes a port makes."""
    model = tf.keras.Sequential([
        tf.keras.Input([IMAGE_PIXELS]),
        tf.keras.layers.Dense(HIDDEN_UNITS),
        tf.keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon),
        tf.keras.layers.ReLU(),
        tf.keras.layers.Dropout(DROPOUT_RATE),
        tf.keras.layers.Dense(NUM_CLASSES),
    ])
    return ladder.Tf2Side(
        model=model,
        loss_fn=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPSILON),
    )


def make_batch_norm_mlp_port_keras_momentum() -> ladder.Tf2Side:
    """The port with Keras' default momentum 0.99 instead of the TF1 decay 0.9."""
    return make_batch_norm_mlp_port(momentum=0.99)


def train_and_save(directory: str, data_path: str, steps: int, seed: int = 0) -> None:
    """Trains batch_norm_mlp `steps` Adam steps on the .npz `data_path`
    (images, one-hot labels), as a legacy training script would, and writes
    what such scripts left behind in `directory`: Saver's model.ckpt-N
    (+ .meta), a SavedModel of the training graph (simple_save, in
    saved_model/) and a frozen inference GraphDef (frozen.pb).

    Runs in a legacy-Keras process (compat_tests.tf1_sources.run_legacy_python).
    """
    import numpy as np  # pylint: disable=import-outside-toplevel

    with np.load(data_path) as arrays:
        train_images, train_labels = arrays["images"], arrays["labels"]
    order = np.random.default_rng(seed).permutation(len(train_images))
    checkpoint = os.path.join(directory, "model.ckpt")
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(seed)
        images = tf.compat.v1.placeholder(tf.float32, [None, IMAGE_PIXELS], name="images")
        labels = tf.compat.v1.placeholder(tf.float32, [None, NUM_CLASSES], name="labels")
        built = batch_norm_mlp(images, labels)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for step in range(steps):
                batch = order[np.arange(step * 64, (step + 1) * 64) % len(order)]
                session.run(built["train_op"], {images: train_images[batch],
                                                labels: train_labels[batch],
                                                **built["train_feed"]})
            path = saver.save(session, checkpoint, global_step=steps)
            # The serving signature takes the images only: is_training and
            # dropout_rate stay placeholders the caller feeds.
            tf.compat.v1.saved_model.simple_save(
                session, os.path.join(directory, "saved_model"),
                inputs={"images": images}, outputs={"logits": built["outputs"]})
    _freeze_for_inference(path, os.path.join(directory, "frozen.pb"))


def _freeze_for_inference(checkpoint: str, frozen_path: str) -> None:
    """As TF1 export scripts did: the inference graph, restored from the
    checkpoint, with its variables folded into constants."""
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, IMAGE_PIXELS], name="images")
        logits = batch_norm_mlp_logits(images, is_training=False, dropout_rate=DROPOUT_RATE)
        with tf.compat.v1.Session(graph=graph) as session:
            tf.compat.v1.train.Saver().restore(session, checkpoint)
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), [logits.op.name])
    with open(frozen_path, "wb") as file:
        file.write(frozen.SerializeToString())


def hang(images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
    """A builder that never returns, like a legacy process stuck on a lock."""
    del images, labels
    while True:
        time.sleep(1)


def raise_error(images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
    """A builder that fails as legacy code does on unexpected input."""
    del labels
    raise ValueError(f"this model expects images of rank 2, got {images.shape}")
