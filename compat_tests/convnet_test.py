"""The codelab's convnets (mnist_3.0 and mnist_3.1) on both sides.

Variables are pinned by name and shape, both sides reject unflattened
images, matched mode runs the parity ladder on real embedded MNIST, dropout
is shown on and off, and a short real training beats chance by far.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import parity
from flags import config as config_lib
from tf1_graph import classifier as tf1_classifier
from tf1_graph import convnet as tf1_convnet
from tf1_graph import train as tf1_train
from tf1_graph import weights as tf1_weights
from tf2_eager import convnet as tf2_convnet
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights

# What both codelab programs share: truncated_normal(0.1) weights, 0.1
# biases, the x100 loss and Adam decaying from 0.003 to 0.0001 over 2000
# steps, with 20 steps of 100 for the parity runs.
CODELAB = config_lib.TrainConfig(
    model="convnet",
    weight_init="truncated_normal",
    init_stddev=0.1,
    bias_init=0.1,
    loss="softmax_cross_entropy_x100",
    optimizer="adam",
    learning_rate=0.003,
    learning_rate_decay="exponential",
    min_learning_rate=0.0001,
    decay_steps=2000.0,
    batch_size=100,
    steps=20,
)
# The layers as mnist_3.0_convolutional.py and
# mnist_3.1_convolutional_bigger_dropout.py write them.
SETTINGS = {
    "3.0": dataclasses.replace(
        CODELAB, conv_channels=(4, 8, 12), conv_kernels=(5, 5, 4), conv_strides=(1, 2, 2)
    ),
    "3.1": dataclasses.replace(
        CODELAB,
        conv_channels=(6, 12, 24),
        conv_kernels=(6, 5, 4),
        conv_strides=(1, 2, 2),
        dropout_keep=0.75,
    ),
}
# Strides 1, 2, 2 with "SAME" padding take 28x28 to 7x7, so the dense layer
# has 7 * 7 * C3 inputs.
EXPECTED_SHAPES = {
    "3.0": {
        "convnet/conv_0/weights": (5, 5, 1, 4),  # 100
        "convnet/conv_0/biases": (4,),  # 4
        "convnet/conv_1/weights": (5, 5, 4, 8),  # 800
        "convnet/conv_1/biases": (8,),  # 8
        "convnet/conv_2/weights": (4, 4, 8, 12),  # 1,536
        "convnet/conv_2/biases": (12,),  # 12
        "convnet/dense/weights": (588, 200),  # 7 * 7 * 12 = 588; 117,600
        "convnet/dense/biases": (200,),  # 200
        "convnet/output/weights": (200, 10),  # 2,000
        "convnet/output/biases": (10,),  # 10
    },
    "3.1": {
        "convnet/conv_0/weights": (6, 6, 1, 6),  # 216
        "convnet/conv_0/biases": (6,),  # 6
        "convnet/conv_1/weights": (5, 5, 6, 12),  # 1,800
        "convnet/conv_1/biases": (12,),  # 12
        "convnet/conv_2/weights": (4, 4, 12, 24),  # 4,608
        "convnet/conv_2/biases": (24,),  # 24
        "convnet/dense/weights": (1176, 200),  # 7 * 7 * 24 = 1,176; 235,200
        "convnet/dense/biases": (200,),  # 200
        "convnet/output/weights": (200, 10),  # 2,000
        "convnet/output/biases": (10,),  # 10
    },
}
# The sums of the comments above: 100 + 4 + 800 + 8 + 1,536 + 12 + 117,600
# + 200 + 2,000 + 10, and 216 + 6 + 1,800 + 12 + 4,608 + 24 + 235,200 + 200
# + 2,000 + 10.
PARAMETER_COUNTS = {"3.0": 122_270, "3.1": 244_076}
FLATTEN_MESSAGE = "flatten them first"


@pytest.fixture(scope="module")
def embedded() -> mnist_data.Dataset:
    return mnist_data.load_dataset("mnist_embedded")


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """Puts convnet in both train scripts' MODELS, where run_matched and
    train() look models up, whether or not they list it themselves."""
    monkeypatch.setitem(tf1_train.MODELS, "convnet", tf1_convnet)
    monkeypatch.setitem(tf2_train.MODELS, "convnet", tf2_convnet)


def tf1_graph_for(config: config_lib.TrainConfig) -> tuple[tf.Graph, tf.Tensor, dict]:
    """A graph with config's training graph; returns (graph, images, endpoints)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(config.seed)
        images, labels = tf1_classifier.placeholder_inputs(config.integer_labels)
        endpoints = tf1_convnet.build(
            images, labels, config.model_config, config.loss, config.optimizer_config
        )
    return graph, images, endpoints


@pytest.mark.parametrize("settings", sorted(SETTINGS))
def test_variable_names_shapes_and_count_on_both_sides(settings):
    config = SETTINGS[settings]
    graph, images, endpoints = tf1_graph_for(config)
    with graph.as_default():
        tf1_shapes = {
            tf1_weights.variable_name(v): tuple(v.shape.as_list())
            for v in tf.compat.v1.trainable_variables()
        }
    model = tf2_convnet.create(config.model_config, config.seed)
    tf2_shapes = {
        tf2_weights.variable_name(v): tuple(v.shape.as_list())
        for v in model.trainable_variables
    }
    assert tf1_shapes == EXPECTED_SHAPES[settings]
    assert tf2_shapes == EXPECTED_SHAPES[settings]
    assert sum(int(np.prod(shape)) for shape in tf2_shapes.values()) == PARAMETER_COUNTS[settings]
    assert endpoints["outputs"].shape.as_list() == [None, 10]
    assert model(np.zeros([3, 784], np.float32)).shape == (3, 10)


def test_each_sides_own_initialisers_follow_the_codelab():
    # Matched mode loads numpy values into both sides, so only this test
    # sees the initialisers that --rng=tensorflow runs use.
    config = SETTINGS["3.1"]
    graph, _, _ = tf1_graph_for(config)
    with graph.as_default():
        variables = tf.compat.v1.trainable_variables()
        initializer = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        tf1_values = tf1_weights.read(session, variables)
    tf2_values = tf2_weights.read(tf2_convnet.create(config.model_config, config.seed).trainable_variables)
    for values in (tf1_values, tf2_values):
        for name, value in values.items():
            if name.endswith("biases"):
                np.testing.assert_array_equal(value, np.full_like(value, 0.1), err_msg=name)
            else:
                assert np.max(np.abs(value)) <= 0.2, name
        # truncated_normal(stddev=0.1) redraws beyond 2 standard deviations,
        # which leaves a standard deviation of 0.088; the dense layer's
        # 235,200 weights estimate it to about 1e-4.
        assert 0.086 < values["convnet/dense/weights"].std() < 0.090


def test_both_sides_reject_unflattened_images():
    config = SETTINGS["3.1"]
    with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, 28, 28])
        with pytest.raises(ValueError, match=FLATTEN_MESSAGE):
            tf1_convnet.inference(images, config.model_config, tf.constant(1.0))
    with pytest.raises(ValueError, match=FLATTEN_MESSAGE):
        tf2_convnet.create(config.model_config, config.seed)(np.zeros([2, 28, 28], np.float32))


def test_weights_other_than_truncated_normal_are_refused_before_either_side_builds():
    # The convnet's config refuses them where the value enters, so neither
    # builder has a check of its own.
    with pytest.raises(ValueError, match="--weight_init=truncated_normal"):
        dataclasses.replace(SETTINGS["3.1"], weight_init="zeros")


@pytest.mark.cross_kernel
@pytest.mark.parametrize("settings", sorted(SETTINGS))
def test_matched_mode_agrees_at_every_step_with_plain_gradient_descent(settings, embedded):
    # Plain gradient descent leaves the optimizer's arithmetic out, so this
    # pins the model itself: forward, gradients and 20 steps of training.
    config = dataclasses.replace(
        SETTINGS[settings], optimizer="gradient_descent", learning_rate=0.0005,
        learning_rate_decay="none",
    )
    record = parity.run_matched(config, embedded)
    assert record["passed"], record["report"]
    losses = record["ladder"]["tf1_losses"]
    assert len(losses) == config.steps
    assert losses[-1] < losses[0], record["report"]


@pytest.mark.cross_kernel
@pytest.mark.parametrize("settings", sorted(SETTINGS))
def test_matched_mode_agrees_at_every_step_with_the_codelabs_adam(settings, embedded):
    # Keras Adam multiplies by 1 - beta2 rounded from float64 (0.001) where
    # TF1's ApplyAdam uses float32 (0.00099998713); the first updates then
    # differ by about 2e-8 and this model's losses part beyond 1e-6 relative
    # within two steps, so this relies on tf2_eager.optimizers.Tf1Adam.
    record = parity.run_matched(SETTINGS[settings], embedded)
    assert record["passed"], record["report"]
    assert record["steps"] == SETTINGS[settings].steps


def test_tf2_dropout_only_when_training(embedded):
    model = tf2_convnet.create(SETTINGS["3.1"].model_config, SETTINGS["3.1"].seed)
    images = embedded.test_images[:50]
    evaluated = model(images).numpy()
    np.testing.assert_array_equal(model(images, training=False).numpy(), evaluated)
    np.testing.assert_array_equal(model(images).numpy(), evaluated)
    first = model(images, training=True).numpy()
    second = model(images, training=True).numpy()
    assert not np.allclose(first, second)
    assert not np.allclose(first, evaluated)


def test_tf1_dropout_only_when_keep_prob_is_fed(embedded):
    graph, images, endpoints = tf1_graph_for(SETTINGS["3.1"])
    with graph.as_default():
        initializer = tf.compat.v1.global_variables_initializer()
    feed = {images: embedded.test_images[:50]}
    dropped = {**feed, endpoints["keep_prob"]: 0.75}
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        evaluated = session.run(endpoints["outputs"], feed_dict=feed)
        np.testing.assert_array_equal(session.run(endpoints["outputs"], feed_dict=feed), evaluated)
        first = session.run(endpoints["outputs"], feed_dict=dropped)
        second = session.run(endpoints["outputs"], feed_dict=dropped)
    assert not np.allclose(first, second)
    assert not np.allclose(first, evaluated)


@pytest.mark.parametrize("train", [tf1_train.train, tf2_train.train], ids=["tf1_graph", "tf2_eager"])
def test_short_training_beats_chance_by_far(train, embedded):
    # 60 steps of the 3.1 program, dropout on: about 92 % on the official
    # test set on either side (10 % is chance).
    config = dataclasses.replace(SETTINGS["3.1"], steps=60, eval_at=(0,))
    metrics = train(config, embedded)
    assert metrics["accuracy_trace"][0] < 0.2
    assert metrics["test_accuracy"] > 0.8, metrics["accuracy_trace"]
    assert metrics["loss_trace"][-1] < metrics["loss_trace"][0] / 3
