"""Every path of the one TF2 training loop honours the run flags alike.

One device, MirroredStrategy over two logical CPUs, and two
MultiWorkerMirroredStrategy workers on loopback (each started as the
README's one-machine-per-worker command, with its own TF_CONFIG) all run
`python -m tf2_eager.train` with --output_dir, --checkpoint_every,
--plots_dir, --quiet and --export_dir; then the same run without --resume
is refused (by the path's library entry point, in this process, before it
builds anything), and the command with --resume continues from the saved
step to a longer run. Each command is a fresh process (logical devices must
be made before TensorFlow starts), bounded by a timeout and reaped.
"""

import dataclasses
import json
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import flagfiles
from compat_tests import noise
from compat_tests import training_noise
from mnist_data import local_cluster
from tf2_eager import distributed
from tf2_eager import train as tf2_train

PATHS = {
    "one_device": [],
    "mirrored": ["--strategy=mirrored", "--num_replicas=2"],
    "multi_worker": ["--strategy=multi_worker", "--num_replicas=2"],
}
FIRST_STEPS, EVERY, RESUMED_STEPS = 6, 3, 10
FLAGFILE = "hvass_softmax"
TIMEOUT_SECONDS = 300
FIGURES = [f"tf2_eager_{kind}.png" for kind in ("confusion_matrix", "curves", "digits", "errors", "weights")]


# Each path's library entry point, which the command calls: each refuses an
# existing run before it builds anything (a device, a worker process).
REFUSING_ENTRY_POINTS = {
    "one_device": lambda config: tf2_train.train(config, mnist_data.load_dataset("mnist_embedded")),
    "mirrored": lambda config: distributed.train_mirrored(
        config, mnist_data.load_dataset("mnist_embedded"), 2),
    "multi_worker": lambda config: distributed.train_multi_worker(config, 2),
}


@dataclasses.dataclass
class Result:
    returncode: int
    log: str  # stderr of every process of the run
    metrics: dict  # the --json metrics (of worker 0), {} if the run failed


def _run(path: str, work_dir, name: str, steps: int, *flags: str) -> Result:
    """Runs `python -m tf2_eager.train` on `path` into work_dir/out; on the
    multi-worker path, as two worker processes with their own TF_CONFIG."""
    arguments = [f"--flagfile={flagfiles.path(FLAGFILE)}", "--eval_at=0", f"--steps={steps}",
                 f"--checkpoint_every={EVERY}", f"--output_dir={work_dir / 'out'}",
                 *PATHS[path], *flags]
    json_path = work_dir / f"{name}.json"
    if path == "multi_worker":
        return _run_workers(work_dir, name, arguments, json_path)
    completed = subprocess.run(
        local_cluster.python_module_argv("tf2_eager.train", *arguments, f"--json={json_path}"),
        env=local_cluster.child_environment(), capture_output=True, text=True,
        timeout=TIMEOUT_SECONDS,
    )
    metrics = json.loads(json_path.read_text()) if completed.returncode == 0 else {}
    return Result(completed.returncode, completed.stderr, metrics)


def _run_workers(work_dir, name: str, arguments: list[str], json_path) -> Result:
    ports = local_cluster.free_loopback_ports(2)
    cluster = {"worker": [f"{local_cluster.LOOPBACK}:{port}" for port in ports]}
    log_dir = work_dir / f"{name}_logs"
    log_dir.mkdir()
    with local_cluster.LocalProcesses(str(log_dir)) as processes:
        for index in range(2):
            worker_json = json_path if index == 0 else work_dir / f"{name}_worker_{index}.json"
            processes.start(
                f"worker_{index}",
                local_cluster.python_module_argv("tf2_eager.train", *arguments, f"--json={worker_json}"),
                local_cluster.child_environment(TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}})),
            )
        processes.wait(TIMEOUT_SECONDS, grace_seconds=90)
        log = processes.log("worker_0") + processes.log("worker_1")
    return Result(0, log, json.loads(json_path.read_text()))


@pytest.fixture(scope="module", params=PATHS)
def runs(request, tmp_path_factory):
    """The path's three runs: a first one of FIRST_STEPS steps, the same
    command again without --resume, and with --resume to RESUMED_STEPS."""
    work_dir = tmp_path_factory.mktemp(request.param)
    first = _run(request.param, work_dir, "first", FIRST_STEPS, "--quiet",
                 f"--plots_dir={work_dir / 'plots'}", f"--export_dir={work_dir / 'export_first'}")
    assert first.returncode == 0, first.log[-3000:]
    files_after_first = sorted(os.listdir(work_dir / "out" / "tf2_eager"))
    config = flagfiles.load(FLAGFILE, steps=RESUMED_STEPS, eval_at=(0,), checkpoint_every=EVERY,
                            output_dir=str(work_dir / "out"))
    with pytest.raises(ValueError) as refused:
        REFUSING_ENTRY_POINTS[request.param](config)
    files_after_refused = sorted(os.listdir(work_dir / "out" / "tf2_eager"))
    resumed = _run(request.param, work_dir, "resumed", RESUMED_STEPS, "--resume",
                   f"--export_dir={work_dir / 'export_resumed'}")
    assert resumed.returncode == 0, resumed.log[-3000:]
    return dict(path=request.param, work_dir=work_dir, first=first, refused=str(refused.value),
                resumed=resumed, files=(files_after_first, files_after_refused))


def test_output_dir_holds_checkpoints_run_state_and_summaries(runs):
    files, _ = runs["files"]
    assert f"ckpt-{FIRST_STEPS}.index" in files and f"ckpt-{EVERY}.index" in files
    assert {f"run_state-{EVERY}.json", f"run_state-{FIRST_STEPS}.json"} <= set(files)
    assert any(name.startswith("events.out.tfevents") for name in files)
    # Only the chief writes into the run directory.
    assert not [name for name in files if "worker" in name]
    assert runs["first"].metrics["checkpoint"].endswith(f"tf2_eager/ckpt-{FIRST_STEPS}")


def test_plots_dir_gets_the_figures(runs):
    assert sorted(os.listdir(runs["work_dir"] / "plots")) == FIGURES


def test_export_dir_serves_the_trained_model(runs):
    embedded = mnist_data.load_dataset("mnist_embedded")
    serve = tf.saved_model.load(str(runs["work_dir"] / "export_first")).signatures["serving_default"]
    classes = serve(images=tf.constant(embedded.test_images[:500]))["classes"].numpy()
    assert classes.shape == (500,)
    # Six steps of Hvass's softmax regression already beat chance by far.
    assert np.mean(classes == embedded.test_labels[:500]) > 0.5
    assert (runs["work_dir"] / "export_resumed" / "saved_model.pb").exists()


def test_quiet_logs_no_progress_and_without_it_progress_is_logged(runs):
    assert "done:" not in runs["first"].log and "Saved checkpoint" not in runs["first"].log
    assert "done:" in runs["resumed"].log and "Saved checkpoint" in runs["resumed"].log


def test_an_existing_run_without_resume_is_refused_and_left_alone(runs):
    assert "already holds a run" in runs["refused"] and "--resume" in runs["refused"]
    files_after_first, files_after_refused = runs["files"]
    assert files_after_refused == files_after_first


def test_resume_continues_from_the_saved_step(runs):
    first, resumed = runs["first"], runs["resumed"]
    assert "resumes from" in resumed.log and f"step {FIRST_STEPS}" in resumed.log
    assert resumed.metrics["steps"] == RESUMED_STEPS
    assert resumed.metrics["loss_trace"][:FIRST_STEPS] == first.metrics["loss_trace"]
    assert resumed.metrics["accuracy_trace"]["0"] == first.metrics["accuracy_trace"]["0"]
    # The steps after the checkpoint are the uninterrupted one-device run's:
    # exactly on one device; within the noise of summation order replicated.
    config = flagfiles.load(FLAGFILE, steps=RESUMED_STEPS, eval_at=(0,))
    embedded = mnist_data.load_dataset("mnist_embedded")
    single = tf2_train.train(config, embedded)
    if runs["path"] == "one_device":
        assert resumed.metrics["loss_trace"] == single["loss_trace"]
        return
    control = tf2_train.train(training_noise.perturbed(config), training_noise.perturbed_dataset(embedded))
    judgements = {
        f"loss at step {step}": judgement for step, judgement in enumerate(noise.judge_steps(
            single["loss_trace"], resumed.metrics["loss_trace"], [control["loss_trace"]], np.float32))
    }
    assert noise.verdict_of(judgements) != noise.SYSTEMATIC, training_noise.describe_worst(judgements)
