"""The absl flags of replicated runs, next to flags/definitions.py's.

Importing this module defines them (after flags.definitions', so the
validators below can read --batch_size). Only a program's main reads
their values; the library functions take plain arguments.
"""

from typing import Any, Callable, Optional, Sequence

from absl import app
from absl import flags as absl_flags

from flags import config as config_lib
from flags import definitions
from flags import replication
from runtime import reporting

STRATEGY = absl_flags.DEFINE_enum(
    "strategy",
    "none",
    replication.STRATEGIES,
    "none: one device. mirrored: one process over --num_replicas devices (TF1: "
    "towers under tf.device; TF2: MirroredStrategy). multi_worker: "
    "--num_replicas processes (TF1: a parameter server and workers; TF2: "
    "MultiWorkerMirroredStrategy), started on loopback unless TF_CONFIG names "
    "this process's place in a real cluster.",
)
NUM_REPLICAS = absl_flags.DEFINE_integer(
    "num_replicas",
    1,
    "Replicas (devices or worker processes); the global --batch_size is split "
    "evenly over them.",
    lower_bound=1,
)
COLLECTIVE_TIMEOUT = absl_flags.DEFINE_float(
    "collective_timeout",
    60.0,
    "Seconds any one cross-process operation (an all-reduce, a wait for a "
    "peer) may take before the worker stops with an error naming the lost peer.",
    lower_bound=1.0,
)
RUN_TIMEOUT = absl_flags.DEFINE_float(
    "run_timeout",
    3600.0,
    "Seconds the local launcher lets its worker processes run before it kills "
    "them all and fails.",
    lower_bound=1.0,
)
# The TF1 cluster's own flags, as TF1's distributed-training guide spelled
# them; tf1_graph/cluster.py's launcher passes them to each process it starts.
PS_HOSTS = absl_flags.DEFINE_list(
    "ps_hosts", [], "TF1 cluster: host:port of each parameter server."
)
WORKER_HOSTS = absl_flags.DEFINE_list(
    "worker_hosts", [], "TF1 cluster: host:port of each worker."
)
JOB_NAME = absl_flags.DEFINE_enum(
    "job_name", None, ("ps", "worker"), "TF1 cluster: this process's job."
)
TASK_INDEX = absl_flags.DEFINE_integer(
    "task_index", 0, "TF1 cluster: this process's index in its job.", lower_bound=0
)
WORKER_CONFIG = absl_flags.DEFINE_string(
    "worker_config",
    None,
    "Internal: the TrainConfig JSON a local launcher hands its workers, used "
    "instead of the training flags.",
)
METRICS_NPZ = absl_flags.DEFINE_string(
    "metrics_npz",
    None,
    "Write the run's metrics and final weights to this .npz (what a local "
    "launcher reads back from each worker).",
)


@absl_flags.multi_flags_validator(
    ["batch_size", "num_replicas"],
    message="--batch_size is the global batch and must divide evenly by "
    "--num_replicas; pick a multiple of --num_replicas.",
)
def _check_batch_split(flag_values: dict) -> bool:
    # A batch left to the model's document is checked with the run's
    # configuration (flags.replication.check_batch_split).
    batch_size = flag_values["batch_size"]
    return batch_size is None or batch_size % flag_values["num_replicas"] == 0


@absl_flags.multi_flags_validator(
    ["strategy", "num_replicas"],
    message="--strategy=none runs on one device; drop --num_replicas or pick "
    "--strategy=mirrored or multi_worker.",
)
def _check_replicas_need_a_strategy(flag_values: dict) -> bool:
    return flag_values["strategy"] != "none" or flag_values["num_replicas"] == 1


@absl_flags.multi_flags_validator(
    ["strategy", "model"],
    message="--strategy replicates the MNIST classifiers ("
    + ", ".join(config_lib.CLASSIFIER_MODELS)
    + "); the standalone models run on one device. Drop --strategy.",
)
def _check_replicated_model(flag_values: dict) -> bool:
    return flag_values["strategy"] == "none" or flag_values["model"] in config_lib.CLASSIFIER_MODELS


def to_config() -> config_lib.TrainConfig:
    """The run's TrainConfig: the one a local launcher handed this worker
    (--worker_config), else the training flags'. Call only from a main."""
    if WORKER_CONFIG.value:
        with open(WORKER_CONFIG.value) as file:
            return replication.config_from_json(file.read())
    return definitions.to_config()


# A side's run(config, strategy, num_replicas, plots_dir, collective_timeout,
# run_timeout): tf1_graph.train.run and tf2_eager.distributed.run.
RunFunction = Callable[
    [config_lib.TrainConfig, str, int, Optional[str], float, float], dict[str, Any]
]


def run_command(
    argv: Sequence[str],
    side: str,
    run: RunFunction,
    expected_errors: tuple[type[Exception], ...] = (),
) -> Optional[dict[str, Any]]:
    """The body of both sides' training commands (`python -m tf1_graph.train`,
    `python -m tf2_eager.train`): flags in, one run, the report out.

    The configuration is built and checked (outputs, sizes, the device, an
    existing run in --output_dir/SIDE) before anything is built, so that a
    mistake costs no training. An expected error ends in one line.

    Returns:
      The run's metrics, or None when --list_presets only listed them.
    """
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if definitions.LIST_PRESETS.value:
        definitions.list_presets()
        return None
    with reporting.exit_with_message_on(*definitions.EXPECTED_ERRORS, *expected_errors):
        config = to_config()
        devices = None
        # The replicated paths place their own devices: listing them here
        # would fix the CPU's split too early.
        if STRATEGY.value == "none":
            # Imported here: the flag modules stay TensorFlow-free until a
            # command has parsed and checked its flags.
            import tensorflow as tf

            devices = [device.name for device in tf.config.list_logical_devices()]
        definitions.check_before_training(config, side, devices)
        metrics = run(
            config,
            STRATEGY.value,
            NUM_REPLICAS.value,
            definitions.PLOTS_DIR.value,
            COLLECTIVE_TIMEOUT.value,
            RUN_TIMEOUT.value,
        )
    reporting.finish_run(metrics, definitions.JSON_PATH.value)
    return metrics
