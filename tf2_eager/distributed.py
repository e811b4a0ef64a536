"""Data-parallel training in TF2: tf.distribute strategies in the custom loop.

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

Every replica takes its even share of the global batch a single device
would take at that step (flags/replication.py), computes the gradient of its
weighted loss, and the gradients are summed by an all-reduce, so each step
is the single-device step up to the order of float additions.
"""

import dataclasses
import functools
import json
import os
import shutil
import tempfile
import time
from typing import Any, Callable, Optional, Sequence

from absl import app
from absl import logging
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from flags import replication
from mnist_data import checks
from mnist_data import local_cluster
from mnist_data import reporting
from tf2_eager import classifier
from tf2_eager import optimizers
from tf2_eager import steps
from tf2_eager import train as tf2_train
from tf2_eager import weights

# The line a worker logs once its first step is done, that is once every
# worker has joined the first all-reduce.
FIRST_STEP_LOG = "first step done"
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
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, num_replicas: int,
    checkpoint_every: int = 0,
) -> dict[str, Any]:
    """Trains with MirroredStrategy over num_replicas devices of this process.

    Returns:
      The metrics of tf2_eager.train.train, for the global batch.

    Raises:
      ValueError: If the batch does not divide over the replicas, there are
        too few devices, config.device pins one device, or config.rng is not
        "numpy".
    """
    replication.check_batch_split(config.batch_size, num_replicas)
    if config.device:
        raise ValueError(
            f"MirroredStrategy places replicas on {num_replicas} devices; "
            f"--device={config.device} pins a run to one. Drop --device."
        )
    strategy = tf.distribute.MirroredStrategy(configure_devices(num_replicas))
    return train_with_strategy(strategy, config, dataset, checkpoint_every)


def train_with_strategy(
    strategy: tf.distribute.Strategy,
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    checkpoint_every: int = 0,
) -> dict[str, Any]:
    """The custom training loop under any strategy of this process.

    With config.output_dir, checkpoints go where TensorFlow's multi-worker
    guide puts them: the chief writes to output_dir, the other workers to a
    directory of their own that is deleted again (every worker must take
    part in saving). A run whose output_dir holds a checkpoint resumes from
    it; the batches are a function of the step, so the resumed run ends
    where an uninterrupted one would.

    Args:
      strategy: MirroredStrategy, MultiWorkerMirroredStrategy, or the default.
      config: The run's configuration; config.batch_size is the global batch.
      dataset: The data; every worker reads its own copy.
      checkpoint_every: Also checkpoint every this many steps (0: at the end
        only); needs config.output_dir.

    Returns:
      The metrics of tf2_eager.train.train; the loss trace covers the steps
      this call ran.
    """
    num_replicas = strategy.num_replicas_in_sync
    replication.check_batch_split(config.batch_size, num_replicas)
    replication.check_numpy_rng(config, f"{type(strategy).__name__}")
    config.check_fits(dataset.train_size)
    train_labels, test_labels = dataset.encoded_labels(not config.integer_labels)

    # Variables made under the scope are mirrored: one copy per replica,
    # kept equal because every copy gets the same update.
    with strategy.scope():
        model = tf2_train.MODELS[config.model].create(config)
        weights.assign(
            model.trainable_variables,
            config.draw_initial_values(
                {weights.variable_name(v): v.shape.as_list() for v in model.trainable_variables}
            ),
        )
        optimizer = optimizers.create(config)
        completed_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="completed_steps")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, completed_steps=completed_steps)
    manager = _checkpoint_manager(checkpoint, strategy, config.output_dir)
    # Every worker resumes from the chief's latest checkpoint.
    latest = tf.train.latest_checkpoint(config.output_dir) if manager is not None else None
    if latest:
        checkpoint.restore(latest)
        logging.info("Resumed from %s after step %d.", latest, int(completed_steps.numpy()))

    train_step = make_distributed_train_step(strategy, model, config, optimizer)
    count_correct = steps.make_count_correct(model)

    def test_accuracy() -> float:
        return int(count_correct(dataset.test_images, test_labels)) / dataset.test_size

    first_step = int(completed_steps.numpy())
    if first_step >= config.steps:
        raise ValueError(
            f"{config.output_dir} holds a checkpoint after step {first_step}, so a run "
            f"of {config.steps} steps has nothing left to do; raise --steps to train "
            "on, or give a new --output_dir to start over."
        )
    accuracy_trace = {}
    loss_trace = []
    progress = reporting.ProgressLogger(
        f"tf2_eager {type(strategy).__name__} x{num_replicas}", config.steps - first_step,
        config.batch_size,
    )
    if first_step == 0 and 0 in config.eval_steps:
        accuracy_trace[0] = test_accuracy()
    start = time.perf_counter()
    for step in range(first_step, config.steps):
        batch = mnist_data.batch_indices(config.seed, step, config.batch_size, dataset.train_size)
        images = distribute_batch(strategy, dataset.train_images[batch])
        labels = distribute_batch(strategy, train_labels[batch])
        loss_trace.append(float(train_step(images, labels)))
        completed_steps.assign(step + 1)
        if step == first_step:
            logging.info("%s (worker %s).", FIRST_STEP_LOG, _task_id(strategy))
        if not config.allow_nonfinite:
            checks.check_finite_loss(loss_trace[-1], step, config.loss)
        progress.step_done(step + 1 - first_step, loss_trace[-1])
        if step + 1 in config.eval_steps:
            accuracy_trace[step + 1] = test_accuracy()
        if manager is not None and checkpoint_every and (step + 1) % checkpoint_every == 0:
            logging.info("Saved checkpoint %s.", manager.save(checkpoint_number=step + 1))
    seconds = time.perf_counter() - start
    checkpoint_path = manager.save(checkpoint_number=config.steps) if manager is not None else None
    if manager is not None and not _is_chief(strategy):
        # Only the chief's checkpoint is kept, as the multi-worker guide does.
        shutil.rmtree(manager.directory, ignore_errors=True)
        checkpoint_path = None
    return reporting.run_metrics(
        side="tf2_eager",
        model=config.model,
        dataset=dataset.describe(),
        accuracy_trace=accuracy_trace,
        loss_trace=loss_trace,
        seconds=seconds,
        checkpoint=checkpoint_path,
        weights=weights.read(model.trainable_variables),
    )


def make_distributed_train_step(
    strategy: tf.distribute.Strategy,
    model: tf.Module,
    config: config_lib.TrainConfig,
    optimizer: Any,
) -> Callable[[Any, Any], tf.Tensor]:
    """Returns a tf.function: one replicated step on distributed images and
    labels, returning the global batch's loss (computed before the update).

    Each replica computes the gradient of its weighted loss, then one
    all-reduce in the replica context sums the losses and the gradients over
    all replicas of all workers: what SyncReplicasOptimizer's accumulators
    and the towers' sum did in TF1. The update is applied once, in
    cross-replica context, so every mirrored copy gets the same update. A
    Keras optimizer could also be called inside strategy.run, where it
    all-reduces by itself; applying outside serves the TF1-semantics
    optimizers of tf2_eager/optimizers.py too, which assign their slots
    directly, as MirroredVariables allow only in cross-replica context.
    """
    loss_fn = functools.partial(classifier.loss, form=config.loss)
    loss_weight = replication.loss_weight(config.loss, strategy.num_replicas_in_sync)
    call_arguments = {"training": True} if config.dropout_keep < 1 else {}

    def replica_step(images: tf.Tensor, labels: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            weighted_loss = loss_fn(labels, model(images, **call_arguments)) * loss_weight
        gradients = tape.gradient(weighted_loss, model.trainable_variables)
        return tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, [weighted_loss, *gradients]
        )

    @tf.function
    def train_step(images: Any, labels: Any) -> tf.Tensor:
        # After the all-reduce every replica holds the same sums; the first
        # local replica's are applied.
        loss_value, *gradients = [
            strategy.experimental_local_results(summed)[0]
            for summed in strategy.run(replica_step, args=(images, labels))
        ]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss_value

    return train_step


def distribute_batch(strategy: tf.distribute.Strategy, global_batch: Any) -> Any:
    """Gives each replica its rows of the global batch (replication.shard).

    Every worker holds the whole global batch (it is a function of the seed
    and the step), so each replica, numbered across all workers, just takes
    its slice: no data moves between processes.
    """
    num_replicas = strategy.num_replicas_in_sync
    return strategy.experimental_distribute_values_from_function(
        lambda context: replication.shard(global_batch, num_replicas, context.replica_id_in_sync_group)
    )


def run_worker(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    collective_timeout: float,
    checkpoint_every: int = 0,
) -> dict[str, Any]:
    """Trains as one MultiWorkerMirroredStrategy worker of the TF_CONFIG cluster.

    Args:
      config: The run's configuration, the same on every worker.
      dataset: The data.
      collective_timeout: Seconds one all-reduce may take; beyond it, or when
        a peer's connection drops, the worker stops with PeerLostError.
      checkpoint_every: See train_with_strategy.

    Raises:
      ValueError: If TF_CONFIG is missing or names no worker task, or this
        worker's port is in use.
      PeerLostError: If a collective operation fails.
    """
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    cluster = resolver.cluster_spec().as_dict()
    if not cluster.get("worker") or resolver.task_type not in ("worker", "chief"):
        raise ValueError(
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
    try:
        return train_with_strategy(strategy, config, dataset, checkpoint_every)
    except _PEER_ERRORS as error:
        logging.error("%s: %s", role, error)
        raise PeerLostError(
            f"{role} stopped: an all-reduce with the other workers failed "
            f"({type(error).__name__}, logged above). A peer "
            f"is down or did not answer within {collective_timeout} s; check "
            "the other workers' logs, then rerun (with --output_dir the run "
            "resumes from its last checkpoint)."
        ) from error


def start_local_workers(
    processes: local_cluster.LocalProcesses,
    config: config_lib.TrainConfig,
    num_workers: int,
    result_dir: str,
    collective_timeout: float,
    checkpoint_every: int = 0,
) -> list[str]:
    """Starts num_workers worker processes on free loopback ports.

    Each runs `python -m tf2_eager.distributed` with its own TF_CONFIG.

    Returns:
      The .npz path each worker writes its metrics to, by worker index.
    """
    ports = local_cluster.free_loopback_ports(num_workers)
    cluster = {"worker": [f"{local_cluster.LOOPBACK}:{port}" for port in ports]}
    config_path = os.path.join(result_dir, "config.json")
    # The workers read everything from this file, --checkpoint_every included.
    config = dataclasses.replace(config, checkpoint_every=checkpoint_every)
    with open(config_path, "w") as file:
        file.write(replication.config_to_json(config))
    results = []
    for index in range(num_workers):
        results.append(os.path.join(result_dir, f"worker_{index}.npz"))
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.start(
            f"worker_{index}",
            local_cluster.python_module_argv(
                "tf2_eager.distributed",
                "--strategy=multi_worker",
                f"--worker_config={config_path}",
                f"--metrics_npz={results[-1]}",
                f"--collective_timeout={collective_timeout}",
            ),
            local_cluster.child_environment(TF_CONFIG=tf_config),
        )
    return results


def train_multi_worker(
    config: config_lib.TrainConfig,
    num_workers: int,
    collective_timeout: float = 60.0,
    run_timeout: float = 3600.0,
    checkpoint_every: int = 0,
) -> list[dict[str, Any]]:
    """Runs num_workers MultiWorkerMirroredStrategy workers on this machine.

    Returns:
      Every worker's metrics, by worker index.

    Raises:
      ValueError: If the batch does not divide over the workers or
        config.rng is not "numpy" (checked before any process starts).
      mnist_data.local_cluster.WorkerFailedError: If a worker fails or the
        run outlasts run_timeout; every worker is killed and reaped first.
    """
    replication.check_batch_split(config.batch_size, num_workers)
    replication.check_numpy_rng(config, "MultiWorkerMirroredStrategy")
    with tempfile.TemporaryDirectory(prefix="multi_worker_") as result_dir:
        with local_cluster.LocalProcesses(result_dir) as processes:
            results = start_local_workers(
                processes, config, num_workers, result_dir, collective_timeout, checkpoint_every
            )
            processes.wait(run_timeout, grace_seconds=collective_timeout + _GRACE_SECONDS)
        return [local_cluster.load_metrics(path) for path in results]


def _checkpoint_manager(
    checkpoint: tf.train.Checkpoint, strategy: tf.distribute.Strategy, output_dir: Optional[str]
) -> Optional[tf.train.CheckpointManager]:
    if not output_dir:
        return None
    directory = output_dir if _is_chief(strategy) else os.path.join(
        output_dir, f"worker_{_task_id(strategy)}_temporary"
    )
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=1)


def _task_id(strategy: tf.distribute.Strategy) -> int:
    resolver = strategy.cluster_resolver
    return resolver.task_id if resolver is not None and resolver.task_id is not None else 0


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Worker 0 is the chief when the cluster has no "chief" task."""
    resolver = strategy.cluster_resolver
    if resolver is None or resolver.task_type in (None, "chief"):
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    strategy = distribute_flags.STRATEGY.value
    num_replicas = distribute_flags.NUM_REPLICAS.value
    with reporting.exit_with_message_on(
        *definitions.EXPECTED_ERRORS, PeerLostError, local_cluster.WorkerFailedError
    ):
        config = distribute_flags.to_config()
        if strategy == "multi_worker" and "TF_CONFIG" not in os.environ:
            all_metrics = train_multi_worker(
                config, num_replicas, distribute_flags.COLLECTIVE_TIMEOUT.value,
                distribute_flags.RUN_TIMEOUT.value, config.checkpoint_every,
            )
            metrics = all_metrics[0]
        else:
            dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
            if strategy == "multi_worker":
                metrics = run_worker(
                    config, dataset, distribute_flags.COLLECTIVE_TIMEOUT.value,
                    config.checkpoint_every,
                )
            elif strategy == "mirrored":
                metrics = train_mirrored(
                    config, dataset, num_replicas, config.checkpoint_every
                )
            else:
                metrics = tf2_train.train(config, dataset)
    reporting.finish_run(metrics, definitions.JSON_PATH.value)
    if distribute_flags.METRICS_NPZ.value:
        local_cluster.save_metrics(distribute_flags.METRICS_NPZ.value, metrics)


if __name__ == "__main__":
    app.run(main)
