"""The run directory under the faults a user will hit (issue 21): a second
process on a locked directory, a copied run, changed settings, damaged
state, signals, diverged weights, disk growth and a remote filesystem.

Every training here is Hvass' softmax regression on the embedded digits
for a few dozen steps, so each case costs about a second; the two signal
tests start one training process each."""

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import flagfiles
from mnist_data import checks
from runtime import run_directory
from tf1_graph import train as tf1_train
from tf2_eager import train as tf2_train

REPOSITORY = os.path.dirname(flagfiles.FLAGFILE_DIR)
SIDES = {"tf1_graph": tf1_train, "tf2_eager": tf2_train}
TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


def _config(output_dir, **overrides):
    arguments = {"steps": 10, "eval_at": (), "quiet": True, "output_dir": str(output_dir), **overrides}
    return flagfiles.load("hvass_softmax", **arguments)


def _allowing_changes(config):
    """config with allow_changed_settings set, the attribute
    run_directory reads until TrainConfig has the field."""
    object.__setattr__(config, "allow_changed_settings", True)
    return config


def _assert_same_run(actual, expected):
    assert actual["loss_trace"] == expected["loss_trace"]
    for name, value in expected["weights"].items():
        np.testing.assert_array_equal(actual["weights"][name], value, err_msg=name)


def _snapshot(directory) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes()
            for name in sorted(os.listdir(directory)) if (directory / name).is_file()}


def test_a_held_directory_is_refused_naming_the_holder(embedded, tmp_path):
    with run_directory.open_run(str(tmp_path), "tf2_eager", False, False) as side_dir:
        # flock conflicts between two open files even in one process.
        for overrides in ({}, {"overwrite": True}, {"resume": True}):
            with pytest.raises(ValueError, match=f"in use by another run \\(pid {os.getpid()} on "):
                tf2_train.train(_config(tmp_path, **overrides), embedded)
        assert os.listdir(side_dir) == [run_directory.LOCK_FILE]
    assert tf2_train.train(_config(tmp_path), embedded)["checkpoint"]


def test_a_lock_held_by_another_process_blocks_until_that_process_dies(embedded, tmp_path):
    # The holder takes the lock as open_run does, without importing
    # TensorFlow, so it starts in a fraction of a second.
    lock_path = tmp_path / "tf1_graph" / run_directory.LOCK_FILE
    lock_path.parent.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, time\n"
         f"descriptor = os.open({str(lock_path)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(descriptor, fcntl.LOCK_EX)\n"
         "os.write(descriptor, f'pid {os.getpid()} on a test'.encode())\n"
         "print('held', flush=True)\n"
         "time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=f"in use by another run \\(pid {holder.pid} on a test\\)"):
            tf1_train.train(_config(tmp_path, overwrite=True), embedded)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=TIMEOUT_SECONDS)
    # The kernel released the dead holder's lock: the next run proceeds.
    assert tf1_train.train(_config(tmp_path), embedded)["checkpoint"]


@pytest.mark.parametrize("side", SIDES)
def test_overwrite_starts_over_and_a_moved_run_resumes_from_its_own_files(side, embedded, tmp_path):
    train = SIDES[side].train
    train(_config(tmp_path / "old", seed=3, checkpoint_every=5), embedded)
    replaced = train(_config(tmp_path / "old", steps=20, overwrite=True), embedded)
    _assert_same_run(replaced, train(_config(tmp_path / "fresh", steps=20), embedded))

    train(_config(tmp_path / "original"), embedded)
    shutil.move(tmp_path / "original", tmp_path / "moved")
    resumed = train(_config(tmp_path / "moved", steps=20, resume=True), embedded)
    assert resumed["checkpoint"] == str(tmp_path / "moved" / side / os.path.basename(resumed["checkpoint"]))
    _assert_same_run(resumed, replaced)


def test_a_changed_setting_is_refused_then_applied_alike_on_both_sides(embedded, tmp_path):
    resumed = {}
    for side, module in SIDES.items():
        module.train(_config(tmp_path), embedded)
        with pytest.raises(ValueError, match=r"learning_rate 0\.5 -> 0\.05, seed 0 -> 4;.*"
                                             r"--allow_changed_settings"):
            module.train(_config(tmp_path, steps=20, resume=True, learning_rate=0.05, seed=4),
                         embedded)
        with pytest.raises(ValueError, match="--steps=5 is below step 10"):
            module.train(_config(tmp_path, steps=5, resume=True), embedded)
        resumed[side] = module.train(
            _allowing_changes(_config(tmp_path, steps=20, resume=True, learning_rate=0.05)), embedded)
    unchanged = tf1_train.train(_config(tmp_path / "unchanged", steps=20), embedded)
    assert resumed["tf1_graph"]["loss_trace"][11:] != unchanged["loss_trace"][11:]
    np.testing.assert_allclose(resumed["tf2_eager"]["loss_trace"], resumed["tf1_graph"]["loss_trace"],
                               rtol=1e-5)


GARBLED = {
    "checkpoint state": ("checkpoint", b"model_checkpoint_path: \"ckpt-1\x00\xff{"),
    "truncated checkpoint state": ("checkpoint", b"model_checkpoint_path: \"mod"),
    "run state": ("run_state-10.json", b"{\"step\": 10, \"loss_tr"),
    "settings": ("settings.json", b"\xff\xfe garbled"),
}


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("damage", [*GARBLED, "checkpoint data"])
def test_damaged_state_is_named_and_nothing_is_deleted(side, damage, embedded, tmp_path):
    SIDES[side].train(_config(tmp_path), embedded)
    side_dir = tmp_path / side
    if damage == "checkpoint data":
        (name,) = [name for name in os.listdir(side_dir) if ".data-" in name]
        content = bytes(len((side_dir / name).read_bytes()))
    else:
        name, content = GARBLED[damage]
    (side_dir / name).write_bytes(content)
    before = _snapshot(side_dir)
    with pytest.raises(ValueError, match=f"{re.escape(name.split('.data')[0])}.* is damaged.*--overwrite"):
        SIDES[side].train(_config(tmp_path, steps=20, resume=True), embedded)
    assert _snapshot(side_dir) == before


STEPS, EVERY = 200, 20


def _wait_for_first_checkpoint(side_dir, running) -> None:
    """Waits until side_dir holds a run state: then the loop, and its
    signal handlers, run."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not list(side_dir.glob("run_state-*.json")) and running():
        assert time.monotonic() < deadline, "No checkpoint within the time limit."
        time.sleep(0.02)


def _assert_resumes_to_the_uninterrupted_run(side, embedded, tmp_path) -> int:
    """Resumes the interrupted run in tmp_path; returns the step it stopped at."""
    stopped_at = run_directory.checkpoint_step(tf.train.latest_checkpoint(str(tmp_path / side)))
    assert EVERY <= stopped_at < STEPS
    config = _config(tmp_path, steps=STEPS, checkpoint_every=EVERY)
    resumed = SIDES[side].train(dataclasses.replace(config, resume=True), embedded)
    whole = SIDES[side].train(dataclasses.replace(config, output_dir=str(tmp_path / "whole")),
                              embedded)
    _assert_same_run(resumed, whole)
    return stopped_at


def test_ctrl_c_of_the_command_saves_the_step_and_names_the_resume_command(embedded, tmp_path):
    arguments = [f"--flagfile={flagfiles.path('hvass_softmax')}", f"--steps={STEPS}", "--eval_at=",
                 "--quiet", f"--output_dir={tmp_path}", f"--checkpoint_every={EVERY}"]
    process = subprocess.Popen([sys.executable, "-m", "tf1_graph.train", *arguments], cwd=REPOSITORY,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        _wait_for_first_checkpoint(tmp_path / "tf1_graph", lambda: process.poll() is None)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=TIMEOUT_SECONDS)
    last_line = stderr.strip().splitlines()[-1]
    assert process.returncode == 1, stderr[-3000:]
    assert last_line.startswith("tf1_graph stopped by SIGINT after step ")
    assert last_line.endswith(f"python -m tf1_graph.train {' '.join(arguments)} --resume")
    stopped_at = _assert_resumes_to_the_uninterrupted_run("tf1_graph", embedded, tmp_path)
    assert f"after step {stopped_at}, saved in " in last_line


@pytest.mark.parametrize("side", SIDES)
def test_sigterm_saves_the_step_and_the_resumed_run_ends_as_an_uninterrupted_one(
        side, embedded, tmp_path):
    # A real SIGTERM to this process, sent from a thread once the loop runs;
    # the handler runs in the main thread, which trains.
    trained = threading.Event()

    def send_sigterm() -> None:
        _wait_for_first_checkpoint(tmp_path / side, lambda: not trained.is_set())
        if not trained.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=send_sigterm)
    sender.start()
    try:
        with pytest.raises(run_directory.InterruptedRun, match=f"{side} stopped by SIGTERM"):
            SIDES[side].train(_config(tmp_path, steps=STEPS, checkpoint_every=EVERY), embedded)
    finally:
        trained.set()
        sender.join(timeout=TIMEOUT_SECONDS)
    _assert_resumes_to_the_uninterrupted_run(side, embedded, tmp_path)


@pytest.mark.parametrize("side", SIDES)
def test_weights_that_the_last_update_made_nonfinite_are_not_saved(side, embedded, tmp_path):
    with pytest.raises(checks.NonFiniteLossError, match="weights .* NaN or infinite .* step 0"):
        SIDES[side].train(_config(tmp_path, steps=1, learning_rate=1e39), embedded)
    assert tf.train.latest_checkpoint(str(tmp_path / side)) is None


@pytest.mark.parametrize("side", SIDES)
def test_run_states_are_pruned_with_their_checkpoints_and_temporaries_removed(
        side, embedded, tmp_path):
    config = _config(tmp_path, steps=30, checkpoint_every=5)
    SIDES[side].train(config, embedded)
    side_dir = tmp_path / side
    kept = [run_directory.checkpoint_step(path) for path in run_directory.kept_checkpoints(str(side_dir))]
    assert kept == [20, 25, 30]
    assert sorted(p.name for p in side_dir.glob("run_state-*")) == [
        f"run_state-{step}.json" for step in kept]
    leftovers = [".tmp-abc.json", "run_state-35.json.tmp", "checkpoint.tmp0a1b"]
    for name in leftovers:
        (side_dir / name).write_text("interrupted")
    (side_dir / "ckpt-35_temp").mkdir()
    SIDES[side].train(dataclasses.replace(config, steps=40, resume=True), embedded)
    assert not set(os.listdir(side_dir)) & {*leftovers, "ckpt-35_temp"}
    assert len(list(side_dir.glob("run_state-*"))) == 3


@pytest.mark.parametrize("side", SIDES)
def test_a_run_under_ram_filesystem_resumes_and_writes_nothing_locally(
        side, embedded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output_dir = f"ram://run_directory_test/{side}"
    SIDES[side].train(_config(output_dir, checkpoint_every=5), embedded)
    resumed = SIDES[side].train(_config(output_dir, steps=20, resume=True), embedded)
    _assert_same_run(resumed, SIDES[side].train(_config(tmp_path / "local", steps=20), embedded))
    assert resumed["checkpoint"].startswith(f"{output_dir}/{side}/")
    assert tf.io.gfile.exists(f"{output_dir}/{side}/{run_directory.SETTINGS_FILE}")
    assert os.listdir(tmp_path) == ["local"]
    with pytest.raises(ValueError, match="already holds a run"):
        SIDES[side].train(_config(output_dir), embedded)
