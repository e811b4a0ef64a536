"""No process outlives its launcher by more than a few seconds, and the
launcher's temporary directory goes with it.

Each test starts a real launcher, `python -m tf2_eager.train` (two
MultiWorkerMirroredStrategy workers) or `python -m tf1_graph.train` (a
parameter server and a worker), with --strategy=multi_worker on loopback
ports, waits until a worker has logged a training step, then sends the
launcher SIGKILL or SIGTERM. Within STOP_SECONDS every process the launcher
started (the workers, the parameter server, and the guardian of
mnist_data/local_cluster.py) must be gone and the temporary directory
removed; SIGTERM must end the launcher with one line, no traceback. The
process ids come from the launcher's "Started NAME: pid N" lines. Whatever
happens, each test ends every process it started, by its id.
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from typing import Iterator

import pytest

from mnist_data import local_cluster

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A process that gets SIGTERM has the grace period to stop before SIGKILL;
# the bound is twice that, for a loaded machine.
STOP_SECONDS = 2 * local_cluster.STOP_GRACE_SECONDS
# Importing TensorFlow in three or four processes on two busy cores.
START_TIMEOUT_SECONDS = 300
POLL_SECONDS = 0.05
# Far more steps than the run reaches before the signal.
_RUN_FLAGS = ("--flagfile=flags/hvass_softmax.cfg", "--strategy=multi_worker", "--steps=1000000",
              "--eval_at=0", "--collective_timeout=20")
LAUNCHERS = {
    # The chief checkpoints into --output_dir, the other worker into the
    # launcher's temporary directory, as in the report.
    "tf2_multi_worker": ("tf2_eager.train", "--num_replicas=2", "--checkpoint_every=50"),
    # The TF1 cluster refuses --checkpoint_every; one worker keeps it small.
    "tf1_cluster": ("tf1_graph.train", "--num_replicas=1"),
}
# The children each launcher starts, besides the guardian.
CHILDREN = {"tf2_multi_worker": ("worker_0", "worker_1"), "tf1_cluster": ("ps_0", "worker_0")}
# A progress line: "SIDE step N/M  loss L  R examples/s  ETA S s".
_TRAINING = re.compile(r" step \d+/\d+ .*examples/s")
_STARTED = re.compile(r"Started (\w+): pid (\d+), log (\S+)")
_GUARDIAN = re.compile(r"Guardian of (\S+): pid (\d+)")


def is_running(pid: int) -> bool:
    """Whether process pid exists and is not a zombie (dead, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


def read(path: str) -> str:
    with open(path, "rb") as file:
        return file.read().decode("utf-8", errors="replace")


def started_processes(launcher_log: str) -> tuple[str, dict[str, int], dict[str, str]]:
    """The launcher's temporary directory, {name: pid} of every process it
    started (the guardian included) and {name: log path} of its children."""
    text = read(launcher_log)
    guardian = _GUARDIAN.search(text)
    directory = guardian.group(1) if guardian else ""
    pids = {"guardian": int(guardian.group(2))} if guardian else {}
    logs = {}
    for name, pid, log in _STARTED.findall(text):
        pids[name], logs[name] = int(pid), log
    return directory, pids, logs


@contextlib.contextmanager
def launcher_process(case: str, tmp_path) -> Iterator[tuple[subprocess.Popen, str]]:
    """Starts case's launcher (stdout and stderr to a file); on the way out
    kills it and every process it logged starting, and reaps it."""
    module, *flags = LAUNCHERS[case]
    launcher_log = str(tmp_path / "launcher.log")
    with open(launcher_log, "wb") as log:
        launcher = subprocess.Popen(
            local_cluster.python_module_argv(
                module, *_RUN_FLAGS, *flags, f"--output_dir={tmp_path / 'run'}"),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=local_cluster.child_environment(), cwd=REPOSITORY, start_new_session=True,
        )
    try:
        yield launcher, launcher_log
    finally:
        for pid in [launcher.pid, *started_processes(launcher_log)[1].values()]:
            if is_running(pid):
                os.killpg(pid, signal.SIGKILL)
        launcher.wait()


def wait_until_training(case: str, launcher: subprocess.Popen, launcher_log: str) -> dict[str, int]:
    """Waits until every child has started and worker 0 has logged a
    training step; returns {name: pid} of every process the launcher started."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert launcher.poll() is None, f"The launcher exited early:\n{read(launcher_log)[-3000:]}"
        _, pids, logs = started_processes(launcher_log)
        if set(CHILDREN[case]) <= logs.keys() and _TRAINING.search(read(logs["worker_0"])):
            return pids
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"No training step within {START_TIMEOUT_SECONDS} s:\n{read(launcher_log)[-3000:]}")


def survivors_after(pids: dict[str, int], seconds: float) -> dict[str, int]:
    """Waits up to `seconds` for every process to end; returns those still running."""
    deadline = time.monotonic() + seconds
    running = dict(pids)
    while running and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        running = {name: pid for name, pid in running.items() if is_running(pid)}
    return running


@pytest.mark.parametrize("case", LAUNCHERS)
def test_killing_the_launcher_ends_every_child_and_removes_its_directory(case, tmp_path):
    with launcher_process(case, tmp_path) as (launcher, launcher_log):
        pids = wait_until_training(case, launcher, launcher_log)
        directory = started_processes(launcher_log)[0]
        assert os.path.isdir(directory)
        launcher.send_signal(signal.SIGKILL)
        assert launcher.wait(STOP_SECONDS) == -signal.SIGKILL
        assert survivors_after(pids, STOP_SECONDS) == {}
        assert not os.path.exists(directory)
        # The guardian, which ended them, says so on the launcher's stderr.
        assert f"launcher {launcher.pid} died; ended its processes and removed {directory}" in read(launcher_log)


@pytest.mark.parametrize("case", LAUNCHERS)
def test_sigterm_stops_the_launcher_with_one_line_and_ends_every_child(case, tmp_path):
    with launcher_process(case, tmp_path) as (launcher, launcher_log):
        pids = wait_until_training(case, launcher, launcher_log)
        directory = started_processes(launcher_log)[0]
        launcher.send_signal(signal.SIGTERM)
        # The launcher forwards SIGTERM, waits at most the grace period, kills
        # what is left and exits; its own exit (TensorFlow's teardown) may
        # take a few seconds more.
        assert launcher.wait(2 * STOP_SECONDS) == 1
        assert survivors_after(pids, STOP_SECONDS) == {}
        assert not os.path.exists(directory)
        output = read(launcher_log)
        assert "Traceback" not in output
        assert output.rstrip().splitlines()[-1].startswith(
            f"error: Stopped by SIGTERM: sent it on to the {len(CHILDREN[case])} processes started here")
