"""How a replicated run divides one training step, the same on both sides.

No absl and no TensorFlow here: tf1_graph/towers.py, tf1_graph/cluster.py and
tf2_eager/distributed.py all take these rules from one place, so the TF1
towers and the TF2 replicas split a batch and weight a loss identically.

With R replicas and a global batch of B examples, replica r takes the B / R
consecutive rows [r·B/R, (r+1)·B/R) of the batch a single device would take at
the same step (mnist_data.batch_indices), computes the gradient of its loss
times loss_weight(form, R), and the R gradients are summed. For a loss that is
a mean over the batch that weight is 1/R, so the sum is the gradient of the
global batch's mean; for a sum over the batch it is 1. Either way the replicas
compute the single-device gradient, up to the order of float additions.
"""

import dataclasses
import json
from typing import Sequence

from flags import config as config_lib
from runtime import errors

STRATEGIES = ("none", "mirrored", "multi_worker")

# The loss forms (config_lib.LOSS_FORMS) that add over the batch instead of
# averaging; every other form is a mean over the batch.
SUMMED_LOSS_FORMS = ("naive_sum",)


def check_batch_split(batch_size: int, num_replicas: int) -> None:
    """Raises ValueError unless the global batch divides evenly by the replicas."""
    if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1:
        raise errors.FixableError(
            f"num_replicas must be a positive integer, got {num_replicas!r}."
        )
    if batch_size % num_replicas:
        lower = batch_size - batch_size % num_replicas
        raise errors.FixableError(
            f"The global batch of {batch_size} examples does not divide evenly "
            f"over {num_replicas} replicas; pick a --batch_size that is a "
            f"multiple of {num_replicas} (e.g. {lower} or {lower + num_replicas}) "
            "or another --num_replicas."
        )


def check_enough_devices(num_replicas: int, devices: Sequence[str], fix: str) -> None:
    """Raises ValueError if there are fewer `devices` than replicas.

    Args:
      num_replicas: Replicas asked for.
      devices: The devices the run could place replicas on.
      fix: How to get more devices, for the message.
    """
    if num_replicas > len(devices):
        raise errors.FixableError(
            f"{num_replicas} replicas need {num_replicas} devices, but only "
            f"{len(devices)} are available ({', '.join(devices) or 'none'}); "
            f"lower --num_replicas, or {fix}."
        )


def shard(batch: Sequence, num_replicas: int, replica: int) -> Sequence:
    """Rows [replica·B/R, (replica+1)·B/R) of a global batch of B rows."""
    size = len(batch) // num_replicas
    return batch[replica * size : (replica + 1) * size]


def loss_weight(loss_form: str, num_replicas: int) -> float:
    """What each replica multiplies its own batch's loss by (see the module
    docstring): 1/R for a mean over the batch, 1 for a sum.

    This is TF2's tf.nn.compute_average_loss written for losses that are
    already batch means: mean over B/R examples / R = sum / B.
    """
    if loss_form not in config_lib.LOSS_FORMS:
        raise errors.FixableError(
            f"Unknown loss form {loss_form!r}; expected one of "
            f"{', '.join(config_lib.LOSS_FORMS)}."
        )
    return 1.0 if loss_form in SUMMED_LOSS_FORMS else 1.0 / num_replicas


def check_numpy_rng(config: config_lib.TrainConfig, where: str) -> None:
    """Raises ValueError unless batches come from mnist_data (rng "numpy").

    Replicated runs need every replica and every worker to know the global
    batch of each step without exchanging data; batch_indices(seed, step)
    gives exactly that, where a shuffle of TensorFlow's would differ between
    processes.
    """
    if config.rng != "numpy":
        raise errors.FixableError(
            f"{where} draws its batches with --rng=numpy, so that every replica "
            f"and worker computes the same global batch; got rng {config.rng!r}. "
            "Drop --rng=tensorflow (and --mode=independent) for a replicated run."
        )


def config_to_json(config: config_lib.TrainConfig) -> str:
    """A TrainConfig as JSON, how a launcher hands it to its worker processes."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_json(text: str) -> config_lib.TrainConfig:
    """The TrainConfig that config_to_json wrote; JSON lists become tuples again."""
    fields = json.loads(text)
    return config_lib.TrainConfig(
        **{key: tuple(value) if isinstance(value, list) else value for key, value in fields.items()}
    )
