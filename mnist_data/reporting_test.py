"""Tests for mnist_data.reporting.ProgressLogger, on a fake clock."""

import pytest

from mnist_data import reporting


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
        reporting.logging, "info", lambda message, *args: lines.append(message % args)
    )
    return lines


def test_logs_at_most_every_few_seconds_with_examples_per_second_and_eta(logged):
    clock = FakeClock()
    progress = reporting.ProgressLogger("tf1_graph", 100, 50, every_seconds=5.0, clock=clock)

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
    progress = reporting.ProgressLogger("tf2_eager", 100, 10, every_seconds=1.0, clock=clock)

    clock.now += 1.0
    progress.step_done(10, 0.5)  # 100 examples/s.
    clock.now += 4.0
    progress.step_done(20, 0.4)  # 10 steps of 10 in 4 s: 25 examples/s.

    assert "100 examples/s" in logged[0]
    # The ETA uses the mean since the start: 80 steps at 0.25 s per step.
    assert logged[1] == "tf2_eager step 20/100  loss 0.4  25 examples/s  ETA 20 s"


def test_last_step_logs_a_summary_line_even_in_a_short_run(logged):
    clock = FakeClock()
    progress = reporting.ProgressLogger("tf1_graph", 3, 100, clock=clock)

    for step in range(1, 4):
        clock.now += 0.1
        progress.step_done(step, loss=0.25)

    assert len(logged) == 1
    assert logged[0] == "tf1_graph done: 3 steps in 0.3 s, 1000 examples/s, final loss 0.25"


def test_a_run_timed_at_zero_seconds_reports_no_rate(logged):
    progress = reporting.ProgressLogger("tf1_graph", 1, 100, clock=FakeClock())

    progress.step_done(1, loss=2.3)

    assert logged == ["tf1_graph done: 1 steps in 0.0 s, - examples/s, final loss 2.3"]


def test_quiet_logs_nothing(logged):
    clock = FakeClock()
    progress = reporting.ProgressLogger("tf1_graph", 10, 100, every_seconds=1.0, clock=clock, quiet=True)

    for step in range(1, 11):
        clock.now += 2.0
        progress.step_done(step, loss=1.0)

    assert logged == []
