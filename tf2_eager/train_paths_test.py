"""Every path of the one TF2 training loop honours the run flags alike.

One device and MirroredStrategy over two logical CPUs each train with
--output_dir, --checkpoint_every, --plots_dir, --quiet and --export_dir; then
the same run without --resume is refused (by the path's library entry point,
in this process, before it builds anything), and with --resume it continues
from the saved step to a longer run. The mirrored runs are
`python -m tf2_eager.train` commands in fresh processes (logical devices
must be made before TensorFlow starts), bounded by a timeout; the one-device
runs call what that command's main calls, tf2_eager.distributed.run, in this
process. MultiWorkerMirroredStrategy's workers are processes too; to keep
the suite's time, its run with these flags is the resumed run of
compat_tests/distribute_test.py's killed cluster, and only its refusal is
here.
"""

import contextlib
import dataclasses
import json
import logging
import os
import subprocess
from typing import Iterator

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import flagfiles
from runtime import local_cluster
from runtime import reporting
from tf2_eager import distributed
from tf2_eager import train as tf2_train

PATHS = ("one_device", "mirrored")
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
    log: str  # what the run logged
    metrics: dict  # its metrics, as the --json file holds them


@contextlib.contextmanager
def _absl_log() -> Iterator[list[str]]:
    """Collects the messages absl.logging logs at INFO and above."""
    messages = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("absl")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _run(path: str, work_dir, steps: int, *, quiet: bool, resume: bool, export_dir: str,
         plots_dir: str = None) -> Result:
    """Trains `path` into work_dir/out: the command on the mirrored path,
    its main's tf2_eager.distributed.run on one device."""
    if path == "one_device":
        config = flagfiles.load(FLAGFILE, steps=steps, eval_at=(0,), checkpoint_every=EVERY,
                                output_dir=str(work_dir / "out"), quiet=quiet, resume=resume,
                                export_dir=export_dir)
        with _absl_log() as messages:
            metrics = distributed.run(config, plots_dir=plots_dir)
        return Result("\n".join(messages), json.loads(json.dumps(reporting.metrics_for_json(metrics))))
    json_path = work_dir / f"{steps}.json"
    flags = [f"--flagfile={flagfiles.path(FLAGFILE)}", "--eval_at=0", f"--steps={steps}",
             f"--checkpoint_every={EVERY}", f"--output_dir={work_dir / 'out'}",
             "--strategy=mirrored", "--num_replicas=2", f"--export_dir={export_dir}",
             f"--json={json_path}", *(["--quiet"] if quiet else []),
             *(["--resume"] if resume else []), *([f"--plots_dir={plots_dir}"] if plots_dir else [])]
    completed = subprocess.run(
        local_cluster.python_module_argv("tf2_eager.train", *flags),
        env=local_cluster.child_environment(), capture_output=True, text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return Result(completed.stderr, json.loads(json_path.read_text()))


@pytest.fixture(scope="module", params=PATHS)
def runs(request, tmp_path_factory):
    """The path's three runs: a first one of FIRST_STEPS steps, the same run
    again without --resume, and with --resume to RESUMED_STEPS."""
    work_dir = tmp_path_factory.mktemp(request.param)
    first = _run(request.param, work_dir, FIRST_STEPS, quiet=True, resume=False,
                 plots_dir=str(work_dir / "plots"), export_dir=str(work_dir / "export_first"))
    files_after_first = sorted(os.listdir(work_dir / "out" / "tf2_eager"))
    config = flagfiles.load(FLAGFILE, steps=RESUMED_STEPS, eval_at=(0,), checkpoint_every=EVERY,
                            output_dir=str(work_dir / "out"))
    with pytest.raises(ValueError) as refused:
        REFUSING_ENTRY_POINTS[request.param](config)
    files_after_refused = sorted(os.listdir(work_dir / "out" / "tf2_eager"))
    resumed = _run(request.param, work_dir, RESUMED_STEPS, quiet=False, resume=True,
                   export_dir=str(work_dir / "export_resumed"))
    return dict(path=request.param, work_dir=work_dir, first=first, refused=str(refused.value),
                resumed=resumed, files=(files_after_first, files_after_refused))


def test_output_dir_holds_checkpoints_run_state_and_summaries(runs):
    files, _ = runs["files"]
    assert f"ckpt-{FIRST_STEPS}.index" in files and f"ckpt-{EVERY}.index" in files
    assert {f"run_state-{EVERY}.json", f"run_state-{FIRST_STEPS}.json"} <= set(files)
    assert any(name.startswith("events.out.tfevents") for name in files)
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
    # Restored, not restarted: Hvass's model starts from zeros, where every
    # batch's loss is ln 10; six steps in, it is far below that.
    assert resumed.metrics["loss_trace"][FIRST_STEPS] < 0.8 * np.log(10)
    assert first.metrics["loss_trace"][0] == pytest.approx(np.log(10))
    if runs["path"] == "one_device":
        # On one device the resumed run is the uninterrupted one exactly.
        # (compat_tests/distribute_test.py judges the replicated runs
        # against one device, with the noise of their summation order.)
        config = flagfiles.load(FLAGFILE, steps=RESUMED_STEPS, eval_at=(0,))
        single = tf2_train.train(config, mnist_data.load_dataset("mnist_embedded"))
        assert resumed.metrics["loss_trace"] == single["loss_trace"]


def test_multi_worker_launcher_refuses_an_existing_run_before_starting_workers(tmp_path):
    (tmp_path / "tf2_eager").mkdir()
    (tmp_path / "tf2_eager" / "checkpoint").write_text("")
    config = flagfiles.load(FLAGFILE, steps=RESUMED_STEPS, eval_at=(0,), output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="already holds a run.*--resume"):
        REFUSING_ENTRY_POINTS["multi_worker"](config)
    assert os.listdir(tmp_path / "tf2_eager") == ["checkpoint"]
