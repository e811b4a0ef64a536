"""Both sides export a SavedModel with one serving signature, and
tf.saved_model.load gives the same predictions from the same weights."""

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import tiny_configs
from runtime import serving
from tf1_graph import export as tf1_export
from tf1_graph import train as tf1_train
from tf2_eager import export as tf2_export
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights

CONFIGS = tiny_configs.CONFIGS


@pytest.fixture(scope="module")
def test_images():
    return mnist_data.load_dataset("mnist_embedded").test_images[:500]


@pytest.mark.parametrize("model", CONFIGS)
def test_both_sides_serve_the_same_predictions_from_the_same_weights(model, test_images, tmp_path):
    config = CONFIGS[model]
    tf2_model = tf2_train.MODELS[model].create(config.model_config, config.seed)
    # Wide uniform weights rather than the configuration's small initial
    # ones, so that the outputs vary from image to image.
    values = mnist_data.draw_parameters(
        {tf2_weights.variable_name(v): v.shape.as_list() for v in tf2_model.trainable_variables},
        "uniform", seed=1, limit=0.5)
    tf2_weights.assign(tf2_model.trainable_variables, values)
    tf2_export.export_saved_model(tf2_model, str(tmp_path / "tf2"))
    tf1_export.export_saved_model(
        tf1_train.MODELS[model].inference, config.model_config, values, str(tmp_path / "tf1"))

    outputs = {}
    for side in ("tf1", "tf2"):
        signature = tf.saved_model.load(str(tmp_path / side)).signatures[serving.SIGNATURE_KEY]
        _, inputs = signature.structured_input_signature
        assert inputs == {serving.INPUT_KEY: tf.TensorSpec(
            [None, 784], tf.float32, name=serving.INPUT_KEY)}, side
        specs = signature.structured_outputs
        assert specs[serving.PROBABILITIES_KEY].shape.as_list() == [None, 10], side
        assert specs[serving.PROBABILITIES_KEY].dtype == tf.float32, side
        assert specs[serving.CLASSES_KEY].shape.as_list() == [None], side
        assert specs[serving.CLASSES_KEY].dtype == tf.int64, side
        outputs[side] = {key: value.numpy() for key, value in
                         signature(**{serving.INPUT_KEY: tf.constant(test_images)}).items()}

    np.testing.assert_array_equal(outputs["tf1"][serving.CLASSES_KEY],
                                  outputs["tf2"][serving.CLASSES_KEY])
    # Same kernels on CPU: the two SavedModels agree to the bit.
    np.testing.assert_array_equal(outputs["tf1"][serving.PROBABILITIES_KEY],
                                  outputs["tf2"][serving.PROBABILITIES_KEY])
    # The signature computes the model: argmax of its logits, rows summing to 1.
    logits = tf2_model(test_images).numpy()
    np.testing.assert_array_equal(outputs["tf2"][serving.CLASSES_KEY], logits.argmax(axis=1))
    np.testing.assert_allclose(outputs["tf1"][serving.PROBABILITIES_KEY].sum(axis=1), 1.0,
                               atol=1e-5)
    # The images reach the output: the probabilities differ from image to image.
    assert outputs["tf1"][serving.PROBABILITIES_KEY].std(axis=0).max() > 1e-3


def test_tf1_export_refuses_values_of_another_model(tmp_path):
    config = CONFIGS["mlp"]
    with pytest.raises(ValueError, match=r"Missing: \['mlp/hidden_0/biases'"):
        tf1_export.export_saved_model(
            tf1_train.MODELS["mlp"].inference, config.model_config,
            {"softmax_regression/weights": np.zeros([784, 10], np.float32)},
            str(tmp_path / "tf1"))
