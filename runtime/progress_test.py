"""runtime.progress: the log lines on a fake clock, and the bar under a pseudo-terminal."""

import os
import pty
import select
import subprocess
import sysconfig

import pytest

from runtime import progress as progress_lib


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged(monkeypatch):
    """The lines ProgressLogger logs, formatted."""
    lines = []
    monkeypatch.setattr(
        progress_lib.logging, "info", lambda message, *args: lines.append(message % args)
    )
    return lines


def test_logs_at_most_every_few_seconds_with_examples_per_second_and_eta(logged):
    clock = FakeClock()
    progress = progress_lib.ProgressLogger("tf1_graph", 100, 50, every_seconds=5.0, clock=clock)

    for step in range(1, 21):  # 20 steps of 0.5 s: lines after 10 and 20 steps.
        clock.now += 0.5
        progress.step_done(step, loss=1.0 / step)

    # 10 steps of 50 examples in 5 s: 100 examples/s; 80 steps left at 0.5 s each.
    assert logged == [
        "tf1_graph step 10/100  loss 0.1  100 examples/s  ETA 45 s",
        "tf1_graph step 20/100  loss 0.05  100 examples/s  ETA 40 s",
    ]


def test_examples_per_second_covers_only_the_last_interval(logged):
    clock = FakeClock()
    progress = progress_lib.ProgressLogger("tf2_eager", 100, 10, every_seconds=1.0, clock=clock)

    clock.now += 1.0
    progress.step_done(10, 0.5)  # 100 examples/s.
    clock.now += 4.0
    progress.step_done(20, 0.4)  # 10 steps of 10 in 4 s: 25 examples/s.

    assert "100 examples/s" in logged[0]
    # The ETA uses the mean since the start: 80 steps at 0.25 s per step.
    assert logged[1] == "tf2_eager step 20/100  loss 0.4  25 examples/s  ETA 20 s"


def test_last_step_logs_a_summary_line_even_in_a_short_run(logged):
    clock = FakeClock()
    progress = progress_lib.ProgressLogger("tf1_graph", 3, 100, clock=clock)

    for step in range(1, 4):
        clock.now += 0.1
        progress.step_done(step, loss=0.25)

    assert len(logged) == 1
    assert logged[0] == "tf1_graph done: 3 steps, 1000 examples/s, final loss 0.25"


def test_a_run_timed_at_zero_seconds_reports_no_rate(logged):
    progress = progress_lib.ProgressLogger("tf1_graph", 1, 100, clock=FakeClock())

    progress.step_done(1, loss=2.3)

    assert logged == ["tf1_graph done: 1 steps, - examples/s, final loss 2.3"]


def test_quiet_logs_nothing(logged):
    clock = FakeClock()
    progress = progress_lib.ProgressLogger("tf1_graph", 10, 100, every_seconds=1.0, clock=clock, quiet=True)

    for step in range(1, 11):
        clock.now += 2.0
        progress.step_done(step, loss=1.0)

    assert logged == []


def test_evaluations_are_logged_as_they_happen_and_the_last_one_ends_the_summary(logged):
    clock = FakeClock()
    progress = progress_lib.ProgressLogger("tf2_eager", 4, 10, every_seconds=100.0, clock=clock)
    for step, accuracy in ((1, None), (2, 0.5), (3, None), (4, 0.75)):
        clock.now += 1.0
        progress.step_done(step, loss=1.0, test_accuracy=accuracy)
    assert logged == [
        "tf2_eager step 2: test accuracy 50.00%",
        "tf2_eager done: 4 steps, 10 examples/s, final loss 1, test accuracy 75.00%",
    ]


def test_a_resumed_run_counts_its_own_steps(logged):
    clock = FakeClock()
    progress = progress_lib.ProgressLogger("tf1_graph", 30, 10, clock=clock, start_step=20)
    for step in range(21, 31):
        clock.now += 0.5
        progress.step_done(step, loss=0.5)
    assert logged == ["tf1_graph done: 10 steps, 20 examples/s, final loss 0.5"]


def test_a_terminal_gets_a_bar_with_the_running_loss_and_accuracy(tmp_path):
    # The console script under a pseudo-terminal, as a person runs it.
    script = os.path.join(sysconfig.get_path("scripts"), "tf1to2-train-tf2")
    if not os.path.exists(script):
        pytest.skip("tf1to2-train-tf2 is not installed in this environment; `pip install .` creates it")
    controller, terminal = pty.openpty()
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    process = subprocess.Popen(
        [script, "--preset=hvass_softmax", "--steps=40"], cwd=str(tmp_path), env=environment,
        stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 300)
            if not ready:
                raise AssertionError(f"no output for 300 s; so far: {output[-2000:]!r}")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # The terminal closes when the process ends.
                break
            if not chunk:
                break
            output += chunk
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
        os.close(controller)
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert "40/40" in text and "loss:" in text and "test accuracy:" in text, text
    assert "tf2_eager done:" not in text, "a terminal gets the bar, not the log lines"
