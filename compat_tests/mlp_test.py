"""The Keras notebook's MLP and the codelab's five-layer nets on both sides:
variable names and shapes, the flatten check, matched parity for each
optimizer, the notebook's "how does it work" arithmetic, the Keras
Sequential form, and dropout."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import parity
from flags import config as config_lib
from tf1_graph import classifier as tf1_classifier
from tf1_graph import deep_mlp as tf1_deep_mlp
from tf1_graph import mlp as tf1_mlp
from tf1_graph import train as tf1_train
from tf1_graph import weights as tf1_weights
from tf2_eager import deep_mlp as tf2_deep_mlp
from tf2_eager import mlp as tf2_mlp
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights

# The Keras notebook: Dense(512, relu) -> Dense(10), glorot_uniform kernels,
# zero biases, rmsprop lr 0.001, sparse categorical cross-entropy, batch 128;
# 5 epochs of the embedded 5,000 digits are 5 * 39 = 195 steps.
KERAS_MLP = config_lib.TrainConfig(
    model="mlp",
    hidden_sizes=(512,),
    activation="relu",
    weight_init="glorot_uniform",
    bias_init=0.0,
    optimizer="rmsprop",
    learning_rate=0.001,
    loss="sparse_softmax_cross_entropy",
    batch_size=128,
    steps=195,
)
# tensorflow-without-a-phd mnist_2.0_five_layers_sigmoid.
CODELAB_SIGMOID = config_lib.TrainConfig(
    model="deep_mlp",
    hidden_sizes=(200, 100, 60, 30),
    activation="sigmoid",
    weight_init="truncated_normal",
    init_stddev=0.1,
    bias_init=0.0,
    optimizer="adam",
    learning_rate=0.003,
    loss="softmax_cross_entropy_x100",
    batch_size=100,
    steps=10000,
)
# mnist_2.1_five_layers_relu_lrdecay: relu, biases 0.1, decayed learning rate.
CODELAB_RELU_DECAY = dataclasses.replace(
    CODELAB_SIGMOID,
    activation="relu",
    bias_init=0.1,
    learning_rate_decay="exponential",
    min_learning_rate=0.0001,
    decay_steps=2000,
)

MLP_SHAPES = {
    "mlp/hidden_0/weights": (784, 512),
    "mlp/hidden_0/biases": (512,),
    "mlp/output/weights": (512, 10),
    "mlp/output/biases": (10,),
}
DEEP_MLP_SHAPES = {
    "deep_mlp/hidden_0/weights": (784, 200),
    "deep_mlp/hidden_0/biases": (200,),
    "deep_mlp/hidden_1/weights": (200, 100),
    "deep_mlp/hidden_1/biases": (100,),
    "deep_mlp/hidden_2/weights": (100, 60),
    "deep_mlp/hidden_2/biases": (60,),
    "deep_mlp/hidden_3/weights": (60, 30),
    "deep_mlp/hidden_3/biases": (30,),
    "deep_mlp/output/weights": (30, 10),
    "deep_mlp/output/biases": (10,),
}
# (model modules, config, {name: shape}, parameter count) of each model.
ARCHITECTURES = {
    # 784·512 + 512 + 512·10 + 10.
    "mlp": (tf1_mlp, tf2_mlp, KERAS_MLP, MLP_SHAPES, 407_050),
    # 784·200 + 200 + 200·100 + 100 + 100·60 + 60 + 60·30 + 30 + 30·10 + 10.
    "deep_mlp": (tf1_deep_mlp, tf2_deep_mlp, CODELAB_RELU_DECAY, DEEP_MLP_SHAPES, 185_300),
}

# Matched-mode ladders, the TF2 side with TF1's semantics: 30 steps each,
# except the sigmoid net, which sits at chance for its first 50 (a pair at
# chance fails the ladder whatever its numbers).
LADDER_CONFIGS = [
    pytest.param(
        dataclasses.replace(KERAS_MLP, optimizer="gradient_descent", learning_rate=0.1, steps=30),
        id="mlp_gradient_descent",
    ),
    # TF1 RMSPropOptimizer against tf2_eager.optimizers.Tf1RMSProp.
    pytest.param(dataclasses.replace(KERAS_MLP, steps=30), id="mlp_rmsprop"),
    pytest.param(dataclasses.replace(CODELAB_SIGMOID, steps=100), id="deep_mlp_sigmoid_adam"),
    # TF1 AdamOptimizer with its decayed rate against Tf1Adam.
    pytest.param(dataclasses.replace(CODELAB_RELU_DECAY, steps=30), id="deep_mlp_relu_adam_decay"),
]


@pytest.fixture(autouse=True)
def registered_models(monkeypatch):
    """Registers both models with both train scripts, as their MODELS dicts
    do once the models ship; harmless after that."""
    for name, tf1_module, tf2_module in (
        ("mlp", tf1_mlp, tf2_mlp),
        ("deep_mlp", tf1_deep_mlp, tf2_deep_mlp),
    ):
        monkeypatch.setitem(tf1_train.MODELS, name, tf1_module)
        monkeypatch.setitem(tf2_train.MODELS, name, tf2_module)


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


@pytest.mark.parametrize("model", ARCHITECTURES)
def test_variable_names_shapes_and_initial_biases_agree(model):
    tf1_module, tf2_module, config, expected_shapes, parameter_count = ARCHITECTURES[model]
    assert sum(int(np.prod(shape)) for shape in expected_shapes.values()) == parameter_count

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(config.seed)
        images, labels = tf1_classifier.placeholder_inputs(config.integer_labels)
        tf1_module.build(images, labels, config.model_config, config.loss, config.optimizer_config)
        tf1_variables = tf.compat.v1.trainable_variables()
        initializer = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        tf1_values = tf1_weights.read(session, tf1_variables)
    tf2_values = tf2_weights.read(tf2_module.create(config.model_config, config.seed).trainable_variables)

    for side, values in (("tf1_graph", tf1_values), ("tf2_eager", tf2_values)):
        shapes = {name: value.shape for name, value in values.items()}
        assert shapes == expected_shapes, side
        for name, value in values.items():
            if name.endswith("biases"):
                np.testing.assert_array_equal(value, np.float32(config.bias_init), err_msg=side)
            else:
                # truncated_normal(0.1) or glorot_uniform: random, none zero.
                assert np.all(value != 0) and np.max(np.abs(value)) <= 0.2, (side, name)


@pytest.mark.parametrize("model", ARCHITECTURES)
def test_both_sides_reject_unflattened_images(model):
    tf1_module, tf2_module, config, _, _ = ARCHITECTURES[model]
    with tf.Graph().as_default():
        square_images = tf.compat.v1.placeholder(tf.float32, [None, 28, 28])
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [])
        with pytest.raises(ValueError, match=r"\[batch, 784\].*flatten them first"):
            tf1_module.inference(square_images, config.model_config, keep_prob)
    tf2_model = tf2_module.create(config.model_config, config.seed)
    with pytest.raises(ValueError, match=r"\[batch, 784\].*flatten them first"):
        tf2_model(np.zeros([2, 28, 28], np.float32))


@pytest.mark.cross_kernel
@pytest.mark.parametrize("config", LADDER_CONFIGS)
def test_matched_mode_passes_every_rung(config, embedded):
    record = parity.run_matched(config, embedded)
    print(f"max |Δloss| {record['max_abs_loss_diff']:.3g}, "
          f"max |Δweights| {record['max_abs_weight_diff']:.3g}")
    assert record["passed"], record["report"]
    rungs = record["ladder"]["rungs"]
    assert [rung["status"] for rung in rungs] == ["passed"] * len(rungs), record["report"]
    losses = record["ladder"]["tf1_losses"]
    assert len(losses) == config.steps
    # The runs learn, so the agreement is not that of two idle models.
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses


@pytest.mark.cross_kernel
def test_keras_rmsprop_differs_from_tf1_in_one_step(embedded):
    # Keras RMSprop (accumulator from zeros, epsilon 1e-7) is what a TF2 user
    # writes for the notebook's "rmsprop"; TF1's RMSPropOptimizer starts its
    # accumulator at ones. run_matched forces TF1 semantics on the sides it
    # builds, so the Keras side is passed in.
    config = dataclasses.replace(KERAS_MLP, steps=3, optimizer_semantics="keras")
    record = parity.run_matched(config, embedded, sides=parity.ladder_sides(config))
    assert not record["passed"], record["report"]
    statuses = {rung["rung"]: rung["status"] for rung in record["ladder"]["rungs"]}
    assert statuses["forward"] == statuses["gradients"] == "passed", record["report"]
    failed = next(rung for rung in record["ladder"]["rungs"] if rung["status"] == "failed")
    assert failed["rung"] == "one_update", record["report"]
    assert any("RMSProp" in cause for cause in failed["likely_causes"]), record["report"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _tf1_probabilities(config, values, images):
    """softmax(logits) of tf1_graph's mlp holding `values`, in a fresh graph."""
    graph = tf.Graph()
    with graph.as_default():
        images_placeholder, _ = tf1_classifier.placeholder_inputs(config.integer_labels)
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [])
        probabilities = tf.nn.softmax(tf1_mlp.inference(images_placeholder, config.model_config, keep_prob))
        loader = tf1_weights.Loader(tf.compat.v1.trainable_variables())
        initializer = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        loader.load(session, values)
        return session.run(probabilities, feed_dict={images_placeholder: images})


def _tf2_probabilities(config, values, images):
    """softmax(logits) of tf2_eager's MLP holding `values`."""
    model = tf2_mlp.create(config.model_config, config.seed)
    tf2_weights.assign(model.trainable_variables, values)
    return tf.nn.softmax(model(images)).numpy()


@pytest.mark.parametrize(
    "train, probabilities",
    [(tf1_train.train, _tf1_probabilities), (tf2_train.train, _tf2_probabilities)],
    ids=["tf1_graph", "tf2_eager"],
)
def test_trained_weights_reproduce_predictions_in_numpy(train, probabilities, embedded):
    # The notebook's "how does it work": the trained network is nothing but
    # softmax(relu(D · W1 + b1) · W2 + b2).
    config = dataclasses.replace(KERAS_MLP, steps=50)
    metrics = train(config, embedded)
    # Well above the 10 % of chance, though not high: TF1's RMSProp starts
    # its mean square at ones, so its first steps are about lr · gradient.
    assert metrics["test_accuracy"] > 0.3
    values = metrics["weights"]
    # Training moved the biases off their zeros, so the formula's + b counts.
    assert np.all([np.any(values[name] != 0) for name in values if name.endswith("biases")])
    digits = embedded.test_images[:200].astype(np.float64)
    hidden = np.maximum(
        digits @ values["mlp/hidden_0/weights"] + values["mlp/hidden_0/biases"], 0.0
    )
    expected = _softmax(hidden @ values["mlp/output/weights"] + values["mlp/output/biases"])
    np.testing.assert_allclose(
        probabilities(config, values, embedded.test_images[:200]), expected, rtol=0, atol=1e-5
    )


def test_keras_sequential_fit_matches_the_tf2_module(embedded):
    config = dataclasses.replace(KERAS_MLP, optimizer_semantics="keras")
    steps_per_epoch = 39
    examples = steps_per_epoch * config.batch_size
    tf.keras.utils.set_random_seed(config.seed)
    model = tf2_mlp.keras_sequential(config.model_config, config.optimizer_config)
    model.fit(
        embedded.train_images[:examples],
        embedded.train_labels[:examples],
        batch_size=config.batch_size,
        epochs=5,
        verbose=0,
    )
    assert int(model.optimizer.iterations) == config.steps == 195
    _, keras_accuracy = model.evaluate(embedded.test_images, embedded.test_labels, verbose=0)
    tf2_accuracy = tf2_train.train(config, embedded)["test_accuracy"]
    print(f"Keras Sequential {keras_accuracy:.4f}, tf2_eager MLP {tf2_accuracy:.4f}")
    assert keras_accuracy > 0.85 and tf2_accuracy > 0.85, (keras_accuracy, tf2_accuracy)
    assert abs(keras_accuracy - tf2_accuracy) <= 0.03, (keras_accuracy, tf2_accuracy)


def test_dropout_only_in_training(embedded):
    config = dataclasses.replace(CODELAB_RELU_DECAY, dropout_keep=0.75)
    digits = embedded.test_images[:100]

    tf2_model = tf2_deep_mlp.create(config.model_config, config.seed)
    dropped = [tf2_model(digits, training=True).numpy() for _ in range(2)]
    assert not np.allclose(dropped[0], dropped[1])
    tf2_plain = tf2_model(digits).numpy()
    np.testing.assert_array_equal(tf2_plain, tf2_model(digits, training=False).numpy())
    tf2_values = tf2_weights.read(tf2_model.trainable_variables)

    graph = tf.Graph()
    with graph.as_default():
        images, labels = tf1_classifier.placeholder_inputs(config.integer_labels)
        endpoints = tf1_deep_mlp.build(
            images, labels, config.model_config, config.loss, config.optimizer_config
        )
        loader = tf1_weights.Loader(tf.compat.v1.trainable_variables())
        initializer = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        loader.load(session, tf2_values)
        fed = {images: digits, endpoints["keep_prob"]: config.dropout_keep}
        dropped = [session.run(endpoints["outputs"], feed_dict=fed) for _ in range(2)]
        plain = [session.run(endpoints["outputs"], feed_dict={images: digits}) for _ in range(2)]
    assert not np.allclose(dropped[0], dropped[1])
    np.testing.assert_array_equal(plain[0], plain[1])
    # keep_prob at its default, 1.0, is no dropout: the TF2 evaluation pass.
    np.testing.assert_allclose(plain[0], tf2_plain, rtol=1e-6, atol=1e-5)
