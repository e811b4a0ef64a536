"""training_noise: the control run's perturbed initial values and the
step-by-step, variable-by-variable judgement of two runs."""

import dataclasses

import numpy as np
import pytest

from compat_tests import noise
from compat_tests import training_noise
from flags import config as config_lib

CONFIG = config_lib.TrainConfig(model="softmax_regression", weight_init="truncated_normal",
                                bias_init=0.1)
SHAPES = {"softmax_regression/weights": [784, 10], "softmax_regression/biases": [10]}


def test_perturbed_config_moves_every_initial_value_one_ulp_and_keeps_the_rest():
    control = training_noise.perturbed(CONFIG)
    reference_values = CONFIG.draw_initial_values(SHAPES)
    control_values = control.draw_initial_values(SHAPES)
    for name, value in reference_values.items():
        moved = control_values[name]
        assert moved.dtype == np.float32
        assert np.all((moved == np.nextafter(value, np.float32(np.inf)))
                      | (moved == np.nextafter(value, np.float32(-np.inf)))), name
    assert dataclasses.replace(control, steps=7).draw_initial_values(SHAPES).keys() == SHAPES.keys()
    assert isinstance(dataclasses.replace(control, steps=7), training_noise.PerturbedConfig)
    assert {field.name: getattr(control, field.name) for field in dataclasses.fields(CONFIG)} \
        == dataclasses.asdict(CONFIG)


def test_perturbed_refuses_tensorflow_randomness():
    with pytest.raises(ValueError, match="--rng=numpy"):
        training_noise.perturbed(dataclasses.replace(CONFIG, rng="tensorflow"))


def _run(losses, weights):
    return {"loss_trace": [float(loss) for loss in losses],
            "weights": {"w": np.asarray(weights, np.float32)}}


def test_gaps_are_judged_per_step_and_per_variable_against_the_controls():
    reference = _run([2.0, 1.5, 1.25], [0.5, -0.25])
    control = _run([2.0, 1.5 + 1e-6, 1.25 + 1e-6], [0.5 + 1e-7, -0.25])
    within = _run([2.0, 1.5 + 2e-6, 1.25 - 1e-6], [0.5 - 2e-7, -0.25])
    judgements = training_noise.judge_runs(reference, within, [control])
    assert [judgements[f"loss at step {step}"].verdict for step in range(3)] == [
        noise.IDENTICAL, noise.WITHIN_NOISE, noise.WITHIN_NOISE]
    assert judgements["weights w"].verdict == noise.WITHIN_NOISE
    off = _run([2.0, 1.5, 1.25], [0.5 + 1e-4, -0.25])
    judgements = training_noise.judge_runs(reference, off, [control])
    assert judgements["weights w"].systematic
    assert training_noise.describe_worst(judgements).startswith("systematic; worst: weights w")


def test_a_resumed_run_is_judged_on_the_steps_it_ran():
    reference = _run([3.0, 2.0, 1.0], [0.5])
    resumed = _run([2.0, 1.0 + 1e-3], [0.5])
    judgements = training_noise.judge_runs(reference, resumed, [reference], steps=slice(1, None))
    assert sorted(judgements) == ["loss at step 1", "loss at step 2", "weights w"]
    assert judgements["loss at step 2"].systematic


def test_runs_of_different_steps_or_variables_are_refused():
    reference = _run([2.0, 1.0], [0.5])
    with pytest.raises(ValueError, match="different steps"):
        training_noise.judge_runs(reference, _run([2.0], [0.5]), [reference])
    renamed = {"loss_trace": [2.0, 1.0], "weights": {"v": np.float32([0.5])}}
    with pytest.raises(ValueError, match="different variables"):
        training_noise.judge_runs(reference, renamed, [reference])
