"""compat_tests.tf1_sources: legacy builders in a child process, and TF1
models from files, as the ladder's TF1 side.

The legacy models and their Keras 3 ports are compat_tests.legacy_examples.
Each child process costs a TensorFlow import, so the runs are shared through
module-scoped fixtures.
"""

import os
import re
import subprocess

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import ladder
from compat_tests import legacy_examples
from compat_tests import tf1_sources

EXAMPLES = "compat_tests.legacy_examples"
SAVED_STEPS = 30


@pytest.fixture(scope="module")
def data():
    """1,000 training digits of every class (the embedded set is sorted by
    class) and 500 held-out ones."""
    dataset = mnist_data.load_dataset("mnist_embedded")
    chosen = np.random.default_rng(0).permutation(len(dataset.train_images))[:1000]
    train = (dataset.train_images[chosen], mnist_data.one_hot(dataset.train_labels[chosen]))
    held_out = (dataset.test_images[:500], mnist_data.one_hot(dataset.test_labels[:500]))
    return train, held_out


@pytest.fixture(scope="module")
def legacy_batch_norm():
    """The tf.layers batch-norm model as a legacy source; its child process
    runs once, on the first ladder run, and is shared."""
    return tf1_sources.legacy(f"{EXAMPLES}:batch_norm_mlp", timeout=300)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, data):
    """What a legacy training wrote: the batch-norm model trained SAVED_STEPS
    steps in a legacy-Keras child, saved with Saver (legacy_run/model.ckpt-30
    and its .meta), as a SavedModel and as a frozen inference GraphDef."""
    root = tmp_path_factory.mktemp("saved")
    directory = root / "legacy_run"
    directory.mkdir()
    data_path = root / "train.npz"
    np.savez(data_path, images=data[0][0], labels=data[0][1])
    tf1_sources.run_legacy_python(
        {"job": "call", "function": f"{EXAMPLES}:train_and_save",
         "kwargs": {"directory": str(directory), "data_path": str(data_path),
                    "steps": SAVED_STEPS}},
        timeout=300)
    return directory


def _run_ladder(source, make_tf2, data, steps=10, **kwargs) -> ladder.LadderReport:
    train, held_out = data
    return ladder.run_ladder(source, make_tf2, train, batch_size=32, steps=steps,
                             eval_data=held_out, **kwargs)


def _statuses(report: ladder.LadderReport) -> dict[str, str]:
    return {r.rung: r.status for r in report.rungs}


@pytest.mark.cross_kernel
def test_a_port_with_keras_batch_norm_momentum_fails_at_one_update(legacy_batch_norm, data):
    report = _run_ladder(legacy_batch_norm,
                         legacy_examples.make_batch_norm_mlp_port_keras_momentum, data)
    assert report.failed_rung.rung == "one_update", report.format()
    assert report.failed_rung.where == "batch_norm/moving_mean"
    assert any("momentum is 0.99" in cause for cause in report.failed_rung.likely_causes)
    # The earlier rungs ran on the child's graph and agreed.
    assert _statuses(report)["gradients"] == "passed"
    assert legacy_batch_norm.rungs == list(ladder.RUNGS)


def test_the_meta_graph_starts_from_its_checkpoint(saved_run):
    """A checkpoint round trip: the imported variables start bit for bit at
    the saved values, the optimizer's slots at zero."""
    checkpoint = str(saved_run / f"model.ckpt-{SAVED_STEPS}")
    source = tf1_sources.from_meta_graph(checkpoint + ".meta")
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, 784], name="images")
        labels = tf.compat.v1.placeholder(tf.float32, [None, 10], name="labels")
        endpoints = source(images, labels)
        variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
        initializer = tf.compat.v1.global_variables_initializer()
        # Batch norm's moving-average updates survive the export and import.
        update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    assert len(update_ops) == 2
    upstream = ladder._upstream_operations([endpoints["train_op"]])  # pylint: disable=protected-access
    assert all(operation in upstream for operation in update_ops)
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initializer)
        values = session.run(variables)
    saved = tf.train.load_checkpoint(checkpoint)
    for name in ("hidden/kernel", "batch_norm/gamma", "batch_norm/moving_variance",
                 "logits/bias"):
        np.testing.assert_array_equal(values[name], saved.get_tensor(name))
    assert np.any(saved.get_tensor("hidden/kernel/Adam"))
    assert not np.any(values["hidden/kernel/Adam"])
    assert endpoints["train_op"].name == "Adam"
    assert endpoints["skipped"] == {}


@pytest.mark.cross_kernel
def test_a_port_with_the_wrong_epsilon_fails_against_the_saved_meta_graph(saved_run, data):
    source = tf1_sources.from_meta_graph(str(saved_run / f"model.ckpt-{SAVED_STEPS}.meta"))
    report = _run_ladder(source, lambda: legacy_examples.make_batch_norm_mlp_port(epsilon=1e-5),
                         data)
    assert report.failed_rung.rung == "forward", report.format()
    assert _statuses(report)["variables"] == "passed"


@pytest.mark.cross_kernel
def test_a_saved_model_runs_the_rungs_without_training_and_says_why_it_skips(saved_run, data):
    source = tf1_sources.from_saved_model(str(saved_run / "saved_model"))
    report = _run_ladder(source, legacy_examples.make_batch_norm_mlp_port, data)
    assert _statuses(report) == {"variables": "passed", "forward": "passed",
                                 "gradients": "skipped", "one_update": "skipped",
                                 "steps": "skipped", "metric": "passed"}, report.format()
    assert report.passed
    skipped = [r for r in report.rungs if r.status == "skipped"]
    assert all("has no loss" in r.detail for r in skipped)
    text = report.format()
    assert "Skipped 'gradients': the SavedModel" in text
    assert "3 skipped (gradients, one_update, steps)" in text
    # The trained weights, loaded from the SavedModel, beat chance.
    assert report.tf1_metric > 50
    assert source.rungs == ["variables", "forward", "metric"]


def _port_with_saved_weights(checkpoint: str):
    """The port, loaded with the checkpoint's weights in creation order (what
    a checkpoint converter does); a frozen graph has no variables to copy."""
    saved = tf.train.load_checkpoint(checkpoint)
    names = ("hidden/kernel", "hidden/bias", "batch_norm/gamma", "batch_norm/beta",
             "batch_norm/moving_mean", "batch_norm/moving_variance", "logits/kernel",
             "logits/bias")

    def make_tf2() -> ladder.Tf2Side:
        side = legacy_examples.make_batch_norm_mlp_port()
        # Keras' dropout keeps its random state in a variable TF1 lacks.
        variables = [v for v in side.model.variables if "seed_generator" not in v.path]
        for variable, name in zip(variables, names, strict=True):
            variable.assign(saved.get_tensor(name))
        return side

    return make_tf2


@pytest.mark.cross_kernel
def test_a_frozen_graph_def_runs_forward_and_metric(saved_run, data):
    checkpoint = str(saved_run / f"model.ckpt-{SAVED_STEPS}")
    source = tf1_sources.from_graph_def(str(saved_run / "frozen.pb"))
    report = _run_ladder(source, _port_with_saved_weights(checkpoint), data)
    assert _statuses(report) == {"variables": "skipped", "forward": "passed",
                                 "gradients": "skipped", "one_update": "skipped",
                                 "steps": "skipped", "metric": "passed"}, report.format()
    assert "holds its weights as constants" in report.rungs[0].detail
    assert report.tf1_metric > 50


def test_a_builder_that_raises_comes_back_with_its_traceback(data):
    source = tf1_sources.legacy(f"{EXAMPLES}:raise_error", timeout=300)
    with pytest.raises(ValueError) as raised:
        ladder.run_ladder(source, legacy_examples.make_batch_norm_mlp_port, data[0],
                          batch_size=32, steps=1)
    message = str(raised.value)
    assert ("failed in its child process: ValueError: this model expects images of rank 2, "
            "got (None, 784)") in message
    assert "The child's traceback:" in message
    assert 'legacy_examples.py", line' in message and "in raise_error" in message


def test_a_builder_that_hangs_is_killed_at_the_timeout_and_leaves_no_process(data):
    # Killed while it imports TensorFlow or while it hangs: either way the
    # parent gives up at the timeout.
    source = tf1_sources.legacy(f"{EXAMPLES}:hang", timeout=8)
    with pytest.raises(tf1_sources.LegacyProcessError) as raised:
        ladder.run_ladder(source, legacy_examples.make_batch_norm_mlp_port, data[0],
                          batch_size=32, steps=1)
    message = str(raised.value)
    assert "did not finish within 8 s" in message
    pid = int(re.search(r"pid (\d+)", message).group(1))
    # Killed and reaped: the process is gone, not a zombie.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_an_interrupt_kills_and_reaps_the_child(monkeypatch):
    """Ctrl-C while the parent waits: the child is killed and reaped before
    the KeyboardInterrupt goes on."""
    started = []

    def interrupted(process, *args, **kwargs):
        del args, kwargs
        started.append(process.pid)
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tf1_sources.run_legacy_python(
            {"job": "call", "function": f"{EXAMPLES}:hang",
             "kwargs": {"images": None, "labels": None}}, timeout=60)
    with pytest.raises(ProcessLookupError):
        os.kill(started[0], 0)


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"),
                    reason="needs a system Python without tf_keras")
def test_a_python_without_legacy_keras_fails_with_the_install_command(data):
    source = tf1_sources.legacy(f"{EXAMPLES}:batch_norm_mlp", python="/usr/bin/python3",
                                timeout=60)
    completed = subprocess.run(["/usr/bin/python3", "-c", "import tf_keras"],
                               capture_output=True, timeout=60)
    assert completed.returncode != 0, "this test needs an interpreter without tf_keras"
    with pytest.raises(ValueError, match=r"needs tf_keras.*pip install '\.\[legacy\]'"):
        ladder.run_ladder(source, legacy_examples.make_batch_norm_mlp_port, data[0],
                          batch_size=32, steps=1)


@pytest.fixture(scope="module")
def unnamed_graph(tmp_path_factory):
    """A Saver-written graph whose names say nothing: two inputs of the
    images' shape, a squared-error loss, outputs named z."""
    directory = tmp_path_factory.mktemp("unnamed")
    graph = tf.Graph()
    with graph.as_default():
        first = tf.compat.v1.placeholder(tf.float32, [None, 784], name="a")
        second = tf.compat.v1.placeholder(tf.float32, [None, 784], name="b")
        target = tf.compat.v1.placeholder(tf.float32, [None, 10], name="t")
        weights = tf.compat.v1.get_variable("w", [784, 10])
        outputs = tf.matmul(first + second, weights, name="z")
        error = tf.reduce_mean(tf.square(outputs - target), name="e")
        tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(error, name="step")
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, str(directory / "model.ckpt"))
    return str(directory / "model.ckpt.meta")


def test_unguessable_names_fail_listing_the_candidates(unnamed_graph, data):
    def run(**names):
        return ladder.run_ladder(tf1_sources.from_meta_graph(unnamed_graph, **names),
                                 legacy_examples.make_batch_norm_mlp_port, data[0],
                                 batch_size=32, steps=1)

    with pytest.raises(ValueError, match=r"Cannot guess which placeholder takes the images.*"
                                         r"a \(None, 784\) float32, b \(None, 784\)"):
        run()
    with pytest.raises(ValueError, match=r"Cannot guess the outputs.*'z:0'"):
        run(images="a", labels="t")
    with pytest.raises(ValueError, match=r"no op 'zz' for outputs; close names: \['z'\]\.$"):
        run(images="a", labels="t", outputs="zz")


def test_tf1_names_flag_parses_names_and_feed_values():
    from flags import check as check_flags  # pylint: disable=import-outside-toplevel

    items = ["outputs=logits/BiasAdd", "loss=loss:0", "train_feed.is_training=true",
             "eval_feed.is_training=False", "eval_feed.keep_prob=1"]
    assert check_flags._check_names(items)  # pylint: disable=protected-access
    assert check_flags.parse_names(items) == {
        "outputs": "logits/BiasAdd", "loss": "loss:0",
        "train_feed": {"is_training": True}, "eval_feed": {"is_training": False, "keep_prob": 1.0},
    }
    assert not check_flags._check_names(["logits=x"])  # pylint: disable=protected-access
    one_source = check_flags._check_one_tf1_source  # pylint: disable=protected-access
    sources = dict.fromkeys(("tf1", "tf1_legacy", "tf1_meta", "tf1_saved_model",
                             "tf1_graph_def"))
    assert one_source({**sources, "tf1_meta": "m.meta"})
    assert not one_source({**sources, "tf1": "a:b", "tf1_meta": "m.meta"})


def _exported_initial_values(directory, seed: int) -> dict[str, np.ndarray]:
    os.makedirs(directory)
    tf1_sources.run_legacy_python(
        {"job": "export", "builder": f"{EXAMPLES}:batch_norm_mlp", "seed": seed,
         "directory": str(directory), "images": {"shape": [784], "dtype": "float32"},
         "labels": {"shape": [10], "dtype": "float32"}},
        timeout=300)
    reader = tf.train.load_checkpoint(str(directory / "model.ckpt"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def test_a_legacy_export_starts_from_the_same_weights_under_the_same_seed(tmp_path):
    # Legacy Keras' initialisers seed themselves from Python's random module,
    # not the graph seed; unseeded, each child drew other weights and the
    # same --seed gave another verdict on the next run.
    first = _exported_initial_values(tmp_path / "first", seed=0)
    again = _exported_initial_values(tmp_path / "again", seed=0)
    assert first.keys() == again.keys() and "hidden/kernel" in first
    assert all(np.array_equal(first[name], again[name]) for name in first)
