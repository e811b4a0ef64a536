"""The guardian of a local launcher's children (runtime/local_cluster.py).

    python -I -S runtime/guardian.py LAUNCHER_PID DIRECTORY GRACE_SECONDS

with the launcher's pipe as stdin. It reads "+PID" (a child started, the
leader of its own process group) and "-PID" (a child reaped) until the pipe
ends, which is when the launcher closed it or died, SIGKILL included. Then
it ends the process groups still listed (SIGTERM, and SIGKILL after
GRACE_SECONDS) and removes DIRECTORY. It imports the standard library only,
and runs without site-packages, so that it starts in a few milliseconds.
"""

import os
import shutil
import signal
import sys
import time

# How often the guardian looks at the children it is ending.
_POLL_SECONDS = 0.05


def command(directory: str, grace_seconds: float) -> list[str]:
    """The command that starts a guardian of this process's children."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), directory,
            str(grace_seconds)]


def signal_group(process_group: int, signal_number: int) -> bool:
    """Sends signal_number to a process group; False if it has no process left."""
    try:
        os.killpg(process_group, signal_number)
        return True
    except ProcessLookupError:
        return False


def end_groups(process_groups: set[int], grace_seconds: float) -> None:
    """SIGTERM to every group, then SIGKILL to those left after grace_seconds;
    returns once none is left, or after grace_seconds more."""
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + grace_seconds
        process_groups = {group for group in process_groups if signal_group(group, signal_number)}
        while process_groups and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            process_groups = {group for group in process_groups if signal_group(group, 0)}


def guard(launcher: int, directory: str, grace_seconds: float) -> None:
    """Follows the launcher's pipe on stdin; when it ends, ends the children
    still running and removes directory."""
    # A Ctrl-C is the launcher's to handle; the guardian outlives it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    running: set[int] = set()
    for line in sys.stdin:
        pid = int(line[1:])
        if line.startswith("+"):
            running.add(pid)
        else:
            running.discard(pid)
    if running:
        end_groups(running, grace_seconds)
        print(f"local_cluster: launcher {launcher} died; ended its processes and removed {directory}.",
              file=sys.stderr)
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    guard(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
