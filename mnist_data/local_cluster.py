"""Local worker processes on loopback, shared by both sides' cluster launchers.

tf1_graph/cluster.py (a parameter server and workers) and
tf2_eager/distributed.py (MultiWorkerMirroredStrategy workers) both start
Python children that bind 127.0.0.1 ports, wait for them with a deadline,
and must never leave one behind. This module does that part without
importing TensorFlow, and moves each child's metrics back to the parent.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Mapping, Sequence

import numpy as np

LOOPBACK = "127.0.0.1"

# How often the parent looks at its children while it waits.
_POLL_SECONDS = 0.1
# The last characters of a failed child's log that an error message quotes.
_LOG_TAIL_CHARS = 2000


class WorkerFailedError(RuntimeError):
    """A child process exited with an error, or did not finish in time."""


def free_loopback_ports(count: int) -> list[int]:
    """Returns `count` distinct TCP ports on 127.0.0.1 that were free just now.

    The sockets are all held open until every port is chosen, so the ports
    differ; they are closed before returning, so another program could take
    one before a child binds it. The child then fails at startup with the
    port-in-use error of check_port_free, never by hanging.
    """
    sockets = []
    try:
        for _ in range(count):
            held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(held)
            held.bind((LOOPBACK, 0))
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


def check_port_free(address: str, role: str) -> None:
    """Raises ValueError if `address` ("host:port") cannot be bound now.

    TensorFlow's gRPC server reports a taken port deep in its startup (or
    aborts the process), so each process checks its own address first.

    Args:
      address: The "host:port" this process is about to serve on.
      role: Who serves there, for the message ("worker 1").
    """
    host, _, port = address.rpartition(":")
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((host, int(port)))
    except OSError as error:
        raise ValueError(
            f"Port {address} of {role} is in use ({error.strerror}); stop the "
            "process holding it, or give this task another port in the cluster "
            "spec (TF_CONFIG)."
        ) from error
    finally:
        probe.close()


@dataclasses.dataclass
class _Child:
    name: str
    process: subprocess.Popen
    log_path: str


class LocalProcesses:
    """Child processes, each in its own process group, all reaped on exit.

    Use it as a context manager: leaving the block, normally or by an
    exception, kills every child still running (its whole process group, so
    threads and grandchildren go too) and waits for it, so no zombie and no
    orphan outlives the launcher. Each child's stdout and stderr go to its own
    log file, which error messages quote.
    """

    def __init__(self, log_dir: str):
        self._log_dir = log_dir
        self._children: dict[str, _Child] = {}

    def __enter__(self) -> "LocalProcesses":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.kill_all()

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> int:
        """Starts `argv` as child `name`; returns its process id."""
        log_path = os.path.join(self._log_dir, f"{name}.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                # A new session makes the child the leader of its own process
                # group, which kill_all can end without touching the launcher.
                start_new_session=True,
            )
        self._children[name] = _Child(name, process, log_path)
        return process.pid

    def pid(self, name: str) -> int:
        """The process id of child `name`."""
        return self._children[name].process.pid

    def log(self, name: str) -> str:
        """Everything child `name` has written so far."""
        with open(self._children[name].log_path, "rb") as log:
            return log.read().decode("utf-8", errors="replace")

    def wait_for_log(self, name: str, text: str, timeout_seconds: float) -> None:
        """Waits until child `name` has logged `text`.

        Raises:
          WorkerFailedError: If the child exits first or the time runs out.
        """
        deadline = time.monotonic() + timeout_seconds
        while text not in self.log(name):
            if self._children[name].process.poll() is not None:
                raise WorkerFailedError(
                    f"{name} exited before logging {text!r}:\n{self._tail(name)}"
                )
            if time.monotonic() > deadline:
                raise WorkerFailedError(
                    f"{name} did not log {text!r} within {timeout_seconds} s:\n"
                    f"{self._tail(name)}"
                )
            time.sleep(_POLL_SECONDS)

    def wait(self, timeout_seconds: float, grace_seconds: float) -> dict[str, int]:
        """Waits for every child to exit; returns {name: exit code}.

        Once a child has failed, the others get `grace_seconds` more to stop
        on their own (they should, with an error of their own, because their
        collective operations time out), then are killed.

        Raises:
          WorkerFailedError: If a child exited non-zero or had to be killed;
            the message gives every child's exit code and the failed ones'
            last log lines.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            codes = {name: child.process.poll() for name, child in self._children.items()}
            if all(code is not None for code in codes.values()):
                break
            if any(code not in (None, 0) for code in codes.values()):
                deadline = min(deadline, time.monotonic() + grace_seconds)
                grace_seconds = float("inf")  # The grace period starts once.
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL_SECONDS)
        still_running = [name for name, code in codes.items() if code is None]
        self.kill_all()
        codes = {name: child.process.returncode for name, child in self._children.items()}
        failed = [name for name, code in codes.items() if code != 0]
        if failed:
            details = "\n".join(
                f"--- {name} (exit code {codes[name]}"
                f"{', killed after the deadline' if name in still_running else ''}):\n"
                f"{self._tail(name)}"
                for name in failed
            )
            raise WorkerFailedError(
                f"{len(failed)} of {len(codes)} processes failed ({', '.join(failed)}); "
                f"exit codes {codes}.\n{details}"
            )
        return codes

    def kill_all(self) -> None:
        """Kills every child still running, with its process group, and reaps it."""
        for child in self._children.values():
            if child.process.poll() is None:
                try:
                    os.killpg(child.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # It exited between poll() and killpg().
            child.process.wait()

    def _tail(self, name: str) -> str:
        return self.log(name)[-_LOG_TAIL_CHARS:]


def python_module_argv(module: str, *arguments: str) -> list[str]:
    """The command that runs `python -m module arguments` with this interpreter."""
    return [sys.executable, "-m", module, *arguments]


def child_environment(**variables: str) -> dict[str, str]:
    """This process's environment plus `variables`, with the repository on the
    path so that `python -m` finds the project's packages from any directory."""
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        path for path in (repository, env.get("PYTHONPATH")) if path
    )
    env.update(variables)
    return env


def save_metrics(path: str, metrics: Mapping[str, Any]) -> None:
    """Writes a train() result, weights included, to one .npz file atomically.

    The arrays are stored under "weights/NAME" and "test_predictions",
    everything else as one JSON string, so a launcher reads back exactly
    what the child returned.
    """
    payload = {f"weights/{name}": value for name, value in metrics["weights"].items()}
    if metrics.get("test_predictions") is not None:
        payload["test_predictions"] = np.asarray(metrics["test_predictions"])
    scalars = {key: value for key, value in metrics.items() if key not in ("weights", "test_predictions")}
    scalars["accuracy_trace"] = {str(k): v for k, v in metrics["accuracy_trace"].items()}
    payload["metrics_json"] = np.array(json.dumps(scalars))
    directory = os.path.dirname(os.path.abspath(path))
    file_descriptor, temporary_path = tempfile.mkstemp(dir=directory, suffix=".npz")
    try:
        with os.fdopen(file_descriptor, "wb") as file:
            np.savez(file, **payload)
        os.replace(temporary_path, path)
    except BaseException:
        os.unlink(temporary_path)
        raise


def load_metrics(path: str) -> dict[str, Any]:
    """Reads what save_metrics wrote; accuracy_trace keys are ints again."""
    with np.load(path) as archive:
        metrics = json.loads(str(archive["metrics_json"]))
        metrics["test_predictions"] = (
            archive["test_predictions"] if "test_predictions" in archive.files else None
        )
        metrics["weights"] = {
            key.split("/", 1)[1]: archive[key] for key in archive.files if key.startswith("weights/")
        }
    metrics["accuracy_trace"] = {int(k): v for k, v in metrics["accuracy_trace"].items()}
    return metrics
