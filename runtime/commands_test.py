"""The console scripts as a new user meets them: from any directory, quiet,
with a short help, refusing a bad flag before TensorFlow is imported."""

import os
import re
import subprocess
import sys
import sysconfig

import pytest

from runtime import commands

# What TensorFlow's C++ layer prints at start-up, and absl's log prefix.
_CPP_LINE = re.compile(r"^[IWEF]\d{4} |oneDNN|cuda|absl::InitializeLog|cuInit", re.MULTILINE)


def _script(name: str) -> str:
    path = os.path.join(sysconfig.get_path("scripts"), name)
    if not os.path.exists(path):
        pytest.skip(f"{name} is not installed in this environment; `pip install .` creates it")
    return path


def _run(args: list[str], cwd: str, timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", sorted(commands.COMMANDS))
def test_each_command_has_a_short_grouped_help(name):
    command = commands.COMMANDS[name]
    for module in command.flag_modules:
        __import__(module)
    text = commands.short_help(name, command)
    lines = text.splitlines()
    assert len(lines) < 40, text
    assert lines[0].startswith(f"usage: {name} ")
    listed = {flag for _, flags in command.groups for flag in flags}
    for flag in listed:
        assert f"--{flag}" in text, f"{name}'s help lacks --{flag}"


def test_every_console_script_in_setup_cfg_is_a_command():
    setup_cfg = os.path.join(os.path.dirname(os.path.dirname(commands.__file__)), "setup.cfg")
    with open(setup_cfg, encoding="utf-8") as file:
        declared = re.findall(r"^\s+(tf1to2-[a-z0-9-]+) = runtime\.commands:(\w+)$", file.read(), re.M)
    assert {name for name, _ in declared} == set(commands.COMMANDS)
    for name, function in declared:
        # Each entry point runs its own command.
        entry_point = getattr(commands, function)
        assert (entry_point.func, entry_point.args) == (commands.run, (name,))


def test_the_quickstart_runs_a_preset_from_another_directory_quietly(tmp_path):
    result = _run([_script("tf1to2-train-tf2"), "--preset=hvass_softmax", "--steps=20"], str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "tf2_eager softmax_regression on mnist_embedded: test accuracy" in result.stdout
    assert "--steps=20: evaluating at steps 0,1,10 of the preset's 0,1,10,1000" in output
    assert not _CPP_LINE.search(output), output


def test_a_preset_runs_for_a_single_step(tmp_path):
    result = _run([_script("tf1to2-train-tf1"), "--preset=codelab_softmax", "--steps=1"], str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "after 1 steps" in result.stdout


def test_a_bad_flag_is_refused_before_tensorflow_is_imported(tmp_path):
    program = (
        "import sys\n"
        "sys.argv = ['tf1to2-train-tf1', '--model=softmax_regression', '--hidden_sizes=8']\n"
        "from runtime import commands\n"
        "try:\n"
        "    commands.train_tf1()\n"
        "except SystemExit as exit:\n"
        "    print('tensorflow imported:', 'tensorflow' in sys.modules)\n"
        "    print(exit.code)\n"
    )
    environment = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(commands.__file__)))
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=str(tmp_path), env=environment,
        capture_output=True, text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert lines[0] == "tensorflow imported: False", result.stdout + result.stderr
    assert "softmax_regression has no --hidden_sizes" in lines[1]
