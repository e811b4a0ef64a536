"""Every path of `python -m tf1_graph.train` honours the same flags.

One device and towers over two logical CPUs (--strategy=mirrored) run
through the command's main with --output_dir, --plots_dir and --quiet, then
again into the same directory, then with --resume and --export_dir. Each
must write where the README says (OUTPUT_DIR/tf1_graph, the figures, the
SavedModel), log no progress line under --quiet, refuse a run already in the
directory without --resume, and continue a resumed run from its saved step.
The parameter server with two workers on loopback (--strategy=multi_worker)
costs a process launch per run, so it runs once: it resumes, with every
output flag, the run a single device checkpointed.
"""

import dataclasses
import json
import logging
import os

from absl import flags as absl_flags
from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from runtime import serving
from tf1_graph import towers
from tf1_graph import train as tf1_train

FIRST_STEPS = 20
RESUMED_STEPS = 30
# The defaults' softmax regression, small; evaluating at 0 draws the curves.
COMMON_FLAGS = ("--eval_at=0", "--batch_size=50")
PATHS = {
    "one_device": (),
    "towers": ("--strategy=mirrored", "--num_replicas=2"),
}
CLUSTER_FLAGS = (
    "--strategy=multi_worker", "--num_replicas=2", "--collective_timeout=60", "--run_timeout=300"
)
FIGURES = ("confusion_matrix", "curves", "digits", "errors", "weights")


class _Messages(logging.Handler):
    """Keeps the message of every record logged while it is attached."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _main(*arguments: str) -> list[str]:
    """Runs `python -m tf1_graph.train ARGUMENTS` in this process; returns
    what it logged. (pytest's caplog lives one test; the runs are shared by
    a module-scoped fixture.)"""
    handler = _Messages()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with flagsaver.flagsaver():
            absl_flags.FLAGS.unparse_flags()
            # --verbosity=0 lets absl's INFO lines (the progress lines among
            # them) reach the root logger, as `python -m` would print them.
            absl_flags.FLAGS(["tf1_graph.train", "--verbosity=0", *arguments])
            tf1_train.main(["tf1_graph.train"])
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    return handler.messages


def _progress_lines(messages: list[str]) -> list[str]:
    """The lines of runtime.progress.ProgressLogger among `messages`."""
    return [m for m in messages if m.startswith("tf1_graph") and (" done: " in m or " step " in m)]


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


@pytest.fixture(scope="module", params=PATHS)
def runs(request, tmp_path_factory):
    """A path's first run (quiet, with outputs and figures), a second run
    into the same directory without --resume, and a resumed run (not quiet)
    with an export."""
    work = tmp_path_factory.mktemp(request.param)
    path_flags = (*PATHS[request.param], *COMMON_FLAGS, f"--output_dir={work / 'out'}")
    first_messages = _main(
        *path_flags, f"--steps={FIRST_STEPS}", f"--plots_dir={work / 'plots'}", "--quiet",
        f"--json={work / 'first.json'}",
    )
    first_files = sorted(os.listdir(work / "out" / "tf1_graph"))
    with pytest.raises(SystemExit) as refused:
        _main(*path_flags, f"--steps={FIRST_STEPS}")
    resumed_messages = _main(
        *path_flags, f"--steps={RESUMED_STEPS}", "--resume", f"--export_dir={work / 'export'}",
        f"--json={work / 'resumed.json'}",
    )
    return {
        "path": request.param,
        "work": work,
        "first": json.loads((work / "first.json").read_text()),
        "first_files": first_files,
        "first_messages": first_messages,
        "refused": str(refused.value),
        "resumed": json.loads((work / "resumed.json").read_text()),
        "resumed_messages": resumed_messages,
    }


def test_outputs_go_into_output_dir_side_and_plots_dir(runs):
    work = runs["work"]
    assert os.listdir(work / "out") == ["tf1_graph"]
    files = runs["first_files"]
    assert "checkpoint" in files and f"run_state-{FIRST_STEPS}.json" in files
    assert f"model.ckpt-{FIRST_STEPS}.index" in files
    assert any(name.startswith("events.out.tfevents") for name in files)
    assert runs["first"]["checkpoint"] == str(work / "out" / "tf1_graph" / f"model.ckpt-{FIRST_STEPS}")
    assert sorted(os.listdir(work / "plots")) == [f"tf1_graph_{name}.png" for name in FIGURES]


def test_quiet_logs_no_progress_line_and_a_loud_run_does(runs):
    assert _progress_lines(runs["first_messages"]) == []
    # The resumed run is not quiet: the same capture sees its lines.
    assert any(" done: " in line for line in _progress_lines(runs["resumed_messages"]))


def test_an_existing_run_is_refused_without_resume(runs):
    assert "tf1_graph already holds a run" in runs["refused"]
    assert "pass --resume" in runs["refused"]


def test_resume_continues_from_the_saved_step(runs):
    first, resumed = runs["first"], runs["resumed"]
    checkpoint = runs["work"] / "out" / "tf1_graph" / f"model.ckpt-{FIRST_STEPS}"
    assert f"tf1_graph resumes from {checkpoint}, step {FIRST_STEPS}" in runs["resumed_messages"]
    assert len(resumed["loss_trace"]) == RESUMED_STEPS
    assert resumed["loss_trace"][:FIRST_STEPS] == first["loss_trace"]
    assert resumed["accuracy_trace"]["0"] == first["accuracy_trace"]["0"]
    assert set(resumed["accuracy_trace"]) == {"0", str(FIRST_STEPS), str(RESUMED_STEPS)}
    assert resumed["checkpoint"].endswith(f"model.ckpt-{RESUMED_STEPS}")


def _export_accuracy(export_dir: str, dataset: mnist_data.Dataset) -> float:
    """The accuracy of the SavedModel's serving_default on 500 test digits."""
    loaded = tf.saved_model.load(str(export_dir))
    images = tf.constant(dataset.test_images[:500])
    classes = loaded.signatures[serving.SIGNATURE_KEY](**{serving.INPUT_KEY: images})[serving.CLASSES_KEY]
    return float(np.mean(classes.numpy() == dataset.test_labels[:500]))


def test_the_export_serves_the_trained_model(runs, embedded):
    # A trained softmax regression, not the initial zeros (10 %).
    assert _export_accuracy(runs["work"] / "export", embedded) > 0.7


def test_a_resumed_run_equals_the_uninterrupted_one(runs, embedded):
    resumed = runs["resumed"]
    config = config_lib.TrainConfig(steps=RESUMED_STEPS, batch_size=50, eval_at=(0,))
    if runs["path"] == "one_device":
        whole = tf1_train.train(config, embedded)
    else:
        whole = towers.train(config, embedded, num_towers=2)
    assert resumed["loss_trace"] == whole["loss_trace"]
    assert resumed["test_accuracy"] == whole["test_accuracy"]


def test_towers_take_the_in_graph_pipeline(embedded):
    # The flag of the one-device run works on towers too: the same batches,
    # gathered in the graph instead of fed, give the same losses.
    config = config_lib.TrainConfig(steps=5, batch_size=50)
    fed = towers.train(config, embedded, num_towers=2)
    in_graph = towers.train(dataclasses.replace(config, input_pipeline="in_graph"), embedded, num_towers=2)
    assert in_graph["loss_trace"] == fed["loss_trace"]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory, embedded):
    """One device trains FIRST_STEPS steps into OUTPUT_DIR; the cluster is
    refused that directory without --resume, then resumes it to
    RESUMED_STEPS with --plots_dir, --export_dir and --quiet."""
    work = tmp_path_factory.mktemp("cluster")
    config = config_lib.TrainConfig(
        steps=FIRST_STEPS, batch_size=50, eval_at=(0,), output_dir=str(work / "out"), quiet=True)
    first = tf1_train.train(config, embedded)
    cluster_flags = (*CLUSTER_FLAGS, *COMMON_FLAGS, f"--output_dir={work / 'out'}")
    with pytest.raises(SystemExit) as refused:
        _main(*cluster_flags, f"--steps={RESUMED_STEPS}")
    _main(
        *cluster_flags, f"--steps={RESUMED_STEPS}", "--resume", f"--plots_dir={work / 'plots'}",
        f"--export_dir={work / 'export'}", "--quiet", f"--json={work / 'resumed.json'}",
    )
    return {
        "work": work,
        "first": first,
        "refused": str(refused.value),
        "resumed": json.loads((work / "resumed.json").read_text()),
    }


def test_the_cluster_refuses_an_existing_run_without_resume(cluster_run):
    assert "tf1_graph already holds a run" in cluster_run["refused"]


def test_the_cluster_resumes_into_output_dir_side_with_figures_and_export(cluster_run, embedded):
    work, first, resumed = cluster_run["work"], cluster_run["first"], cluster_run["resumed"]
    files = os.listdir(work / "out" / "tf1_graph")
    assert f"model.ckpt-{RESUMED_STEPS}.index" in files and f"run_state-{RESUMED_STEPS}.json" in files
    assert len([name for name in files if name.startswith("events.out.tfevents")]) == 2
    assert sorted(os.listdir(work / "plots")) == [f"tf1_graph_{name}.png" for name in FIGURES]
    # The chief's trace is the run's: the saved steps', then every step the
    # two workers ran.
    assert resumed["loss_trace"][:FIRST_STEPS] == first["loss_trace"]
    assert len(resumed["loss_trace"]) == RESUMED_STEPS
    # Asynchronous updates interleave in any order: close to one device's
    # uninterrupted run, not equal. Ten steps from the initial zeros would
    # score below the first run's 20.
    single = tf1_train.train(config_lib.TrainConfig(steps=RESUMED_STEPS, batch_size=50), embedded)
    assert abs(resumed["test_accuracy"] - single["test_accuracy"]) < 0.03
    assert resumed["test_accuracy"] > first["test_accuracy"]
    assert _export_accuracy(work / "export", embedded) > 0.7


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--device=/CPU:0", "Drop --device"),
        ("--input_pipeline=in_graph", "Drop --input_pipeline"),
        ("--checkpoint_every=5", "Drop --checkpoint_every=5"),
    ],
)
def test_the_cluster_refuses_what_it_cannot_do_before_starting(flag, message, tmp_path):
    with pytest.raises(SystemExit, match=message):
        _main(*CLUSTER_FLAGS, f"--output_dir={tmp_path}", flag)
    assert not os.listdir(tmp_path)  # No process started, no directory written.
