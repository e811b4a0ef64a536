"""Unmodified tf1_graph inference functions, wrapped with
tf.compat.v1.wrap_function and called from TF2 code, compute what the
tf2_eager models compute from the same weights.

The wrapped function runs as a graph and the model eagerly, and under oneDNN
only the graph fuses MatMul+BiasAdd, so in this process the two are judged
against the measured noise floor; in a child under the deterministic
configuration they are bit-for-bit.
"""

from typing import Iterator

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import deterministic
from compat_tests import noise
from compat_tests import tiny_configs
from tf1_graph import train as tf1_train
from tf2_eager import legacy_graph
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights

pytestmark = pytest.mark.cross_kernel

CONFIGS = tiny_configs.CONFIGS
IMAGES_SPEC = tf.TensorSpec([None, 784], tf.float32)
# The seed of the one-ulp perturbation whose logits are the noise floor.
CONTROL_SEED = 1


@pytest.fixture(scope="module")
def test_images():
    return mnist_data.load_dataset("mnist_embedded").test_images[:1000]


def _wrap(model: str, values):
    config = CONFIGS[model]
    inference = tf1_train.MODELS[model].inference

    def tf1_logits(images):
        # As the TF1 training graph feeds it: keep_prob defaults to 1.0.
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [])
        return inference(images, config.model_config, keep_prob)

    return legacy_graph.wrap_graph_function(tf1_logits, [IMAGES_SPEC], values)


def _tf2_model_and_values(model: str, seed: int):
    tf2_model = tf2_train.MODELS[model].create(CONFIGS[model].model_config, CONFIGS[model].seed)
    shapes = {tf2_weights.variable_name(v): v.shape.as_list() for v in tf2_model.trainable_variables}
    values = mnist_data.draw_parameters(shapes, "uniform", seed=seed, limit=0.2, bias_constant=0.1)
    tf2_weights.assign(tf2_model.trainable_variables, values)
    return tf2_model, values


def _wrapped_and_tf2_models(
    model: str,
) -> Iterator[tuple[tf.types.experimental.ConcreteFunction, tf.Module, dict[str, np.ndarray]]]:
    """Yields (wrapped TF1 inference, TF2 model, their values): first with the
    values the wrapping took, then with new ones assigned to the wrapped
    function's variables by name."""
    tf2_model, values = _tf2_model_and_values(model, seed=0)
    wrapped = _wrap(model, values)
    yield wrapped, tf2_model, values
    tf2_model, values = _tf2_model_and_values(model, seed=1)
    tf2_weights.assign(wrapped.variables, values)
    yield wrapped, tf2_model, values


def _control_logits(model: str, values: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """The TF2 model's logits with its values and the images moved one ulp."""
    control = tf2_train.MODELS[model].create(CONFIGS[model].model_config, CONFIGS[model].seed)
    tf2_weights.assign(control.trainable_variables, noise.perturb_all(values, CONTROL_SEED))
    return control(noise.perturb_last_bit(images, CONTROL_SEED)).numpy()


@pytest.mark.parametrize("model", CONFIGS)
def test_wrapped_tf1_inference_equals_the_tf2_model_within_rounding_noise(model, test_images):
    for wrapped, tf2_model, values in _wrapped_and_tf2_models(model):
        assert tf.executing_eagerly()
        # The wrapped function's variables keep TF1's names and take new
        # values by name, like the TF2 model's.
        assert sorted(tf2_weights.read(wrapped.variables)) == sorted(values)
        judgement = noise.judge_arrays(
            tf2_model(test_images).numpy(), wrapped(test_images).numpy(),
            controls=(_control_logits(model, values, test_images),))
        assert not judgement.systematic, judgement.describe()


def wrapped_gaps(models: list[str], images_path: str) -> dict[str, list[float]]:
    """{model: max |Δ| of the wrapped TF1 inference against the TF2 model on
    the images saved in `images_path`, for each value set of
    _wrapped_and_tf2_models}; what the deterministic child runs."""
    images = np.load(images_path)
    return {
        model: [noise.max_abs_difference(tf2_model(images).numpy(), wrapped(images).numpy())
                for wrapped, tf2_model, _ in _wrapped_and_tf2_models(model)]
        for model in models
    }


def test_wrapped_tf1_inference_equals_the_tf2_model(test_images, tmp_path):
    # Bit for bit once no kernel choice is left: oneDNN off, op determinism on.
    images_path = tmp_path / "images.npy"
    np.save(images_path, test_images)
    gaps = deterministic.run("compat_tests.wrap_function_test:wrapped_gaps",
                             {"models": list(CONFIGS), "images_path": str(images_path)})
    assert gaps == {model: [0.0, 0.0] for model in CONFIGS}, gaps


def test_wrapping_with_values_of_another_shape_lists_them():
    values = {"softmax_regression/weights": np.zeros([784, 9], np.float32), "stray": np.zeros(1)}
    with pytest.raises(ValueError) as raised:
        _wrap("softmax_regression", values)
    message = str(raised.value)
    assert "Missing: ['softmax_regression/biases']" in message
    assert "Unexpected: ['stray']" in message
    assert "softmax_regression/weights: expected [784, 10], got [784, 9]" in message
