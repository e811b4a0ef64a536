"""The absl flags of replicated runs, next to flags/definitions.py's.

Importing this module defines them (after flags.definitions', so the
validators below can read --batch_size). Only a program's main reads
their values; the library functions take plain arguments.
"""

from absl import flags as absl_flags

from flags import config as config_lib
from flags import definitions
from flags import replication

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
