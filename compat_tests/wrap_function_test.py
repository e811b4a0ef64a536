"""Unmodified tf1_graph inference functions, wrapped with
tf.compat.v1.wrap_function and called from TF2 code, compute what the
tf2_eager models compute from the same weights."""

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import tiny_configs
from tf1_graph import train as tf1_train
from tf2_eager import legacy_graph
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights

CONFIGS = tiny_configs.CONFIGS
IMAGES_SPEC = tf.TensorSpec([None, 784], tf.float32)


@pytest.fixture(scope="module")
def test_images():
    return mnist_data.load_dataset("mnist_embedded").test_images[:1000]


def _wrap(model: str, values):
    config = CONFIGS[model]
    inference = tf1_train.MODELS[model].inference

    def tf1_logits(images):
        # As the TF1 training graph feeds it: keep_prob defaults to 1.0.
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [])
        return inference(images, config, keep_prob)

    return legacy_graph.wrap_graph_function(tf1_logits, [IMAGES_SPEC], values)


def _tf2_model_and_values(model: str, seed: int):
    tf2_model = tf2_train.MODELS[model].create(CONFIGS[model])
    shapes = {tf2_weights.variable_name(v): v.shape.as_list() for v in tf2_model.trainable_variables}
    values = mnist_data.draw_parameters(shapes, "uniform", seed=seed, limit=0.2, bias_constant=0.1)
    tf2_weights.assign(tf2_model.trainable_variables, values)
    return tf2_model, values


@pytest.mark.parametrize("model", CONFIGS)
def test_wrapped_tf1_inference_equals_the_tf2_model(model, test_images):
    tf2_model, values = _tf2_model_and_values(model, seed=0)
    wrapped = _wrap(model, values)
    assert tf.executing_eagerly()
    np.testing.assert_array_equal(wrapped(test_images).numpy(), tf2_model(test_images).numpy())
    # The wrapped function's variables keep TF1's names and take new values
    # by name, like the TF2 model's.
    assert sorted(tf2_weights.read(wrapped.variables)) == sorted(values)
    tf2_model, new_values = _tf2_model_and_values(model, seed=1)
    tf2_weights.assign(wrapped.variables, new_values)
    np.testing.assert_array_equal(wrapped(test_images).numpy(), tf2_model(test_images).numpy())


def test_wrapping_with_values_of_another_shape_lists_them():
    values = {"softmax_regression/weights": np.zeros([784, 9], np.float32), "stray": np.zeros(1)}
    with pytest.raises(ValueError) as raised:
        _wrap("softmax_regression", values)
    message = str(raised.value)
    assert "Missing: ['softmax_regression/biases']" in message
    assert "Unexpected: ['stray']" in message
    assert "softmax_regression/weights: expected [784, 10], got [784, 9]" in message
