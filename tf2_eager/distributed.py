"""Data-parallel training in TF2: the strategies, the worker launcher and the command.

One process over N devices (MirroredStrategy), the TF2 form of
tf1_graph/towers.py:

    python -m tf2_eager.distributed --flagfile=flags/hvass_softmax.cfg \\
        --strategy=mirrored --num_replicas=2

N worker processes (MultiWorkerMirroredStrategy), the TF2 form of
tf1_graph/cluster.py. Without TF_CONFIG the command starts N workers on
free 127.0.0.1 ports and waits for them; with TF_CONFIG it is one worker of
the cluster TF_CONFIG describes (one such command per machine):

    python -m tf2_eager.distributed --flagfile=flags/hvass_softmax.cfg \\
        --strategy=multi_worker --num_replicas=2

Every path trains with the one loop, tf2_eager.train.train, handed the
strategy: every replica takes its even share of the global batch a single
device would take at that step (flags/replication.py), computes the gradient
of its weighted loss, and the gradients are summed by an all-reduce
(tf2_eager/steps.py), so each step is the single-device step up to the order
of float additions. `main` is the command of `python -m tf2_eager.train`
too, with or without --strategy.
"""

import json
import os
import signal
import threading
from typing import Any, Optional, Sequence

from absl import app
from absl import logging
import numpy as np
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import distribute as distribute_flags
from flags import replication
from runtime import errors
from runtime import local_cluster
from tf2_eager import hooks
from tf2_eager import loop
from tf2_eager import models

# How long the launcher lets the other workers stop on their own after one
# has failed, beyond their collective timeout.
_GRACE_SECONDS = 30.0
# TensorFlow's errors when a collective operation loses a peer: refused
# connections, timeouts, and operations aborted by the health check.
_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.InternalError,
)


class PeerLostError(RuntimeError):
    """A worker stopped because a collective operation with its peers failed."""


def configure_devices(num_replicas: int) -> list[str]:
    """Returns the devices for num_replicas replicas, making CPU ones if needed.

    With GPUs, the first num_replicas GPUs. Without, one physical CPU is
    split into num_replicas logical devices, which TensorFlow allows only
    before its runtime starts (before the first op or device listing), so a
    program calls this first; the MirroredStrategy command does.

    Raises:
      ValueError: If fewer devices exist than replicas, e.g. because the
        runtime had started before the CPU could be split.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
        replication.check_enough_devices(num_replicas, devices, "run on a machine with more GPUs")
        return devices[:num_replicas]
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * num_replicas
        )
    except RuntimeError:
        # The runtime has started; the devices it has are checked below.
        pass
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    replication.check_enough_devices(
        num_replicas,
        devices,
        "split the CPU before TensorFlow starts: call "
        "tf2_eager.distributed.configure_devices(N) before any TensorFlow op "
        "runs, or run `python -m tf2_eager.distributed --strategy=mirrored` in "
        "a fresh process",
    )
    return devices[:num_replicas]


def train_mirrored(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    num_replicas: int,
    plots_dir: Optional[str] = None,
) -> dict[str, Any]:
    """Trains with MirroredStrategy over num_replicas devices of this process.

    Returns:
      The metrics of tf2_eager.train.train, for the global batch.

    Raises:
      ValueError: If the batch does not divide over the replicas or
        config.output_dir holds a run that neither config.resume nor
        config.overwrite names (both checked before any device is made),
        there are too few devices, config.device pins one device, or
        config.rng is not "numpy".
    """
    replication.check_batch_split(config.batch_size, num_replicas)
    # Checked before the devices are made: a refused --output_dir costs nothing.
    loop.prepare_run_directory(config)
    strategy = tf.distribute.MirroredStrategy(configure_devices(num_replicas))
    return loop.train(config, dataset, strategy, plots_dir)


def run_worker(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    collective_timeout: float,
    plots_dir: Optional[str] = None,
) -> dict[str, Any]:
    """Trains as one MultiWorkerMirroredStrategy worker of the TF_CONFIG cluster.

    Args:
      config: The run's configuration, the same on every worker.
      dataset: The data.
      collective_timeout: Seconds one all-reduce may take; beyond it, or when
        a peer's connection drops, the worker stops with PeerLostError.
      plots_dir: Where the chief writes the run's figures.

    Raises:
      ValueError: If TF_CONFIG is missing or names no worker task, or this
        worker's port is in use.
      PeerLostError: If a collective operation fails.
    """
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    cluster = resolver.cluster_spec().as_dict()
    if not cluster.get("worker") or resolver.task_type not in ("worker", "chief"):
        raise errors.FixableError(
            "A MultiWorkerMirroredStrategy worker needs TF_CONFIG with a cluster "
            'and this process\'s task, e.g. {"cluster": {"worker": ["host1:12345", '
            '"host2:12345"]}, "task": {"type": "worker", "index": 0}}; got '
            f"TF_CONFIG={os.environ.get('TF_CONFIG')!r}. Without TF_CONFIG, "
            "`--strategy=multi_worker` starts local workers itself."
        )
    role = f"{resolver.task_type} {resolver.task_id}"
    local_cluster.check_port_free(cluster[resolver.task_type][resolver.task_id], role)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver,
        communication_options=tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=collective_timeout,
            implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        ),
    )
    # TensorFlow's coordination service has just taken SIGTERM as a
    # preemption notice for PreemptionCheckpointHandler, which this program
    # does not use: the worker would train on and ignore its launcher's
    # SIGTERM. It ends the worker again, as it ends any program.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        return loop.train(config, dataset, strategy, plots_dir)
    except _PEER_ERRORS as error:
        logging.error("%s: %s", role, error)
        raise PeerLostError(
            f"{role} stopped: an all-reduce with the other workers failed "
            f"({type(error).__name__}, logged above). A peer "
            f"is down or did not answer within {collective_timeout} s; check "
            "the other workers' logs, then rerun (with --output_dir and --resume "
            "the run continues from its last checkpoint)."
        ) from error


def start_local_workers(
    processes: local_cluster.LocalProcesses,
    config: config_lib.TrainConfig,
    num_workers: int,
    collective_timeout: float,
    plots_dir: Optional[str] = None,
) -> list[str]:
    """Starts num_workers worker processes on free loopback ports.

    Each runs `python -m tf2_eager.distributed` with its own TF_CONFIG and
    reads the run's configuration from one file in processes.directory.

    Returns:
      The .npz path each worker writes its metrics to, by worker index.
    """
    ports = local_cluster.free_loopback_ports(num_workers)
    cluster = {"worker": [f"{local_cluster.LOOPBACK}:{port}" for port in ports]}
    config_path = os.path.join(processes.directory, "config.json")
    with open(config_path, "w") as file:
        file.write(replication.config_to_json(config))
    plots = [f"--plots_dir={plots_dir}"] if plots_dir else []
    results = []
    for index in range(num_workers):
        results.append(os.path.join(processes.directory, f"worker_{index}.npz"))
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.start(
            f"worker_{index}",
            local_cluster.python_module_argv(
                "tf2_eager.distributed",
                "--strategy=multi_worker",
                f"--worker_config={config_path}",
                f"--metrics_npz={results[-1]}",
                f"--collective_timeout={collective_timeout}",
                *plots,
            ),
            local_cluster.child_environment(TF_CONFIG=tf_config),
        )
    return results


def train_multi_worker(
    config: config_lib.TrainConfig,
    num_workers: int,
    collective_timeout: float = 60.0,
    run_timeout: float = 3600.0,
    plots_dir: Optional[str] = None,
) -> list[dict[str, Any]]:
    """Runs num_workers MultiWorkerMirroredStrategy workers on this machine.

    The workers, their logs and the other workers' checkpoints live in a
    temporary directory; on every way out (the end, an error, SIGTERM,
    Ctrl-C, or this process killed) the workers are ended and the directory
    removed (local_cluster.LocalProcesses).

    Returns:
      Every worker's metrics, by worker index.

    Raises:
      ValueError: If the batch does not divide over the workers,
        config.rng is not "numpy", or config.output_dir holds a run that
        config.resume or config.overwrite does not name (all checked before
        any process starts).
      runtime.local_cluster.WorkerFailedError: If a worker fails or the
        run outlasts run_timeout; every worker is killed and reaped first.
      runtime.local_cluster.StoppedBySignalError: On SIGTERM or SIGINT,
        once every worker has been ended.
    """
    replication.check_batch_split(config.batch_size, num_workers)
    replication.check_numpy_rng(config, "MultiWorkerMirroredStrategy")
    # The chief worker checks again; refusing here costs no process.
    loop.prepare_run_directory(config)
    with local_cluster.LocalProcesses(prefix="multi_worker_") as processes:
        results = start_local_workers(processes, config, num_workers, collective_timeout, plots_dir)
        processes.wait(run_timeout, grace_seconds=collective_timeout + _GRACE_SECONDS)
        return [_from_worker(local_cluster.load_metrics(path)) for path in results]


def _for_launcher(metrics: dict[str, Any]) -> dict[str, Any]:
    """A worker's metrics with its test predictions as a list, which the
    launcher's .npz file holds as JSON (local_cluster.save_metrics)."""
    predictions = metrics["test_predictions"]
    return {**metrics, "test_predictions": None if predictions is None else predictions.tolist()}


def _from_worker(metrics: dict[str, Any]) -> dict[str, Any]:
    """What _for_launcher wrote, with the predictions an array again."""
    predictions = metrics.get("test_predictions")
    return {**metrics, "test_predictions": None if predictions is None else np.asarray(predictions)}


def run(
    config: config_lib.TrainConfig,
    strategy: str = "none",
    num_replicas: int = 1,
    plots_dir: Optional[str] = None,
    collective_timeout: float = 60.0,
    run_timeout: float = 3600.0,
) -> dict[str, Any]:
    """Runs config.model the way `strategy` (--strategy) says: on one device,
    MirroredStrategy over num_replicas devices, or num_replicas
    MultiWorkerMirroredStrategy workers (started here on loopback unless
    TF_CONFIG makes this process one of them). Every way goes through
    tf2_eager.train.train; a standalone model runs its experiment.

    Returns:
      The run's metrics; of worker 0 when this process launched the workers.
    """
    if config.model in models.EXPERIMENTS:
        return models.EXPERIMENTS[config.model](config)
    if strategy == "multi_worker" and "TF_CONFIG" not in os.environ:
        return train_multi_worker(config, num_replicas, collective_timeout, run_timeout, plots_dir)[0]
    dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
    if strategy == "multi_worker":
        return run_worker(config, dataset, collective_timeout, plots_dir)
    if strategy == "mirrored":
        return train_mirrored(config, dataset, num_replicas, plots_dir)
    return loop.train(config, dataset, plots_dir=plots_dir)


def main(argv: Sequence[str]) -> None:
    """`python -m tf2_eager.train` and `python -m tf2_eager.distributed`:
    flags in, one run (see `run`), the report out."""
    metrics = distribute_flags.run_command(
        argv, hooks.SIDE, run, (PeerLostError, local_cluster.WorkerFailedError)
    )
    if metrics is not None and distribute_flags.METRICS_NPZ.value:
        local_cluster.save_metrics(distribute_flags.METRICS_NPZ.value, _for_launcher(metrics))


if __name__ == "__main__":
    app.run(main)
