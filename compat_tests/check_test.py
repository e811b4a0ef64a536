"""`python -m compat_tests.check` and the README's "Check your own
migration" example, run as a user would run them."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import mnist_data
from compat_tests import flagfiles

REPOSITORY = os.path.dirname(flagfiles.FLAGFILE_DIR)
PLANTED = "compat_tests.planted_bugs"


def _run(args, cwd=REPOSITORY, timeout=300):
    # The user's own module is found through the working directory, as with
    # `python -m` from their project; the project itself through PYTHONPATH
    # when it is not installed.
    environment = {**os.environ, "PYTHONPATH": REPOSITORY}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environment,
        capture_output=True, text=True, timeout=timeout,
    )


def test_command_fails_a_planted_mistake_and_names_its_cause(tmp_path):
    json_path = tmp_path / "ladder.json"
    completed = _run([
        "-m", "compat_tests.check", f"--tf1={PLANTED}:tf1_rmsprop",
        f"--tf2={PLANTED}:tf2_rmsprop_keras_defaults", f"--json={json_path}",
    ])
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert re.search(r"one_update\s+failed\s+systematic", completed.stdout)
    assert "RMSProp accumulator: tf.compat.v1.train.RMSPropOptimizer starts" in completed.stdout
    report = json.loads(json_path.read_text())
    assert report["passed"] is False
    assert [r["status"] for r in report["rungs"]][:4] == ["passed", "passed", "passed", "failed"]


def test_command_passes_a_true_pair_on_user_npz_data(tmp_path):
    dataset = mnist_data.load_dataset("mnist_embedded")
    npz_path = tmp_path / "data.npz"
    # Every 16th digit: the embedded training set is sorted by class, and a
    # model trained on its first 300 (all zeros) would fail at chance.
    np.savez(
        npz_path,
        images=dataset.train_images[::16], labels=mnist_data.one_hot(dataset.train_labels[::16]),
        eval_images=dataset.test_images[:200],
        eval_labels=mnist_data.one_hot(dataset.test_labels[:200]),
    )
    completed = _run([
        "-m", "compat_tests.check", f"--tf1={PLANTED}:tf1_gradient_descent",
        f"--tf2={PLANTED}:tf2_correct", f"--npz={npz_path}", "--batch_size=30",
        "--steps=12", "--tolerance=forward=1e-4:1e-5",
    ])
    assert completed.returncode == 0, completed.stdout + completed.stderr[-2000:]
    assert "PASSED: all rungs agree" in completed.stdout
    assert "atol 0.0001, rtol 1e-05" in completed.stdout
    assert re.search(r"metric\s+passed", completed.stdout)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tf1=no_such_module:build", f"--tf2={PLANTED}:tf2_correct"],
         "Cannot import 'no_such_module'"),
        ([f"--tf1={PLANTED}:no_such_function", f"--tf2={PLANTED}:tf2_correct"],
         "has no attribute path 'no_such_function'"),
        ([f"--tf1={PLANTED}", f"--tf2={PLANTED}:tf2_correct"],
         "--tf1 takes an import path module:function"),
        ([f"--tf1={PLANTED}:tf1_adam", f"--tf2={PLANTED}:tf2_correct", "--tolerance=fwd=1:1"],
         "--tolerance takes rung=atol:rtol"),
        ([f"--tf2={PLANTED}:tf2_correct"], "Both --tf1=module:function and --tf2"),
    ],
)
def test_command_explains_bad_arguments(args, message):
    completed = _run(["-m", "compat_tests.check", *args], timeout=120)
    assert completed.returncode != 0
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def _readme_example(index: int = 0) -> str:
    """The index-th python block of the README's "Check your own migration"."""
    with open(os.path.join(REPOSITORY, "README.md")) as file:
        readme = file.read()
    section = readme.split("## Check your own migration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)[index]


def _run_readme_example(tmp_path, index: int, file_name: str) -> str:
    """Runs the index-th example as the README says, with pytest; its output."""
    (tmp_path / file_name).write_text(_readme_example(index))
    completed = _run(["-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", file_name],
                     cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "1 passed" in completed.stdout
    assert "PASSED: all rungs agree" in completed.stdout
    return completed.stdout


def test_readme_example_is_short_and_runs_as_written(tmp_path):
    assert len(_readme_example().strip().splitlines()) < 40
    output = _run_readme_example(tmp_path, 0, "my_migration_test.py")
    # The Keras names differ from the TF1 ones, so the map was inferred.
    assert "W -> sequential/dense/kernel" in output

    command = _run(["-m", "compat_tests.check", "--tf1=my_migration_test:legacy_model",
                    "--tf2=my_migration_test:migrated_model", "--steps=50"], cwd=tmp_path)
    assert command.returncode == 0, command.stdout + command.stderr[-2000:]
    assert "PASSED: all rungs agree on /CPU:0 over 50 steps: " in command.stdout


def test_helpshort_lists_the_checks_flags_and_only_those():
    # absl exits with status 1 after printing the help.
    completed = _run(["-m", "compat_tests.check", "--helpshort"], timeout=120)
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    for flag in ("--tf1", "--tf2", "--npz", "--labels", "--tolerance", "--noise_factor",
                 "--variable_map", "--steps", "--batch_size", "--json"):
        assert flag in completed.stdout, completed.stdout
    assert "--learning_rate" not in completed.stdout


def test_readme_initial_values_example_runs_as_written(tmp_path):
    output = _run_readme_example(tmp_path, 2, "my_initial_values_test.py")
    assert re.search(r"initial_values\s+passed\s+same initialisers", output), output


def test_readme_example_with_modes_state_and_weight_decay_runs_as_written(tmp_path):
    output = _run_readme_example(tmp_path, 1, "my_layers_test.py")
    # Batch norm's moving statistics were compared, not only the trainables.
    assert "mean_ma -> sequential/batch_normalization/moving_mean" in output
