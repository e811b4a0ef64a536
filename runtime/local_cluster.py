"""Local worker processes on loopback, shared by both sides' cluster launchers.

tf1_graph/cluster.py (a parameter server and workers) and
tf2_eager/distributed.py (MultiWorkerMirroredStrategy workers) both start
Python children that bind 127.0.0.1 ports, wait for them with a deadline,
and must never leave one behind, nor their temporary directory, whether the
launcher finishes, fails, is stopped by SIGTERM or Ctrl-C, or is killed.
This module does that part without importing TensorFlow, and moves each
child's metrics back to the parent. runtime/guardian.py is the process
that ends the children when the launcher is killed.
"""

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Mapping, Optional, Sequence

from absl import logging
import numpy as np

from runtime import guardian
from runtime import errors

LOOPBACK = "127.0.0.1"

# How often the parent looks at its children while it waits.
_POLL_SECONDS = 0.1
# The last characters of a failed child's log that an error message quotes.
_LOG_TAIL_CHARS = 2000
# How long children get to stop after their launcher forwards SIGTERM or
# SIGINT, or their guardian sends SIGTERM, before SIGKILL.
STOP_GRACE_SECONDS = 5.0
# The signals a launcher forwards to its children.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
        raise errors.FixableError(
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


class StoppedBySignalError(WorkerFailedError):
    """The launcher got SIGTERM or SIGINT (Ctrl-C) and ended its children."""


class LocalProcesses:
    """Child processes in a temporary directory, all ended and reaped on exit.

    Use it as a context manager. Each child runs in its own session (so a
    Ctrl-C in the terminal reaches the launcher alone), with its stdout and
    stderr in a log file of `directory`, which error messages quote, and
    with `directory` as its TMPDIR, so that its own temporary files go
    there too. Leaving the block ends every child still running (its whole
    process group, so threads and grandchildren go too), reaps it and
    removes the directory:
      - normally, or by an error, at once with SIGKILL;
      - by SIGTERM or SIGINT, which the block turns into StoppedBySignalError:
        the signal goes on to every child, which gets `grace_seconds` to
        stop by itself before SIGKILL.
    If the launcher itself is killed (SIGKILL leaves it no say), a guardian
    process ends the children and removes the directory. The guardian
    learns that the launcher is gone from the end of a pipe that only the
    launcher holds open: the kernel closes it on any death, SIGKILL
    included, on any POSIX system, and a separate process can end a child
    stuck in C++ code and remove the directory once the children are gone,
    which neither a dead launcher nor a watchdog thread in a dying child
    can do. prctl(PR_SET_PDEATHSIG) would be Linux only, fire when the
    thread that started the child ends rather than the process, and need a
    preexec_fn, which Python warns may deadlock in a process with threads
    (TensorFlow's).
    """

    def __init__(self, prefix: str, grace_seconds: float = STOP_GRACE_SECONDS):
        """Nothing starts before __enter__, which makes the directory and the guardian.

        Args:
          prefix: The start of the temporary directory's name.
          grace_seconds: How long children get to stop after a forwarded
            signal, or the guardian's SIGTERM, before SIGKILL.
        """
        self._prefix = prefix
        self._grace_seconds = grace_seconds
        self._children: dict[str, _Child] = {}
        self._signal_received: Optional[int] = None
        # While True, a signal is recorded but raises no exception (see start).
        self._defer_signals = False
        self._previous_handlers: dict[int, Any] = {}
        self.directory = ""

    def __enter__(self) -> "LocalProcesses":
        """Makes the temporary directory and the guardian; takes SIGTERM and SIGINT."""
        self.directory = tempfile.mkdtemp(prefix=self._prefix)
        read_end, self._guardian_pipe = os.pipe()
        try:
            self._guardian_process = subprocess.Popen(
                guardian.command(self.directory, self._grace_seconds),
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                # Its own session: a Ctrl-C or a signal to the launcher's
                # process group does not end the guardian with the launcher.
                start_new_session=True,
            )
        except BaseException:
            os.close(self._guardian_pipe)
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        finally:
            os.close(read_end)
        logging.info("Guardian of %s: pid %d", self.directory, self._guardian_process.pid)
        # Python lets only the main thread install signal handlers; a
        # launcher in another thread leaves them to the program.
        if threading.current_thread() is threading.main_thread():
            for signal_number in _STOP_SIGNALS:
                self._previous_handlers[signal_number] = signal.signal(signal_number, self._on_signal)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        # A signal now cannot cut the clean-up short; it ends the children anyway.
        self._defer_signals = True
        try:
            if self._signal_received is not None:
                self._forward_and_wait(self._signal_received)
            self.kill_all()
            shutil.rmtree(self.directory, ignore_errors=True)
        finally:
            for signal_number, handler in self._previous_handlers.items():
                signal.signal(signal_number, handler)
            # Every child is reaped: the guardian finds none to end, and exits.
            os.close(self._guardian_pipe)
            try:
                self._guardian_process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._guardian_process.kill()
                self._guardian_process.wait()

    def _on_signal(self, signal_number: int, frame: Any) -> None:
        del frame  # The handler's signature; where the signal came is no matter.
        if self._signal_received is not None:
            return  # A second signal: the first is being handled, within a bounded time.
        self._signal_received = signal_number
        if not self._defer_signals:
            raise self._interrupted_error()

    def _interrupted_error(self) -> StoppedBySignalError:
        name = signal.Signals(self._signal_received).name
        return StoppedBySignalError(
            f"Stopped by {name}: sent it on to every process started here "
            f"({', '.join(self._children) or 'none yet'}), killed those still running "
            f"after {self._grace_seconds:g} s, and removed {self.directory}. Rerun to start "
            "again; with --output_dir and --resume a run continues from its last checkpoint."
        )

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> int:
        """Starts `argv` as child `name`; returns its process id."""
        log_path = os.path.join(self.directory, f"{name}.log")
        # A signal now is held until the child is registered, so that none
        # is started but left out of the ones to end.
        self._defer_signals = True
        try:
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**env, "TMPDIR": self.directory},
                    # A new session makes the child the leader of its own
                    # process group, which can be ended without the launcher.
                    start_new_session=True,
                )
            self._children[name] = _Child(name, process, log_path)
            self._tell_guardian(f"+{process.pid}")
        finally:
            self._defer_signals = False
        logging.info("Started %s: pid %d, log %s", name, process.pid, log_path)
        if self._signal_received is not None:
            raise self._interrupted_error()
        return process.pid

    def _tell_guardian(self, message: str) -> None:
        try:
            os.write(self._guardian_pipe, f"{message}\n".encode())
        except BrokenPipeError:
            # The guardian is gone (someone killed it); the launcher still
            # ends its children itself on every way out it has a say in.
            logging.warning("The guardian of %s has exited; %s not passed on.", self.directory, message)

    def _exit_code(self, child: _Child) -> Optional[int]:
        """The child's exit code, None while it runs. The first time a child
        is seen to have exited (and so reaped, freeing its process id for
        another program), the guardian is told to leave that id alone."""
        known = child.process.returncode is not None
        code = child.process.poll()
        if code is not None and not known:
            self._tell_guardian(f"-{child.process.pid}")
        return code

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
            if self._exit_code(self._children[name]) is not None:
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
          StoppedBySignalError: On SIGTERM or SIGINT.
        """
        deadline = time.monotonic() + timeout_seconds
        while True:
            codes = self._exit_codes()
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
        codes = self._exit_codes()
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

    def _exit_codes(self) -> dict[str, Optional[int]]:
        return {name: self._exit_code(child) for name, child in self._children.items()}

    def _forward_and_wait(self, signal_number: int) -> None:
        """Sends signal_number to every running child's process group and
        waits up to the grace period for them all to exit."""
        for child in self._children.values():
            if self._exit_code(child) is None:
                guardian.signal_group(child.process.pid, signal_number)
        deadline = time.monotonic() + self._grace_seconds
        while time.monotonic() < deadline and None in self._exit_codes().values():
            time.sleep(_POLL_SECONDS)

    def kill_all(self) -> None:
        """Kills every child still running, with its process group, and reaps it."""
        for child in self._children.values():
            if self._exit_code(child) is None:
                guardian.signal_group(child.process.pid, signal.SIGKILL)
                child.process.wait()
                self._tell_guardian(f"-{child.process.pid}")

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
