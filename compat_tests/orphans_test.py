"""No process outlives its launcher by more than a few seconds, and the
launcher's temporary directory goes with it.

The fixture starts real launchers, `python -m tf2_eager.train` (two
MultiWorkerMirroredStrategy workers) and `python -m tf1_graph.train` (a
parameter server and a worker), with --strategy=multi_worker on loopback
ports, and a launcher without TensorFlow whose one child ignores SIGTERM
and SIGINT, each once per signal and all at once. As soon as one's worker
0 trains, that launcher gets SIGKILL, SIGTERM or SIGINT. Within
STOP_SECONDS every process it started (the workers, the parameter server,
and the guardian of runtime/local_cluster.py) must be gone and its
temporary directory removed; SIGTERM and SIGINT must end the launcher with
one line, no traceback. The process ids come from the launcher's "Started
NAME: pid N" lines. Whatever happens, the fixture ends every process it
started, by its id."""

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from typing import Iterator, Optional, Sequence

import pytest

from runtime import local_cluster

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A process that gets SIGTERM has the grace period to stop before SIGKILL;
# the bound is twice that, for a loaded machine.
STOP_SECONDS = 2 * local_cluster.STOP_GRACE_SECONDS
# Importing TensorFlow in three or four processes on two busy cores.
START_TIMEOUT_SECONDS = 400
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
# A launcher without TensorFlow: one child that ignores SIGTERM and SIGINT,
# so that only SIGKILL after the grace period ends it.
_STUBBORN_LAUNCHER = """
import sys
from absl import logging
from runtime import local_cluster
logging.set_verbosity(logging.INFO)
child = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
)
try:
    with local_cluster.LocalProcesses(prefix="stubborn_", grace_seconds=1.0) as processes:
        processes.start("worker_0", [sys.executable, "-c", child], local_cluster.child_environment())
        processes.wait(600, grace_seconds=1.0)
except local_cluster.StoppedBySignalError as error:
    sys.exit(f"error: {error}")
"""
# Each launcher, and the signals it gets (one launcher process each).
SIGNALS = {"tf2_multi_worker": (signal.SIGKILL, signal.SIGTERM), "tf1_cluster": (signal.SIGKILL, signal.SIGTERM),
           "stubborn": (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)}
# The children each launcher starts, besides the guardian.
CHILDREN = {"tf2_multi_worker": ("worker_0", "worker_1"), "tf1_cluster": ("ps_0", "worker_0"),
            "stubborn": ("worker_0",)}
# What worker 0 logs once it trains: the TF2 chief's first checkpoint,
# the TF1 worker's first progress line ("SIDE step N/M  loss L  R
# examples/s  ETA S s", at most 5 s in).
_TRAINING = {"tf2_multi_worker": re.compile("Saved checkpoint"),
             "tf1_cluster": re.compile(r" step \d+/\d+ .*examples/s"),
             "stubborn": re.compile("ready")}
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


def launcher_argv(case: str, output_dir: str) -> list[str]:
    if case == "stubborn":
        return [sys.executable, "-c", _STUBBORN_LAUNCHER]
    module, *flags = LAUNCHERS[case]
    return local_cluster.python_module_argv(module, *_RUN_FLAGS, *flags, f"--output_dir={output_dir}")


@contextlib.contextmanager
def launcher_process(argv: list[str], tmp_path) -> Iterator[tuple[subprocess.Popen, str]]:
    """Starts argv, a launcher, with stdout and stderr to a file; on the way
    out kills it and every process it logged starting, and reaps it."""
    launcher_log = str(tmp_path / "launcher.log")
    with open(launcher_log, "wb") as log:
        launcher = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=local_cluster.child_environment(), cwd=REPOSITORY, start_new_session=True,
        )
    try:
        yield launcher, launcher_log
    finally:
        for pid in [launcher.pid, *started_processes(launcher_log)[1].values()]:
            if is_running(pid):
                os.killpg(pid, signal.SIGKILL)
        launcher.wait()


def training_pids(case: str, launcher: subprocess.Popen, launcher_log: str) -> Optional[dict[str, int]]:
    """{name: pid} of every process the launcher started, once every child
    has started and worker 0 is training; None before."""
    assert launcher.poll() is None, f"{case}'s launcher exited early:\n{read(launcher_log)[-3000:]}"
    _, pids, logs = started_processes(launcher_log)
    if set(CHILDREN[case]) <= logs.keys() and _TRAINING[case].search(read(logs["worker_0"])):
        return pids
    return None


@dataclasses.dataclass
class Stopped:
    """What happened after a launcher got its signal."""

    case: str
    launcher: subprocess.Popen
    launcher_log: str
    signal_number: int
    pids: dict[str, int] = dataclasses.field(default_factory=dict)
    directory: str = ""
    signalled_at: Optional[float] = None
    # Seconds from the signal to each process's end, as far as seen.
    seconds_to_end: dict[str, float] = dataclasses.field(default_factory=dict)
    directory_removed: bool = False

    def finished(self) -> bool:
        if self.signalled_at is None:
            return False
        ended = self.launcher.poll() is not None and self.seconds_to_end.keys() == self.pids.keys()
        return ended or time.monotonic() > self.signalled_at + 3 * STOP_SECONDS

    def observe(self) -> None:
        """Signals the launcher once it is training, then notes what ends when."""
        if self.signalled_at is None:
            pids = training_pids(self.case, self.launcher, self.launcher_log)
            if pids is not None:
                self.pids, self.directory = pids, started_processes(self.launcher_log)[0]
                self.launcher.send_signal(self.signal_number)
                self.signalled_at = time.monotonic()
            return
        for name, pid in self.pids.items():
            if name not in self.seconds_to_end and not is_running(pid):
                self.seconds_to_end[name] = time.monotonic() - self.signalled_at
        self.directory_removed = not os.path.exists(self.directory)


def watch_until_finished(runs: Sequence[Stopped]) -> None:
    """Observes every run until each has finished (Stopped.finished)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not all(run.finished() for run in runs):
        assert time.monotonic() < deadline, f"Not every launcher started within {START_TIMEOUT_SECONDS} s"
        for run in runs:
            run.observe()
        time.sleep(POLL_SECONDS)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> dict[tuple[str, str], Stopped]:
    """Every launcher under each of its SIGNALS, all at once (their start,
    TensorFlow's import in every process, is most of the time): each gets
    its signal as soon as it trains, and is watched until it and every
    process it started have ended, or 3 * STOP_SECONDS."""
    with contextlib.ExitStack() as stack:
        runs = {}
        for case, signal_numbers in SIGNALS.items():
            for signal_number in signal_numbers:
                directory = tmp_path_factory.mktemp(f"{case}_{signal_number.name}")
                argv = launcher_argv(case, str(directory / "run"))
                runs[case, signal_number.name] = Stopped(
                    case, *stack.enter_context(launcher_process(argv, directory)), signal_number)
        watch_until_finished(list(runs.values()))
        for key, run in runs.items():
            # The measurement, for the README; -s shows it.
            print(key, {name: round(seconds, 2) for name, seconds in run.seconds_to_end.items()})
        return runs


@pytest.mark.parametrize("case", SIGNALS)
def test_killing_the_launcher_ends_every_child_and_removes_its_directory(case, stopped):
    run = stopped[case, "SIGKILL"]
    assert run.launcher.returncode == -signal.SIGKILL
    assert {"guardian", *CHILDREN[case]} == run.pids.keys()
    assert run.seconds_to_end.keys() == run.pids.keys(), f"still running: {run.pids}"
    assert max(run.seconds_to_end.values()) < STOP_SECONDS
    assert run.directory_removed
    # The guardian, which ended them, says so on the launcher's stderr.
    assert (f"launcher {run.launcher.pid} died; ended its processes and removed {run.directory}"
            in read(run.launcher_log))


@pytest.mark.parametrize("case, signal_name", [
    (case, signal_number.name) for case, signal_numbers in SIGNALS.items()
    for signal_number in signal_numbers if signal_number != signal.SIGKILL])
def test_a_signal_stops_the_launcher_with_one_line_and_ends_every_child(case, signal_name, stopped):
    run = stopped[case, signal_name]
    assert run.launcher.returncode == 1
    assert {"guardian", *CHILDREN[case]} == run.pids.keys()
    assert run.seconds_to_end.keys() == run.pids.keys(), f"still running: {run.pids}"
    # The launcher forwards the signal, waits at most the grace period, kills
    # what is left, and removes the directory before it exits.
    assert max(run.seconds_to_end.values()) < STOP_SECONDS
    assert run.directory_removed
    output = read(run.launcher_log)
    assert "Traceback" not in output
    assert output.rstrip().splitlines()[-1].startswith(
        f"error: Stopped by {signal_name}: sent it on to every process started here "
        f"({', '.join(CHILDREN[case])}), killed those still running after")
