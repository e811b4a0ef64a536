"""The legacy TF1 models (tf1_graph/legacy), their TF2 ports (tf2_eager/legacy)
and the conversion of the legacy Saver checkpoints into the ports'.

The legacy models need legacy Keras, so one child process (with
TF_USE_LEGACY_KERAS=1) builds, trains and saves all four, shared by the
module; everything else runs here under Keras 3. The saved graphs are read
back here with import_meta_graph, which needs no legacy Keras: their outputs
are the reference the converted ports are held to.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import ladder
from compat_tests import noise
from compat_tests import tf1_sources
from runtime import local_cluster
from tf1_graph import legacy as tf1_legacy
from tf1_graph import weights as tf1_weights
from tf1_graph.legacy import saving
from tf2_eager import convert_checkpoint
from tf2_eager import legacy_checkpoints
from tf2_eager import weights as tf2_weights
from tf2_eager.legacy import batch_norm_mlp
from tf2_eager.legacy import fully_connected_feed
from tf2_eager.legacy import mnist_deep
from tf2_eager.legacy import slim_lenet

PORTS = {
    "mnist_deep": mnist_deep,
    "fully_connected_feed": fully_connected_feed,
    "slim_lenet": slim_lenet,
    "batch_norm_mlp": batch_norm_mlp,
}
STEPS = 20
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The README's commands, run as written (with this Python) by the tests
# below. "Checking a legacy model you cannot run in TF2's process":
LEGACY_COMMAND = (
    "python -m compat_tests.check --tf1_legacy=tf1_graph.legacy.batch_norm_mlp:build "
    "--tf2=tf2_eager.legacy.batch_norm_mlp:make_tf2"
)
# "Checking against files on disk", in the directory where
# `python -m tf1_graph.legacy.train_and_save --output_dir=legacy_run` wrote:
FILES_COMMAND = (
    "python -m compat_tests.check --tf1_meta=legacy_run/batch_norm_mlp/model.ckpt-20.meta "
    "--tf2=tf2_eager.legacy.batch_norm_mlp:make_tf2"
)
# Enough test digits for a max |Δ| over every class, cheap for the convnets.
COMPARED_IMAGES = 500
CONTROL_SEED = 1


@pytest.fixture(scope="module")
def legacy_runs(tmp_path_factory) -> dict[str, dict]:
    """{model: run.json} of one legacy child that trained and saved all four."""
    return saving.train_and_save_in_child(
        list(tf1_legacy.MODEL_NAMES), STEPS, str(tmp_path_factory.mktemp("legacy")))


@pytest.fixture(scope="module")
def test_images() -> np.ndarray:
    return mnist_data.load_dataset("mnist_embedded").test_images[:COMPARED_IMAGES]


def saved_graph_outputs(run: dict, images: np.ndarray, perturbation_seed=None) -> np.ndarray:
    """The saved graph's inference outputs, from its .meta and checkpoint; with
    `perturbation_seed`, of its model variables and the images moved one ulp
    (the noise floor's control)."""
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(run["checkpoint"] + ".meta")
        names = {variable["name"] for variable in run["variables"]}
        variables = [v for v in tf.compat.v1.global_variables() if v.op.name in names]
        loader = tf1_weights.Loader(variables)
    graph.finalize()
    with tf.compat.v1.Session(graph=graph) as session:
        saver.restore(session, run["checkpoint"])
        if perturbation_seed is not None:
            loader.load(session, noise.perturb_all(tf1_weights.read(session, variables),
                                                   perturbation_seed))
            images = noise.perturb_last_bit(images, perturbation_seed)
        feed = {graph.get_tensor_by_name(name): value for name, value in run["eval_feed"].items()}
        feed[graph.get_collection("images")[0]] = images
        return session.run(graph.get_collection("outputs")[0], feed_dict=feed)


def test_a_legacy_model_without_legacy_keras_names_the_fix():
    graph = tf.Graph()
    with graph.as_default(), pytest.raises(tf1_legacy.LegacyKerasError) as raised:
        tf1_legacy.model_module("batch_norm_mlp").build(
            tf.compat.v1.placeholder(tf.float32, [None, 784]),
            tf.compat.v1.placeholder(tf.float32, [None, 10]))
    assert "pip install '.[legacy]'" in str(raised.value)
    assert "set TF_USE_LEGACY_KERAS=1 before importing TensorFlow" in str(raised.value)


def _processes_mentioning(text: str) -> list[int]:
    """Ids of the live processes whose command line contains `text`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if text.encode() in cmdline.read():
                    found.append(int(entry))
        except (FileNotFoundError, NotADirectoryError, PermissionError, ProcessLookupError):
            continue
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_a_legacy_child_out_of_time_is_reported_and_leaves_no_process(tmp_path):
    # One second is less than TensorFlow's import: the child is always late.
    output_dir = str(tmp_path / "late")
    with pytest.raises(local_cluster.WorkerFailedError, match="did not finish within 1.0 s"):
        saving.train_and_save_in_child(["fully_connected_feed"], 1, output_dir, timeout_seconds=1.0)
    assert _processes_mentioning(output_dir) == []


def test_an_unknown_legacy_model_is_refused_before_a_child_starts(tmp_path):
    with pytest.raises(ValueError,
                       match="Unknown legacy model 'lenet'; expected one of mnist_deep"):
        saving.train_and_save_in_child(["lenet"], 1, str(tmp_path))


@pytest.mark.parametrize("model", tf1_legacy.MODEL_NAMES)
def test_each_legacy_model_trains_in_the_child_and_its_loss_falls(model, legacy_runs):
    losses = legacy_runs[model]["losses"]
    assert len(losses) == STEPS and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5]), losses


def test_update_ops_move_the_batch_norm_moving_statistics(legacy_runs):
    run = legacy_runs["batch_norm_mlp"]
    # Two layers, each a moving-mean and a moving-variance update.
    assert run["update_ops"] == 4
    changes = run["moving_statistics_change"]
    assert sorted(changes) == [
        f"batch_normalization{suffix}/{statistic}" for suffix in ("", "_1")
        for statistic in ("moving_mean", "moving_variance")]
    assert all(change > 0.01 for change in changes.values()), changes


def test_the_saved_graph_names_its_endpoints_for_a_loader(legacy_runs):
    run = legacy_runs["batch_norm_mlp"]
    assert run["tensors"]["images"] == "images:0" and run["tensors"]["labels"] == "labels:0"
    assert run["train_feed"] == {"is_training:0": True}
    assert run["eval_feed"] == {"is_training:0": False}
    assert os.path.exists(run["checkpoint"] + ".meta")
    assert run["checkpoint"].endswith(f"model.ckpt-{STEPS}")


@pytest.mark.parametrize("model", tf1_legacy.MODEL_NAMES)
def test_each_port_has_the_legacy_models_variable_shapes_in_order(model, legacy_runs):
    port = legacy_checkpoints.build_port(PORTS[model].make_tf2)
    variables = legacy_checkpoints.port_variables(port)
    assert [(v.shape.as_list(), v.trainable) for v in variables] == [
        (variable["shape"], variable["trainable"]) for variable in legacy_runs[model]["variables"]]


@pytest.mark.cross_kernel
@pytest.mark.parametrize("model", tf1_legacy.MODEL_NAMES)
def test_converted_checkpoint_gives_the_port_the_saved_graphs_outputs(
    model, legacy_runs, test_images, tmp_path
):
    run = legacy_runs[model]
    written, name_map, converted = legacy_checkpoints.convert(
        PORTS[model].make_tf2, run["checkpoint"], str(tmp_path / "ckpt"))
    assert [tf1_name for tf1_name, _, _ in name_map.pairs] == [
        variable["name"] for variable in run["variables"]]
    # The values are copies, moving statistics included: bit for bit.
    reader = tf.train.load_checkpoint(run["checkpoint"])
    converted_values = tf2_weights.read(legacy_checkpoints.port_variables(converted))
    for tf1_name, tf2_name, _ in name_map.pairs:
        np.testing.assert_array_equal(converted_values[tf2_name], reader.get_tensor(tf1_name),
                                      err_msg=f"{tf1_name} -> {tf2_name}")
    # A fresh port restored from the converted file, as a user would. Keras
    # names layers per process, so its names differ from the converted
    # port's; the two are the same factory's, so positions pair them.
    port = PORTS[model].make_tf2().model
    tf.train.Checkpoint(model=port).read(written).assert_existing_objects_matched()
    restored = legacy_checkpoints.port_variables(port)
    assert len(restored) == len(converted_values)
    for variable, value in zip(restored, converted_values.values()):
        np.testing.assert_array_equal(variable.numpy(), value)
    # The outputs: another program on the same values, judged against the
    # saved graph's own one-ulp floor.
    reference = saved_graph_outputs(run, test_images)
    control = saved_graph_outputs(run, test_images, CONTROL_SEED)
    outputs = port(test_images, training=False).numpy()
    judgement = noise.judge_arrays(reference, outputs, controls=(control,))
    assert not judgement.systematic, judgement.describe()
    np.testing.assert_array_equal(outputs.argmax(1), reference.argmax(1))


def test_batch_norm_inference_reads_the_converted_moving_statistics(
    legacy_runs, test_images, tmp_path
):
    # Without the moving statistics (left at 0 and 1) the port's inference
    # outputs part from the saved graph's: the comparison above sees them.
    run = legacy_runs["batch_norm_mlp"]
    _, _, port = legacy_checkpoints.convert(
        batch_norm_mlp.make_tf2, run["checkpoint"], str(tmp_path / "ckpt"))
    reference = saved_graph_outputs(run, test_images)
    control = saved_graph_outputs(run, test_images, CONTROL_SEED)
    for variable in port.non_trainable_variables:
        if "moving_mean" in variable.path:
            variable.assign(tf.zeros_like(variable))
        elif "moving_variance" in variable.path:
            variable.assign(tf.ones_like(variable))
    judgement = noise.judge_arrays(reference, port(test_images, training=False).numpy(),
                                   controls=(control,))
    assert judgement.systematic, judgement.describe()


def test_convert_command_prints_the_inferred_map(legacy_runs, tmp_path, capsys):
    run = legacy_runs["batch_norm_mlp"]
    out = str(tmp_path / "ckpt")
    with flagsaver.flagsaver(**{"from": "tf1", "port": "tf2_eager.legacy.batch_norm_mlp"}):
        convert_checkpoint.main(["convert_checkpoint", run["checkpoint"], out])
    printed = capsys.readouterr().out
    assert f"TF1 creation order: model.ckpt-{STEPS}.meta" in printed
    assert "batch_normalization/moving_mean [100]" in printed
    assert "Left behind: 16 optimizer slots (Adam, Adam_1) and the counters beta1_power, " \
        "beta2_power." in printed
    assert "(12 variables)" in printed


def test_a_checkpoint_that_does_not_fit_the_port_names_the_variables_and_the_fix(
    legacy_runs, tmp_path
):
    with flagsaver.flagsaver(**{"from": "tf1", "port": "tf2_eager.legacy.fully_connected_feed"}):
        with pytest.raises(SystemExit) as raised:
            convert_checkpoint.main(["convert_checkpoint",
                                     legacy_runs["batch_norm_mlp"]["checkpoint"],
                                     str(tmp_path / "ckpt")])
    message = str(raised.value)
    assert message.startswith("error: Cannot pair the checkpoint's variables")
    assert "'batch_normalization/moving_mean [100]'" in message
    assert "TF2 variables without a TF1 partner" in message
    assert "--variable_map=FILE" in message


def test_without_the_meta_file_same_shaped_variables_need_a_map(legacy_runs, tmp_path):
    # Alphabetically beta comes before gamma: pairing by that order would
    # swap them silently, so only the names the map gives are paired.
    run = legacy_runs["batch_norm_mlp"]
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in tf.io.gfile.glob(run["checkpoint"] + ".*"):
        if not path.endswith(".meta"):
            shutil.copy(path, copy)
    prefix = str(copy / os.path.basename(run["checkpoint"]))
    with pytest.raises(ValueError, match=r"put model\.ckpt-N\.meta next to the checkpoint"):
        legacy_checkpoints.convert(batch_norm_mlp.make_tf2, prefix, str(tmp_path / "ckpt"))
    # With the map printed from the .meta run as the --variable_map file, it converts.
    port = legacy_checkpoints.build_port(batch_norm_mlp.make_tf2)
    names = [tf2_weights.variable_name(v) for v in legacy_checkpoints.port_variables(port)]
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps(
        {variable["name"]: name for variable, name in zip(run["variables"], names)}))
    _, name_map, converted = legacy_checkpoints.convert(
        lambda: port, prefix, str(tmp_path / "ckpt"),
        legacy_checkpoints.load_variable_map(str(map_file)))
    assert {how for _, _, how in name_map.pairs} == {"variable map"}
    converted_values = tf2_weights.read(legacy_checkpoints.port_variables(converted))
    reader = tf.train.load_checkpoint(prefix)
    for tf1_name, tf2_name, _ in name_map.pairs:
        np.testing.assert_array_equal(converted_values[tf2_name], reader.get_tensor(tf1_name))


def _saved_graph(run: dict) -> tf1_sources.Tf1Source:
    """The TF1 side as the files Saver wrote (the .meta graph and its
    checkpoint), with the names run.json recorded."""
    return tf1_sources.from_meta_graph(
        run["checkpoint"] + ".meta", run["checkpoint"],
        images=run["tensors"]["images"], labels=run["tensors"]["labels"],
        outputs=run["tensors"]["outputs"], loss=run["tensors"]["loss"],
        train_op=run["tensors"]["train_op"], train_feed=run["train_feed"],
        eval_feed=run["eval_feed"], layers=run["layers"])


# Each model's planted mistake: the rung, the place (None where both the
# outputs and the loss part, either may be the larger) and the cause it must
# be caught with.
PLANTED = {
    "mnist_deep": (mnist_deep.make_tf2_flatten_nchw, "forward", None, "Feature order"),
    "fully_connected_feed": (fully_connected_feed.make_tf2_loss_without_from_logits,
                             "forward", "loss", "The outputs agree and the losses do not"),
    "slim_lenet": (slim_lenet.make_tf2_l2_not_halved, "forward", "loss", "L2 term"),
    "batch_norm_mlp": (batch_norm_mlp.make_tf2_bn_momentum_0_99, "one_update",
                       "moving_", "Moving-average rate"),
}
# Steps for the true pairs: enough for the metric rung to see each model
# above chance (the SGD MLP learns more slowly than Adam); the convnets are
# checked up to their steps rung, since a few steps leave them at chance and
# more cost minutes.
STEPS_AND_METRIC = {"mnist_deep": (3, False), "fully_connected_feed": (20, True),
                    "slim_lenet": (3, False), "batch_norm_mlp": (5, True)}


def _ladder_arguments(model: str, labels: str) -> dict:
    dataset = mnist_data.load_dataset("mnist_embedded")
    encode = mnist_data.one_hot if labels == "one_hot" else np.asarray
    steps, with_metric = STEPS_AND_METRIC[model]
    arguments = dict(train_data=(dataset.train_images, encode(dataset.train_labels)),
                     batch_size=50, steps=steps)
    if with_metric:
        arguments["eval_data"] = (dataset.test_images[:COMPARED_IMAGES],
                                  encode(dataset.test_labels[:COMPARED_IMAGES]))
    return arguments


@pytest.mark.cross_kernel
@pytest.mark.parametrize("model", tf1_legacy.MODEL_NAMES)
def test_port_passes_the_ladder_against_the_saved_graph_and_its_planted_mistake_fails(
    model, legacy_runs
):
    run = legacy_runs[model]
    arguments = _ladder_arguments(model, run["labels"])
    true_pair = ladder.run_ladder(_saved_graph(run), PORTS[model].make_tf2, **arguments)
    assert true_pair.passed, true_pair.format()
    planted, rung, where, cause = PLANTED[model]
    report = ladder.run_ladder(_saved_graph(run), planted, **arguments)
    failed = report.failed_rung
    assert failed is not None and failed.rung == rung, report.format()
    assert failed.verdict == noise.SYSTEMATIC, report.format()
    assert where is None or where in failed.where, report.format()
    assert any(text.startswith(cause) for text in failed.likely_causes), report.format()


@pytest.mark.cross_kernel
@pytest.mark.parametrize(
    "model", [name for name in tf1_legacy.MODEL_NAMES if name != "batch_norm_mlp"])
def test_port_passes_the_ladder_against_the_legacy_builder_run_in_a_child(model):
    # batch_norm_mlp runs this path through the README's command, below.
    # The user's unmodified legacy code as the TF1 side: the builder runs in
    # a child Python with legacy Keras, the rungs here.
    source = tf1_sources.legacy(f"tf1_graph.legacy.{model}:build")
    report = ladder.run_ladder(
        source, PORTS[model].make_tf2,
        **_ladder_arguments(model, tf1_legacy.model_module(model).LABELS))
    assert report.passed, report.format()
    assert not any(rung.status == "skipped" for rung in report.rungs), report.format()


def _run_command(command: str, cwd) -> subprocess.CompletedProcess:
    arguments = shlex.split(command)
    assert arguments[0] == "python"
    return subprocess.run(
        [sys.executable, *arguments[1:]], cwd=cwd, capture_output=True, text=True,
        timeout=600, env={**os.environ, "PYTHONPATH": REPOSITORY})


def _assert_every_rung_passed(completed: subprocess.CompletedProcess) -> None:
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    for rung in ladder.RUNGS:
        assert re.search(rf"^{rung}\s+passed", completed.stdout, re.M), completed.stdout
    assert "batch_normalization/moving_mean -> " in completed.stdout


@pytest.mark.cross_kernel
def test_readme_legacy_command_passes_the_batch_norm_model(tmp_path):
    completed = _run_command(LEGACY_COMMAND, tmp_path)
    _assert_every_rung_passed(completed)
    assert "built in a child Python with legacy Keras" in completed.stdout


@pytest.mark.cross_kernel
def test_readme_files_command_passes_the_port_against_the_saved_meta_graph(
    legacy_runs, tmp_path
):
    output_dir = os.path.dirname(os.path.dirname(legacy_runs["batch_norm_mlp"]["checkpoint"]))
    os.symlink(output_dir, tmp_path / "legacy_run")
    completed = _run_command(FILES_COMMAND, tmp_path)
    _assert_every_rung_passed(completed)
    # The guesses are printed, and the run starts from the saved values.
    assert "Names guessed in the MetaGraphDef" in completed.stdout
    assert "(the train_op collection)" in completed.stdout
    assert "model.ckpt-20: 12 model variables loaded" in completed.stdout


def test_readme_shows_the_commands_these_tests_run():
    with open(os.path.join(REPOSITORY, "README.md")) as file:
        readme = file.read()
    for title, command in (("### Checking a legacy model you cannot run in TF2's process",
                            LEGACY_COMMAND),
                           ("### Checking against files on disk", FILES_COMMAND)):
        assert title in readme, title
        section = readme.split(title, 1)[1].split("\n#", 1)[0]
        assert command in " ".join(section.replace("\\\n", " ").split()), title
