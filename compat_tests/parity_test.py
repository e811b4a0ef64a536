"""Parity of the two sides on every shipped configuration and device.

matched: same initial values and batches, through the ladder; every rung
identical or within the noise floor measured in the run, and not at chance.
independent: each side's own TensorFlow randomness; McNemar's exact test on
the two sides' per-image correctness passes at alpha 0.001, and a run where
both sides sit at chance fails.
"""

import dataclasses
import json
import math
import os
import subprocess
import sys

from absl.testing import flagsaver
import pytest

import mnist_data
from compat_tests import flagfiles
from compat_tests import parity
from compat_tests import statistics
from flags import config as config_lib

REPOSITORY = os.path.dirname(flagfiles.FLAGFILE_DIR)
# notebook_softmax diverges at step 1 and stays at chance: its own test below.
CLASSIFIER_FLAGFILES = [
    name for name in flagfiles.ALL
    if flagfiles.model_of(name) in config_lib.CLASSIFIER_MODELS and name != "notebook_softmax"
]
STANDALONE_FLAGFILES = [
    name for name in flagfiles.ALL if flagfiles.model_of(name) in config_lib.STANDALONE_MODELS
]


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


# Matched mode runs every flagfile: the softmax documents in full, the deeper
# models' 10,000-step experiments (the flagfiles' job, README) for a prefix
# that exercises every rung.
MATCHED_STEPS = {"softmax_regression": None, "mlp": 60, "deep_mlp": 60, "convnet": 20}

# Independent mode judges one run per model with McNemar's exact test on the
# two sides' per-image correctness at alpha 0.001 (statistics.DEFAULT_ALPHA).
# False failures: at most 0.001 per test when the two trained models are
# equally accurate. McNemar treats each trained model as fixed, so the
# spread between two correct trainings with different seeds adds to that
# until the models settle. Measured over seeds 0-9 of each run below (190
# pairs among its 20 trained models), McNemar's z = (b - c) / sqrt(b + c)
# has an rms of 1.10 (softmax), 1.13 (mlp) and 1.13 (deep_mlp) where the
# test assumes 1: read as a normal spread, about 0.003-0.004 false failures
# per test, about 0.01 for the three together. None of the 30 same-seed
# TF1/TF2 comparisons failed (smallest p 0.0059). The softmax runs its
# document in full (2 s). Shorter runs of the others fail: keras_mlp at 1000
# steps (p = 3.1e-06 at seed 2); codelab_2_2 passed seeds 0-2 at 1000 steps
# but failed seed 0 at 1500 (p = 6.4e-05), so it runs 2000, where the
# learning rate has decayed (p = 0.57, 0.83, 0.83 at seeds 0-2).
INDEPENDENT_RUNS = {
    "softmax_regression": ("hvass_softmax", None),
    "mlp": ("keras_mlp", 1500),
    "deep_mlp": ("codelab_2_2_five_layers_relu_lrdecay_dropout", 2000),
}
# The convnets have no affordable run. On the 5,000 embedded digits one
# side against itself at another seed fails McNemar too: codelab_3_1 at 1000
# steps, 2 of the 6 same-side pairs over seeds 0-2 (TF1 seed 0 vs 1: p =
# 1.3e-05) against 1 of the 3 TF1/TF2 pairs. At 3000 steps (about 100 s per
# comparison) TF1 against TF2 still gave p = 1.8e-04, 0.15, 0.0033 at seeds
# 0, 1, 2; codelab_3_0 at 3000 steps p = 0.029, 4.0e-06, 0.016.
CONVNET_HAS_NO_INDEPENDENT_RUN = pytest.mark.skip(
    reason="seed-to-seed spread of the convnets exceeds McNemar's alpha 0.001 "
    "at every affordable step count (codelab_3_1 at 3000 steps: p = 1.8e-04 at seed 0)"
)


def _shortened(config, steps):
    if steps is None or steps == config.steps:
        return config
    return dataclasses.replace(config, steps=steps, eval_at=())


def test_every_model_has_a_flagfile():
    assert {flagfiles.model_of(name) for name in flagfiles.ALL} == set(config_lib.MODEL_NAMES)


@pytest.mark.cross_kernel
@pytest.mark.parametrize("flagfile", CLASSIFIER_FLAGFILES)
def test_matched_mode_agrees_at_every_step(flagfile, device, embedded):
    config = flagfiles.load(flagfile, device=device)
    config = _shortened(config, MATCHED_STEPS[config.model])
    record = parity.run_matched(config, embedded)
    assert record["passed"], record["report"]
    assert record["steps"] == config.steps
    assert all(rung["status"] == "passed" for rung in record["ladder"]["rungs"]), record["report"]
    assert record["accuracy_diff_pp"] <= 0.1
    losses = record["ladder"]["tf1_losses"]
    assert len(losses) == config.steps == len(record["ladder"]["tf2_losses"])
    assert losses[-1] < losses[0]


@pytest.mark.cross_kernel
@pytest.mark.parametrize(
    "model", [*INDEPENDENT_RUNS, pytest.param("convnet", marks=CONVNET_HAS_NO_INDEPENDENT_RUN)]
)
def test_independent_mode_sides_are_indistinguishable_under_mcnemar(model, device, embedded):
    flagfile, steps = INDEPENDENT_RUNS[model]
    config = _shortened(flagfiles.load(flagfile, device=device), steps)
    record = parity.run_independent(config, embedded)
    assert record["passed"], record["report"]
    assert not record["chance"]["tf1"]["at_chance"] and not record["chance"]["tf2"]["at_chance"]
    assert record["report"].startswith("McNemar exact test on 10000 paired test images")
    # Different batch orders really were used, so this is not matched mode.
    assert record["max_abs_loss_diff"] > 0


def test_independent_mode_fails_when_both_sides_sit_at_chance(device, embedded):
    # An MLP started from zero weights keeps its hidden units dead, and after
    # 30 steps each side answers one digit for every image. McNemar cannot
    # tell two such models apart, and parity must fail all the same.
    config = config_lib.TrainConfig(
        model="mlp", weight_init="zeros", steps=30, device=device, quiet=True)
    record = parity.run_independent(config, embedded)
    assert not record["passed"]
    assert record["mcnemar"]["p_value"] >= statistics.DEFAULT_ALPHA
    assert record["chance"]["tf1"]["at_chance"] and record["chance"]["tf2"]["at_chance"]
    assert "Both sides are at chance: TF1 " in record["report"]
    assert "Two models that learned nothing prove nothing" in record["report"]
    assert "PARITY FAILED" in parity.format_summary(record)


# The standalone models are small float64 programs (multiply is float32)
# that run in full; they place their ops by default (on CPU here).
@pytest.mark.parametrize("flagfile", STANDALONE_FLAGFILES)
def test_standalone_matched_mode_agrees_and_passes_its_checks(flagfile):
    config = flagfiles.load(flagfile)
    record = parity.run_standalone(config, "matched")
    assert record["passed"], record["report"]
    assert record["max_abs_weight_diff"] <= 1e-12
    for side in ("tf1", "tf2"):
        checks = record["results"][side].get("checks", {})
        assert all(checks.values()), record["report"]
    if config.model != "multiply":
        assert record["steps"] == config.steps
        assert record["max_abs_loss_diff"] <= 1e-12
    if config.model == "logistic_regression":
        assert record["accuracy_diff_pp"] == 0
        # 69 held-out rows: anything under 90 % would mean a broken trainer.
        assert record["tf1"]["test_accuracy"] >= 0.9
        matrix = record["results"]["tf1"]["confusion_matrix"]
        assert sum(map(sum, matrix)) == 69


def test_standalone_independent_mode_shuffles_differently_and_agrees():
    config = flagfiles.load("gradient_notebook_logistic_minibatch")
    record = parity.run_standalone(config, "independent")
    assert record["passed"], record["report"]
    assert record["accuracy_diff_pp"] <= 1.0
    # The TF2 side really saw another batch order.
    assert record["max_abs_loss_diff"] > 1e-3
    assert "seed 1" in record["report"]


def test_standalone_record_fails_on_a_failed_check(monkeypatch):
    # The gradient check of one side failing must fail parity, even with
    # equal losses and weights.
    real = parity.tf2_train.EXPERIMENTS["linear_regression"]

    def failing_check(config):
        metrics = real(config)
        metrics["results"]["checks"]["gradient_check"] = False
        return metrics

    monkeypatch.setitem(parity.tf2_train.EXPERIMENTS, "linear_regression", failing_check)
    record = parity.run_standalone(flagfiles.load("gradient_notebook_linear_regression"), "matched")
    assert not record["passed"]
    assert "tf2_eager: check gradient_check failed" in record["report"]


@pytest.mark.cross_kernel
def test_notebook_diverges_at_the_same_step_on_both_sides_and_fails_at_chance(embedded):
    # Both sides turn NaN at the same step, so every rung up to the steps
    # agrees; but a model that diverged learned nothing, and parity between
    # two such models proves nothing: the metric rung fails and says so.
    record = parity.run_matched(flagfiles.load("notebook_softmax", steps=20, eval_at=()), embedded)
    assert "non-finite from step 1 on" in record["report"]
    assert all(math.isnan(loss) for loss in record["ladder"]["tf2_losses"][1:])
    statuses = [rung["status"] for rung in record["ladder"]["rungs"]]
    assert statuses == ["passed"] * 5 + ["failed"], record["report"]
    assert not record["passed"]
    assert "FAILED at rung 'metric' (at chance)" in record["report"]


def test_hvass_reaches_89_percent_on_the_official_test_set(embedded):
    record = parity.run_matched(flagfiles.load("hvass_softmax"), embedded)
    assert record["tf1"]["test_accuracy"] >= 0.89
    assert record["tf2"]["test_accuracy"] >= 0.89


def test_parity_command_writes_the_documented_json(tmp_path):
    json_path = tmp_path / "parity.json"
    completed = subprocess.run(
        [
            sys.executable, "-m", "compat_tests.parity",
            f"--flagfile={flagfiles.path('hvass_softmax')}",
            "--steps=50", "--eval_at=0", f"--json={json_path}",
            f"--plots_dir={tmp_path / 'plots'}",
        ],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "PARITY PASSED" in completed.stdout
    record = json.loads(json_path.read_text())
    for key in ("model", "dataset", "mode", "device", "steps", "tf1", "tf2",
                "max_abs_loss_diff", "max_abs_weight_diff", "accuracy_diff_pp", "passed"):
        assert key in record
    for side in ("tf1", "tf2"):
        assert set(record[side]) >= {"test_accuracy", "final_loss", "seconds"}
    assert record["mode"] == "matched" and record["passed"] is True
    assert record["dataset"]["train_size"] == 5000
    assert record["dataset"]["test_size"] == 10000
    assert len(record["tf1"]["loss_trace"]) == 50 == len(record["tf2"]["loss_trace"])
    assert (tmp_path / "plots" / "parity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parity_command_rejects_an_eval_step_beyond_the_run(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "compat_tests.parity", "--steps=10", "--eval_at=20"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode != 0
    assert "eval_at steps [20] are outside [0, steps=10]" in completed.stderr


def test_parity_command_exits_non_zero_when_parity_fails(monkeypatch, embedded, capsys):
    # A real matched run whose TF2 side is given the wrong learning rate.
    run_matched = parity.run_matched

    def wrong_tf2_run(config, dataset):
        build_tf1, _ = parity.ladder_sides(config)
        _, make_tf2 = parity.ladder_sides(dataclasses.replace(config, learning_rate=0.05))
        return run_matched(config, dataset, sides=(build_tf1, make_tf2))

    monkeypatch.setattr(parity, "run_matched", wrong_tf2_run)
    with flagsaver.flagsaver(steps=3, eval_at=[]):
        with pytest.raises(SystemExit) as exited:
            parity.main(["parity"])
    assert exited.value.code == 1
    output = capsys.readouterr().out
    assert "PARITY FAILED" in output and "FAILED at rung 'one_update'" in output


@pytest.mark.cross_kernel
def test_parity_command_proves_mirrored_training_equals_one_device(tmp_path):
    # A fresh process: the CPU can be split into two logical devices only
    # before TensorFlow's runtime starts, which in this one it has.
    json_path = tmp_path / "mirrored.json"
    completed = subprocess.run(
        [sys.executable, "-m", "compat_tests.parity", f"--flagfile={flagfiles.path('hvass_softmax')}",
         "--strategy=mirrored", "--num_replicas=2", "--steps=100", "--eval_at=0",
         f"--json={json_path}"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    record = json.loads(json_path.read_text())
    assert record["passed"] and record["mode"] == "matched, 2 replicas"
    assert "TF1 towers vs TF2 MirroredStrategy" in record["report"]
    assert len(record["tf1"]["loss_trace"]) == 100
