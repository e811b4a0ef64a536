"""The noise model (compat_tests/noise.py) applied to whole training runs.

A replicated run (TF1 towers, MirroredStrategy, workers) sums its gradients
in another order than one device does, so its losses and weights part from
the one-device run's by rounding, and training amplifies that. How far such
equivalent runs drift is measured by a control: the reference run repeated
from its initial values, and on training images, moved one ulp. The images
matter: summation order rounds anew at every step, and a convex model damps
a perturbation made only once (Hvass's softmax over 1,000 steps, on two
towers: final weights 10.5× the floor of perturbed initial values alone, at
most 2× with perturbed images too).
`judge_runs` then names each step's loss and each final variable identical,
within noise or systematic.
"""

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

import mnist_data
from compat_tests import noise
from flags import config as config_lib
from runtime import errors

# The seed of the one-ulp perturbation of the control run's initial values.
CONTROL_SEED = 1


@dataclasses.dataclass(frozen=True)
class PerturbedConfig(config_lib.TrainConfig):
    """A TrainConfig whose numpy initial values are each moved one ulp.

    Every trainer draws its initial values through
    config.draw_initial_values, so any of them, given this config, runs the
    control; the batches and everything else stay the reference's. Only
    in-process trainers take it: a worker process rebuilds a plain
    TrainConfig from JSON (flags.replication), which refuses the extra field.

    Attributes:
      perturbation_seed: The seed of noise.perturb_all.
    """

    perturbation_seed: int = CONTROL_SEED

    def draw_initial_values(self, shapes: dict[str, list[int]]) -> dict[str, np.ndarray]:
        """TrainConfig's initial values, each nonzero one moved one ulp."""
        return noise.perturb_all(super().draw_initial_values(shapes), self.perturbation_seed)


def perturbed(config: config_lib.TrainConfig, seed: int = CONTROL_SEED) -> PerturbedConfig:
    """`config` with its initial values moved one ulp, for the control run.

    Raises:
      ValueError: If config.rng is not "numpy": TensorFlow's own initial
        values are not drawn through draw_initial_values, so the control
        would repeat the reference exactly and measure no floor.
    """
    if config.rng != "numpy":
        raise errors.FixableError(
            f"A control run perturbs the numpy initial values of --rng=numpy; got "
            f"--rng={config.rng}."
        )
    fields = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    return PerturbedConfig(**{**fields, "perturbation_seed": seed})


def perturbed_dataset(dataset: mnist_data.Dataset, seed: int = CONTROL_SEED) -> mnist_data.Dataset:
    """`dataset` with every nonzero training pixel moved one ulp, for the control
    run; pixels stay within the data's range, which the trainers check."""
    images = dataset.train_images
    moved = np.clip(noise.perturb_last_bit(images, seed), images.min(), images.max())
    return dataclasses.replace(dataset, train_images=moved)


def judge_runs(
    reference: Mapping[str, Any],
    candidate: Mapping[str, Any],
    controls: Sequence[Mapping[str, Any]],
    steps: slice = slice(None),
    noise_factor: float = noise.NOISE_FACTOR,
) -> dict[str, noise.Judgement]:
    """Judges a candidate run against a reference run, step by step and
    variable by variable.

    Args:
      reference: A train() result (loss_trace, weights), e.g. one device's.
      candidate: The run under test; its loss_trace covers `steps` of the
        reference's.
      controls: The reference run repeated under perturbation (PerturbedConfig).
      steps: The reference's steps that the candidate ran, e.g.
        slice(checkpoint_step, None) for a resumed run.
      noise_factor: See noise.judge.

    Returns:
      {"loss at step S": judgement of |Δloss| at step S against the controls'
       largest drift up to that step (noise.judge_steps), "weights NAME": judgement of max |Δ| over the final
       variable NAME against the controls' drift of it}.

    Raises:
      ValueError: If the runs' steps or variables differ.
    """
    reference_losses = reference["loss_trace"][steps]
    # Losses are float32 values held as Python floats: their rounding floor
    # is one float32 ulp, not a float64 one.
    loss_judgements = noise.judge_steps(
        reference_losses, candidate["loss_trace"],
        [control["loss_trace"][steps] for control in controls], np.float32, noise_factor)
    names = sorted(reference["weights"])
    if any(sorted(run["weights"]) != names for run in [candidate, *controls]):
        raise errors.FixableError(
            f"The runs hold different variables: reference {names}, candidate "
            f"{sorted(candidate['weights'])}."
        )
    first_step = steps.indices(len(reference["loss_trace"]))[0]
    judgements = {f"loss at step {first_step + index}": judgement
                  for index, judgement in enumerate(loss_judgements)}
    for name in names:
        judgements[f"weights {name}"] = noise.judge_arrays(
            reference["weights"][name], candidate["weights"][name],
            controls=tuple(control["weights"][name] for control in controls),
            noise_factor=noise_factor)
    return judgements


def describe_worst(judgements: Mapping[str, noise.Judgement]) -> str:
    """One line: the overall verdict and the worst judgement, for a message."""
    name, judgement = noise.worst(judgements)
    return f"{noise.verdict_of(judgements)}; worst: {name}, {judgement.describe()}"
