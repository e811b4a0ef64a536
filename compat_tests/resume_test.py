"""Runs that lose nothing: a training process killed with SIGKILL part-way
and resumed with --resume ends bit-identical to an uninterrupted run, and an
existing output directory is never overwritten silently."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import flagfiles
from runtime import run_directory
from tf1_graph import train as tf1_train
from tf2_eager import train as tf2_train

REPOSITORY = os.path.dirname(flagfiles.FLAGFILE_DIR)
SIDES = {"tf1_graph": tf1_train, "tf2_eager": tf2_train}
# The codelab's 3.0 convnet with Adam and a decaying learning rate: the run
# carries optimizer slots, Adam's power accumulators and a step-dependent
# rate, each of which a resume must bring back. At ~20 ms a step it runs
# long enough after its first checkpoint to be killed part-way.
STEPS, EVERY = 80, 20
ARGUMENTS = [
    f"--flagfile={flagfiles.path('codelab_3_0_convolutional')}",
    "--learning_rate_decay=exponential", "--learning_rate=0.003",
    f"--steps={STEPS}", "--eval_at=0,30", f"--checkpoint_every={EVERY}", "--quiet",
]
TIMEOUT_SECONDS = 300


def _train_command(side: str, output_dir, *extra: str) -> list[str]:
    return [sys.executable, "-m", f"{side}.train", *ARGUMENTS,
            f"--output_dir={output_dir}", *extra]


def _checkpoint_values(side_dir) -> dict[str, np.ndarray]:
    """Every tensor of the directory's latest checkpoint, by key."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(side_dir)))
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


def _kill_after_first_checkpoint(command: list[str], side_dir) -> int:
    """Starts the run and SIGKILLs it as soon as its first checkpoint is
    complete; returns the step of the last complete checkpoint."""
    process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while tf.train.latest_checkpoint(str(side_dir)) is None:
            if process.poll() is not None:
                pytest.fail(f"The run exited with {process.returncode} before its first checkpoint.")
            if time.monotonic() > deadline:
                pytest.fail("No checkpoint within the time limit.")
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
    return run_directory.checkpoint_step(tf.train.latest_checkpoint(str(side_dir)))


@pytest.mark.parametrize("side", SIDES)
def test_a_killed_run_resumes_to_the_uninterrupted_result(side, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    completed = subprocess.run(
        _train_command(side, whole, f"--json={tmp_path / 'whole.json'}"),
        cwd=REPOSITORY, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert completed.returncode == 0, completed.stderr[-3000:]

    killed_at = _kill_after_first_checkpoint(_train_command(side, killed), killed / side)
    # It really was killed part-way: no final checkpoint yet.
    assert EVERY <= killed_at < STEPS, killed_at
    resumed = subprocess.run(
        _train_command(side, killed, "--resume", f"--json={tmp_path / 'resumed.json'}"),
        cwd=REPOSITORY, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumes from" in resumed.stderr and f"step {killed_at}" in resumed.stderr

    # Every variable of the final checkpoints, optimizer slots and step
    # counters included, is bit-identical; so are the recorded traces.
    expected, actual = _checkpoint_values(whole / side), _checkpoint_values(killed / side)
    assert set(expected) == set(actual)
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=key)
    whole_metrics = json.loads((tmp_path / "whole.json").read_text())
    resumed_metrics = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed_metrics["loss_trace"] == whole_metrics["loss_trace"]
    assert len(resumed_metrics["loss_trace"]) == STEPS
    assert resumed_metrics["accuracy_trace"] == whole_metrics["accuracy_trace"]


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


@pytest.mark.parametrize("side", SIDES)
def test_an_existing_run_is_refused_kept_or_replaced_never_silently_lost(side, embedded, tmp_path):
    config = flagfiles.load("hvass_softmax", steps=10, eval_at=(), output_dir=str(tmp_path))
    first = SIDES[side].train(config, embedded)
    files_before = sorted(os.listdir(tmp_path / side))
    with pytest.raises(ValueError, match="already holds a run.*--resume.*--overwrite"):
        SIDES[side].train(config, embedded)
    assert sorted(os.listdir(tmp_path / side)) == files_before
    # --resume of a finished run changes nothing and reports the same run.
    resumed = SIDES[side].train(dataclasses.replace(config, resume=True), embedded)
    assert resumed["loss_trace"] == first["loss_trace"]
    assert resumed["checkpoint"] == first["checkpoint"]
    # --overwrite starts again: the old files are gone, a fresh run is there.
    marker = tmp_path / side / "left_by_the_old_run"
    marker.write_text("")
    replaced = SIDES[side].train(dataclasses.replace(config, overwrite=True), embedded)
    assert not marker.exists()
    assert replaced["loss_trace"] == first["loss_trace"]


@pytest.mark.parametrize(
    "overrides, message",
    [({"resume": True, "overwrite": True}, "pass one of the two"),
     ({"resume": True, "output_dir": None}, "pass --output_dir=DIR"),
     ({"resume": True, "rng": "tensorflow"}, "only with --rng=numpy"),
     ({"checkpoint_every": -1}, "checkpoint_every must be >= 0")],
)
def test_contradictory_run_flags_are_refused(overrides, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        flagfiles.load("hvass_softmax", **{"output_dir": str(tmp_path), **overrides})


def test_resume_refuses_a_checkpoint_without_its_run_state(embedded, tmp_path):
    config = flagfiles.load("hvass_softmax", steps=10, eval_at=(), output_dir=str(tmp_path))
    tf1_train.train(config, embedded)
    os.remove(tmp_path / "tf1_graph" / "run_state-10.json")
    with pytest.raises(ValueError, match="run state of step 10.*--overwrite"):
        tf1_train.train(dataclasses.replace(config, resume=True), embedded)


CHECKPOINT_PREFIX = {"tf1_graph": "model.ckpt", "tf2_eager": "ckpt"}


@pytest.mark.parametrize("side", SIDES)
def test_a_half_written_checkpoint_is_never_restored(side, embedded, tmp_path):
    # A crash while checkpoint 30 is written leaves its files but not the
    # state file that names it; resuming restores 20 and redoes the rest.
    config = flagfiles.load("codelab_softmax", steps=20, eval_at=(), checkpoint_every=10,
                            output_dir=str(tmp_path / "run"))
    SIDES[side].train(config, embedded)
    prefix = tmp_path / "run" / side / f"{CHECKPOINT_PREFIX[side]}-30"
    for suffix in (".index", ".data-00000-of-00001"):
        (tmp_path / "run" / side / f"{prefix.name}{suffix}").write_bytes(b"\x00half-written")
    longer = dataclasses.replace(config, steps=30)
    resumed = SIDES[side].train(dataclasses.replace(longer, resume=True), embedded)
    whole = SIDES[side].train(dataclasses.replace(longer, output_dir=str(tmp_path / "whole")),
                              embedded)
    assert resumed["loss_trace"] == whole["loss_trace"]
    for name, value in whole["weights"].items():
        np.testing.assert_array_equal(resumed["weights"][name], value)


@pytest.mark.parametrize("side", SIDES)
def test_resume_names_a_checkpoint_whose_files_are_missing(side, embedded, tmp_path):
    config = flagfiles.load("hvass_softmax", steps=10, eval_at=(), output_dir=str(tmp_path))
    SIDES[side].train(config, embedded)
    for name in os.listdir(tmp_path / side):
        if name.startswith(f"{CHECKPOINT_PREFIX[side]}-10."):
            os.remove(tmp_path / side / name)
    with pytest.raises(ValueError, match="names .*-10, whose files are missing.*--overwrite"):
        SIDES[side].train(dataclasses.replace(config, resume=True), embedded)
