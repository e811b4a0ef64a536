"""The checkpoint bridge: each side's checkpoint restores into the other side's
model with the same logits, the round trip TF1 -> TF2 -> TF1 changes no
variable, and a checkpoint that does not fit is refused with the list.

The round trip copies values and runs the same graph on them, so it is
bit-for-bit in this process. Logits across sides come from different
kernels (under oneDNN, graph mode fuses MatMul+BiasAdd and eager mode does
not), so here they are judged against the measured noise floor, and they are
bit-for-bit only in a child under the deterministic configuration.
"""

import dataclasses
import os

from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import bridge
from compat_tests import deterministic
from compat_tests import noise
from compat_tests import tiny_configs
from flags import config as config_lib
from runtime import checkpoint_names
from tf1_graph import checkpoints as tf1_checkpoints
from tf1_graph import classifier as tf1_classifier
from tf1_graph import mlp as tf1_mlp
from tf1_graph import weights as tf1_weights
from tf2_eager import checkpoints as tf2_checkpoints
from tf2_eager import convert_checkpoint
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights

pytestmark = pytest.mark.cross_kernel

CONFIGS = tiny_configs.CONFIGS
MLP = CONFIGS["mlp"]
# The models whose bridge is also run in the deterministic child: deep_mlp,
# the one whose logits show the fused kernel's rounding under oneDNN, and
# mlp (ReLU, RMSProp), another model at little cost.
DETERMINISTIC_MODELS = ("deep_mlp", "mlp")


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


def _tf2_variable_names(config: config_lib.TrainConfig) -> list[str]:
    model = tf2_train.MODELS[config.model].create(config.model_config, config.seed)
    return sorted(tf2_weights.variable_name(v) for v in model.trainable_variables)


@pytest.mark.parametrize("model", CONFIGS)
def test_table_gives_the_keys_each_format_really_writes(model, tmp_path):
    config = CONFIGS[model]
    tf2_model = tf2_train.MODELS[model].create(config.model_config, config.seed)
    names = [tf2_weights.variable_name(v) for v in tf2_model.trainable_variables]
    for checkpoint_format in checkpoint_names.CHECKPOINT_FORMATS:
        written = tf2_checkpoints.write(
            tf2_model, str(tmp_path / checkpoint_format / "ckpt"), checkpoint_format)
        stored = tf.train.load_checkpoint(written).get_variable_to_shape_map()
        expected = {checkpoint_names.checkpoint_key(model, name, checkpoint_format)
                    for name in names}
        assert {key for key in stored
                if checkpoint_names.is_model_variable_key(key, checkpoint_format)} == expected


@pytest.mark.parametrize("model", CONFIGS)
def test_each_sides_checkpoint_restores_on_the_other_within_rounding_noise(
    model, embedded, tmp_path
):
    result = bridge.round_trip(CONFIGS[model], embedded, str(tmp_path))
    assert result["test_images"] == 10_000
    assert result["variables"] == _tf2_variable_names(CONFIGS[model])
    for measure in bridge.ROUND_TRIP_MEASURES:
        assert result[measure] == 0.0, (measure, result)
    assert sorted(result["judgements"]) == sorted(bridge.CROSS_SIDE_MEASURES)
    for measure, judgement in result["judgements"].items():
        assert not judgement.systematic, (measure, judgement.describe())
    # What the files hold: the round trip keeps exactly the model variables,
    # bit for bit, and leaves global_step and the optimizer slots behind.
    original = tf.train.load_checkpoint(str(tmp_path / "tf1" / "tf1_graph"))
    back = tf.train.load_checkpoint(str(tmp_path / "back_to_tf1" / "model.ckpt"))
    assert sorted(back.get_variable_to_shape_map()) == result["variables"]
    for name in result["variables"]:
        np.testing.assert_array_equal(back.get_tensor(name), original.get_tensor(name))
    assert "global_step" in original.get_variable_to_shape_map()


def bridge_gaps(models: list[str], workdir: str) -> dict[str, dict[str, float]]:
    """{model: {measure: max |Δ|}} of bridge.round_trip on tiny configs; what
    the deterministic child runs."""
    embedded = mnist_data.load_dataset("mnist_embedded")
    gaps = {}
    for model in models:
        result = bridge.round_trip(CONFIGS[model], embedded, os.path.join(workdir, model))
        gaps[model] = {measure: result[measure]
                       for measure in bridge.CROSS_SIDE_MEASURES + bridge.ROUND_TRIP_MEASURES}
    return gaps


def test_each_sides_checkpoint_restores_on_the_other_bit_identically(tmp_path):
    # Bit for bit once no kernel choice is left: oneDNN off, op determinism on.
    gaps = deterministic.run("compat_tests.checkpoint_bridge_test:bridge_gaps",
                             {"models": list(DETERMINISTIC_MODELS), "workdir": str(tmp_path)})
    assert sorted(gaps) == sorted(DETERMINISTIC_MODELS)
    for model, measures in gaps.items():
        assert measures == dict.fromkeys(measures, 0.0), (model, measures)


# Mistakes a bridge could make that no name or shape check catches, each a
# change of the restored {name: value} map of a deep_mlp with three hidden
# layers of 8 (two of them the same shape).
WRONG_LAYER_CONFIG = dataclasses.replace(CONFIGS["deep_mlp"], hidden_sizes=(8, 8, 8))


def _bias_off_by_a_little(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    biases = values["deep_mlp/output/biases"].copy()
    biases[3] += np.float32(1e-5)
    return {**values, "deep_mlp/output/biases": biases}


def _two_layers_swapped(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    swapped = dict(values)
    for kind in ("weights", "biases"):
        first, second = f"deep_mlp/hidden_1/{kind}", f"deep_mlp/hidden_2/{kind}"
        swapped[first], swapped[second] = values[second], values[first]
    return swapped


@pytest.mark.parametrize("mistake", [_bias_off_by_a_little, _two_layers_swapped])
def test_a_planted_mistake_in_the_restored_values_is_systematic(mistake, embedded, tmp_path):
    # Without it, the same comparison is not systematic: the floor does not
    # simply pass everything, nor fail the true pair.
    config = WRONG_LAYER_CONFIG
    images = embedded.test_images[:1000]
    model = tf2_train.MODELS[config.model].create(config.model_config, config.seed)
    tf2_weights.assign(model.trainable_variables, config.draw_initial_values(
        {tf2_weights.variable_name(v): v.shape.as_list() for v in model.trainable_variables}))
    path = tf2_checkpoints.write(model, str(tmp_path / "model.ckpt"), "tf1")
    reference = bridge.tf1_logits(config, path, "tf1", images)
    control = bridge.tf1_logits(config, path, "tf1", images, bridge.CONTROL_SEED)
    restored = bridge.tf2_model(config, path, "tf1")
    true_pair = noise.judge_arrays(reference, restored(images).numpy(), controls=(control,))
    assert not true_pair.systematic, true_pair.describe()
    tf2_weights.assign(restored.trainable_variables,
                       mistake(tf2_weights.read(restored.trainable_variables)))
    planted = noise.judge_arrays(reference, restored(images).numpy(), controls=(control,))
    assert planted.systematic, planted.describe()


def _tf1_mlp_session(config):
    """A finalised TF1 mlp graph, its Loader and an open session on it."""
    graph = tf.Graph()
    with graph.as_default():
        images, _ = tf1_classifier.placeholder_inputs(config.integer_labels)
        tf1_mlp.inference(images, config.model_config, keep_prob=None)
        loader = tf1_weights.Loader(tf.compat.v1.trainable_variables())
    graph.finalize()
    return tf.compat.v1.Session(graph=graph), loader


def test_checkpoint_of_another_model_is_refused_with_the_list(tmp_path):
    softmax = tf2_train.MODELS["softmax_regression"].create(CONFIGS["softmax_regression"].model_config, CONFIGS["softmax_regression"].seed)
    tf1_file = tf2_checkpoints.write(softmax, str(tmp_path / "tf1" / "model.ckpt"), "tf1")
    tf2_file = tf2_checkpoints.write(softmax, str(tmp_path / "tf2" / "ckpt"), "tf2")

    # TF1 Saver checkpoint into the TF2 mlp: listed by graph name, with the
    # scope it came from.
    with pytest.raises(ValueError) as raised:
        tf2_checkpoints.restore(tf2_train.MODELS["mlp"].create(MLP.model_config, MLP.seed), "mlp", tf1_file, "tf1")
    message = str(raised.value)
    assert "Missing: ['mlp/hidden_0/biases', 'mlp/hidden_0/weights', 'mlp/output/biases', " \
        "'mlp/output/weights']" in message
    assert "Unexpected: ['softmax_regression/biases', 'softmax_regression/weights']" in message
    assert "scope(s) softmax_regression" in message and "--flagfile" in message

    # TF2 checkpoint into the TF1 mlp graph: listed by object path.
    session, loader = _tf1_mlp_session(MLP)
    with session, pytest.raises(ValueError) as raised:
        tf1_checkpoints.restore(session, loader, "mlp", tf2_file, "tf2")
    message = str(raised.value)
    assert "'model/hidden_layers/0/weights/.ATTRIBUTES/VARIABLE_VALUE'" in message
    assert "Unexpected: ['model/biases/.ATTRIBUTES/VARIABLE_VALUE', " \
        "'model/weights/.ATTRIBUTES/VARIABLE_VALUE']" in message


def test_missing_and_misshaped_variables_are_listed_with_expected_shapes(tmp_path):
    # A TF1 checkpoint of an mlp with 5 hidden units and no hidden biases,
    # restored as MLP's 16: every mismatch is named at once.
    values = {
        "mlp/hidden_0/weights": np.zeros([784, 5], np.float32),
        "mlp/output/weights": np.zeros([5, 10], np.float32),
        "mlp/output/biases": np.zeros([10], np.float32),
    }
    saver = tf.compat.v1.train.Saver(
        var_list={name: tf.Variable(value) for name, value in values.items()})
    path = saver.save(None, str(tmp_path / "model.ckpt"))
    session, loader = _tf1_mlp_session(MLP)
    expected_message = (
        r"Missing: \['mlp/hidden_0/biases'\]\. Unexpected: none\. Mis-shaped: "
        r"\['mlp/hidden_0/weights: expected \[784, 16\], got \[784, 5\]', "
        r"'mlp/output/weights: expected \[16, 10\], got \[5, 10\]'\]")
    with session, pytest.raises(ValueError, match=expected_message):
        tf1_checkpoints.restore(session, loader, "mlp", path, "tf1")
    with pytest.raises(ValueError, match=expected_message):
        tf2_checkpoints.restore(tf2_train.MODELS["mlp"].create(MLP.model_config, MLP.seed), "mlp", path, "tf1")


def test_convert_command_reports_a_mismatch_in_one_line(tmp_path):
    softmax = tf2_train.MODELS["softmax_regression"].create(CONFIGS["softmax_regression"].model_config, CONFIGS["softmax_regression"].seed)
    path = tf2_checkpoints.write(softmax, str(tmp_path / "model.ckpt"), "tf1")
    with flagsaver.flagsaver(**{"from": "tf1", "model": "mlp"}):
        with pytest.raises(SystemExit) as raised:
            convert_checkpoint.main(["convert_checkpoint", path, str(tmp_path / "out")])
    assert str(raised.value).startswith("error: The tf1 checkpoint")
    assert "'mlp/hidden_0/weights'" in str(raised.value)


def test_convert_command_writes_a_checkpoint_the_other_side_reads(tmp_path, capsys):
    config = CONFIGS["softmax_regression"]
    softmax = tf2_train.MODELS["softmax_regression"].create(config.model_config, config.seed)
    tf2_file = tf2_checkpoints.write(softmax, str(tmp_path / "tf2" / "ckpt"), "tf2")
    out = str(tmp_path / "tf1" / "model.ckpt")
    with flagsaver.flagsaver(**{"from": "tf2", "model": "softmax_regression"}):
        convert_checkpoint.main(["convert_checkpoint", tf2_file, out])
    assert f"to the tf1 checkpoint {out}" in capsys.readouterr().out
    images = np.random.default_rng(0).random([7, 784], dtype=np.float32)
    np.testing.assert_array_equal(bridge.tf1_logits(config, out, "tf1", images),
                                  softmax(images).numpy())
