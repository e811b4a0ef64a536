"""Between-graph replication, the TF1 cluster idiom: ClusterSpec, Server,
replica_device_setter, one parameter server and N workers.

    cluster.train(config, num_workers=2)

(what `python -m tf1_graph.train --strategy=multi_worker --num_replicas=2`
runs) starts the parameter server and the workers as processes on free
127.0.0.1 ports. On real machines each runs the classic command (one per
machine):

    python -m tf1_graph.cluster --flagfile=flags/hvass_softmax.cfg \\
        --ps_hosts=ps0:2222 --worker_hosts=w0:2222,w1:2222 \\
        --job_name=worker --task_index=0

Every worker builds the whole graph under replica_device_setter, which puts
the variables on the parameter server and the computation on the worker,
and applies its own gradients to the shared variables as soon as it has
them: asynchronous updates, the default of TF1's guide. Worker w runs the
global steps w, w + N, w + 2N, ... of a single-device run, so the workers
together see the same batches; the updates interleave in whatever order the
processes run, so the result is checked for completion and accuracy, not
matched step by step. Each worker runs tf1_graph/session_loop.py with a
WorkerPlacement, so the flags of a one-device run apply; the chief alone
writes OUTPUT_DIR/tf1_graph and the export. SyncReplicasOptimizer is not used: with
MonitoredTrainingSession it left a worker waiting forever at the end of a
run, and its TF2 form is the all-reduce of MultiWorkerMirroredStrategy
anyway (tf2_eager/distributed.py).

Shutdown is explicit, so every process ends by itself: each worker enqueues
a token on a queue that lives on the parameter server when it is done; the
chief (worker 0) waits for all N, measures the final weights, then enqueues
the token the parameter server waits for before it exits. Every wait has a
timeout.
"""

import os
from typing import Any, Sequence

from absl import app
from absl import logging
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from flags import replication
from runtime import local_cluster
from runtime import reporting
from runtime import run_directory
from tf1_graph import session_loop
from tf1_graph import training_graph
from runtime import errors

PS_DEVICE = "/job:ps/task:0"


class ClusterTimeoutError(RuntimeError):
    """A process of the TF1 cluster waited longer than its timeout."""


def cluster_spec(ps_hosts: Sequence[str], worker_hosts: Sequence[str]) -> tf.train.ClusterSpec:
    """The ClusterSpec of one parameter server and the workers.

    Raises:
      ValueError: Unless there is exactly one parameter server and at least
        one worker.
    """
    if len(ps_hosts) != 1 or not worker_hosts:
        raise errors.FixableError(
            f"The TF1 cluster takes one parameter server and one or more workers, "
            f"got --ps_hosts={','.join(ps_hosts)} --worker_hosts={','.join(worker_hosts)}; "
            "pass e.g. --ps_hosts=127.0.0.1:2222 --worker_hosts=127.0.0.1:2223,127.0.0.1:2224."
        )
    return tf.train.ClusterSpec({"ps": list(ps_hosts), "worker": list(worker_hosts)})


def _queues(num_workers: int) -> tuple[tf.queue.FIFOQueue, tf.queue.FIFOQueue]:
    """The two queues on the parameter server that order the shutdown.

    A shared_name makes every process's queue op refer to the same queue.
    """
    with tf.device(PS_DEVICE):
        finished = tf.queue.FIFOQueue(num_workers, tf.int32, shapes=[[]], shared_name="workers_finished")
        shutdown = tf.queue.FIFOQueue(1, tf.int32, shapes=[[]], shared_name="shutdown")
    return finished, shutdown


def _start_server(spec: tf.train.ClusterSpec, job_name: str, task_index: int) -> tf.distribute.Server:
    address = spec.task_address(job_name, task_index)
    local_cluster.check_port_free(address, f"{job_name} {task_index}")
    return tf.distribute.Server(spec, job_name=job_name, task_index=task_index)


def _run_options(timeout_seconds: float) -> tf.compat.v1.RunOptions:
    return tf.compat.v1.RunOptions(timeout_in_ms=int(timeout_seconds * 1000))


def run_parameter_server(spec: tf.train.ClusterSpec, timeout_seconds: float) -> None:
    """Serves the variables until the chief says the run is over.

    Raises:
      ClusterTimeoutError: If no shutdown comes within timeout_seconds.
    """
    server = _start_server(spec, "ps", 0)
    graph = tf.Graph()
    with graph.as_default():
        _, shutdown = _queues(spec.num_tasks("worker"))
        wait_for_shutdown = shutdown.dequeue()
    # The filter keeps this session from contacting the workers when it
    # starts: they may still be starting, and gRPC would then back off from
    # them for a while, failing the chief's first use of this server.
    only_ps = tf.compat.v1.ConfigProto(device_filters=["/job:ps"])
    with tf.compat.v1.Session(server.target, graph=graph, config=only_ps) as session:
        try:
            session.run(wait_for_shutdown, options=_run_options(timeout_seconds))
        except tf.errors.DeadlineExceededError as error:
            raise ClusterTimeoutError(
                f"The parameter server got no shutdown from the chief within "
                f"{timeout_seconds} s; check the workers' logs."
            ) from error
    logging.info("Parameter server: the chief reported the end of the run.")


def check_config(config: config_lib.TrainConfig) -> None:
    """Raises ValueError for what the asynchronous cluster cannot do.

    Every worker must know each step's global batch (rng "numpy");
    replica_device_setter, not --device, places the ops; the in-graph
    pipeline would put the training set on the parameter server; and a
    checkpoint is written once every worker has finished, because
    only then does the chief hold the losses of every step before it.
    """
    replication.check_numpy_rng(config, "The TF1 cluster")
    if config.device:
        raise errors.FixableError(
            "replica_device_setter places the cluster's ops (variables on the parameter server, "
            f"the rest on each worker); --device={config.device} pins a run to one device. "
            "Drop --device."
        )
    if config.input_pipeline != "feed_dict":
        raise errors.FixableError(
            "The TF1 cluster feeds each worker its batches; --input_pipeline=in_graph would "
            "put the training set in variables on the parameter server. Drop "
            "--input_pipeline, or use --strategy=mirrored or one device."
        )
    if config.checkpoint_every:
        raise errors.FixableError(
            "The TF1 cluster's workers update asynchronously, so the chief holds the losses "
            "of every step only when all have finished; it checkpoints then. Drop "
            f"--checkpoint_every={config.checkpoint_every}, or use --strategy=mirrored or one device."
        )


class WorkerPlacement(training_graph.Placement):
    """Worker task_index of a cluster: variables on the parameter server.

    Worker w runs the global steps start + w, start + w + N, ...; when done
    it hands its losses to the chief through a queue on the parameter
    server and reports that it has finished. The chief (worker 0)
    initialises or restores the variables, waits for every worker, merges
    their losses into the run's trace, and finally releases the parameter
    server.
    """

    def __init__(
        self, spec: tf.train.ClusterSpec, task_index: int, total_steps: int, timeout_seconds: float
    ):
        self._spec = spec
        self._task_index = task_index
        self._num_workers = spec.num_tasks("worker")
        self._total_steps = total_steps
        self._timeout_seconds = timeout_seconds
        self.is_chief = task_index == 0
        self.label = f"tf1_graph worker {task_index}/{self._num_workers}"
        self._server = _start_server(spec, "worker", task_index)

    def device_scope(self) -> Any:
        # Variables go to the parameter server, everything else stays on
        # this worker.
        return tf.compat.v1.device(tf.compat.v1.train.replica_device_setter(
            worker_device=f"/job:worker/task:{self._task_index}", cluster=self._spec
        ))

    def add_coordination_ops(self) -> None:
        finished, shutdown = _queues(self._num_workers)
        with tf.device(PS_DEVICE):
            # The chief sets this flag only after loading the initial values;
            # without it, another worker could start training on the
            # initialisers' values in between. collections=[] keeps it out
            # of global_variables_initializer and the Saver.
            self._weights_loaded = tf.compat.v1.Variable(
                True, trainable=False, collections=[], name="weights_loaded")
            losses = tf.queue.FIFOQueue(
                max(self._total_steps, 1), [tf.int64, tf.float64], shapes=[[], []],
                shared_name="worker_losses")
            # The chief's go-ahead: the other workers train only once the
            # chief has evaluated the starting weights, which would
            # otherwise already hold their first updates.
            started = tf.queue.FIFOQueue(
                max(self._num_workers - 1, 1), tf.int32, shapes=[[]], shared_name="workers_started")
        self._let_peers_start = started.enqueue_many([tf.zeros([self._num_workers - 1], tf.int32)])
        self._wait_for_start = started.dequeue()
        self._own_steps = tf.compat.v1.placeholder(tf.int64, [None])
        self._own_losses = tf.compat.v1.placeholder(tf.float64, [None])
        self._send_losses = losses.enqueue_many([self._own_steps, self._own_losses])
        self._count = tf.compat.v1.placeholder(tf.int32, [])
        self._receive_losses = losses.dequeue_many(self._count)
        self._report_finished = finished.enqueue(self._task_index)
        self._wait_for_all_finished = finished.dequeue_many(self._num_workers)
        self._release_parameter_server = shutdown.enqueue(0)
        self._ready = tf.compat.v1.report_uninitialized_variables(
            tf.compat.v1.global_variables() + [self._weights_loaded])

    def eval_steps(self, config: config_lib.TrainConfig) -> tuple[int, ...]:
        # Asynchronous updates make a mid-run step's weights the chief's
        # alone to see; it evaluates before training, everyone at the end.
        return (0,) if self.is_chief and 0 in config.eval_steps else ()

    def steps(self, start_step: int, total_steps: int) -> range:
        # Remembered for wait_for_peers, which merges the run's steps from here.
        self._start_step = start_step
        return range(start_step + self._task_index, total_steps, self._num_workers)

    def open_session(self, graph: tf.Graph, initialize: training_graph.Initialize) -> tf.compat.v1.Session:
        # Other workers poll every second for the chief's initialisation, not
        # SessionManager's default 30 s.
        manager = tf.compat.v1.train.SessionManager(ready_op=self._ready, graph=graph, recovery_wait_secs=1)
        # Device filters keep this worker from waiting on the other workers,
        # which it never needs to talk to.
        session_config = tf.compat.v1.ConfigProto(
            device_filters=["/job:ps", f"/job:worker/task:{self._task_index}"])
        if self.is_chief:
            def initialize_and_flag(session: tf.compat.v1.Session) -> None:
                initialize(session)
                session.run(self._weights_loaded.initializer)

            return manager.prepare_session(
                self._server.target, init_fn=initialize_and_flag, config=session_config,
                max_wait_secs=self._timeout_seconds)
        try:
            return manager.wait_for_session(
                self._server.target, config=session_config, max_wait_secs=self._timeout_seconds)
        except tf.errors.DeadlineExceededError as error:
            raise ClusterTimeoutError(
                f"Worker {self._task_index}: the chief did not initialise the variables "
                f"within {self._timeout_seconds} s; check worker 0's log."
            ) from error

    def wait_for_peers(self, session: tf.compat.v1.Session, loss_trace: list[float]) -> list[float]:
        """Hands this worker's losses over; the chief returns every step's."""
        own_steps = list(self.steps(self._start_step, self._total_steps))
        # The trace ends with this worker's steps; before them, a resumed
        # chief's trace holds the saved steps' losses.
        split = len(loss_trace) - len(own_steps)
        earlier, own_losses = loss_trace[:split], loss_trace[split:]
        options = _run_options(self._timeout_seconds)
        if not self.is_chief:
            session.run(
                self._send_losses, {self._own_steps: own_steps, self._own_losses: own_losses},
                options=options)
            session.run(self._report_finished, options=options)
            return loss_trace
        session.run(self._report_finished, options=options)
        try:
            session.run(self._wait_for_all_finished, options=options)
        except tf.errors.DeadlineExceededError as error:
            raise ClusterTimeoutError(
                f"Not every worker finished within {self._timeout_seconds} s of the "
                "chief; check the other workers' logs."
            ) from error
        other_steps, other_losses = session.run(
            self._receive_losses, {self._count: self._total_steps - self._start_step - len(own_steps)},
            options=options)
        by_step = dict(zip(own_steps, own_losses)) | dict(zip(other_steps.tolist(), other_losses.tolist()))
        return earlier + [by_step[step] for step in range(self._start_step, self._total_steps)]

    def start_peers(self, session: tf.compat.v1.Session) -> None:
        options = _run_options(self._timeout_seconds)
        try:
            session.run(self._let_peers_start if self.is_chief else self._wait_for_start,
                        options=options)
        except tf.errors.DeadlineExceededError as error:
            raise ClusterTimeoutError(
                f"Worker {self._task_index}: the chief did not let the workers start within "
                f"{self._timeout_seconds} s; check worker 0's log."
            ) from error

    def release_peers(self, session: tf.compat.v1.Session) -> None:
        if self.is_chief:
            session.run(self._release_parameter_server, options=_run_options(self._timeout_seconds))


def run_worker(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    spec: tf.train.ClusterSpec,
    task_index: int,
    timeout_seconds: float,
) -> dict[str, Any]:
    """Trains as worker task_index; returns its metrics.

    The chief's (worker 0's) metrics are the run's: the loss of every step,
    whichever worker ran it, and the test accuracy, weights and predictions
    measured after every worker has finished; it alone writes
    OUTPUT_DIR/tf1_graph and the export. Another worker's metrics hold its
    own steps' losses and what it measured when it finished.

    Raises:
      ValueError: For what check_config refuses.
      ClusterTimeoutError: If the variables are not ready, or the other
        workers do not finish, within timeout_seconds.
    """
    check_config(config)
    config.check_fits(dataset.train_size)
    placement = WorkerPlacement(spec, task_index, config.steps, timeout_seconds)
    return session_loop.train(config, dataset, placement)


def train(
    config: config_lib.TrainConfig,
    num_workers: int,
    timeout_seconds: float = 60.0,
    run_timeout: float = 3600.0,
) -> list[dict[str, Any]]:
    """Runs a parameter server and num_workers workers on this machine.

    Args:
      config: The run's configuration; each step is one worker's batch of
        config.batch_size examples, and config.steps are shared out.
      num_workers: Worker processes.
      timeout_seconds: What each wait inside the cluster may take.
      run_timeout: What the whole run may take before every process is killed.

    Returns:
      Every worker's metrics, by worker index; the chief's come first and
      are the run's (run_worker says what each holds).

    Raises:
      ValueError: For what check_config refuses, num_workers < 1, or a run
        already in OUTPUT_DIR/tf1_graph without --resume or --overwrite
        (checked here, before any process starts).
      runtime.local_cluster.WorkerFailedError: If a process fails or the
        run outlasts run_timeout; every process is killed and reaped first.
      runtime.local_cluster.StoppedBySignalError: On SIGTERM or SIGINT,
        once every process has been ended (local_cluster.LocalProcesses;
        its temporary directory is removed on every way out).
    """
    check_config(config)
    if num_workers < 1:
        raise errors.FixableError(f"num_workers must be >= 1, got {num_workers}.")
    if config.output_dir:
        run_directory.prepare(config.output_dir, session_loop.SIDE, config.resume, config.overwrite)
    with local_cluster.LocalProcesses(prefix="tf1_cluster_") as processes:
        results = _start_processes(processes, config, num_workers, timeout_seconds, run_timeout)
        processes.wait(run_timeout, grace_seconds=timeout_seconds)
        return [local_cluster.load_metrics(path) for path in results]


def _start_processes(
    processes: local_cluster.LocalProcesses,
    config: config_lib.TrainConfig,
    num_workers: int,
    timeout_seconds: float,
    run_timeout: float,
) -> list[str]:
    """Starts the parameter server and the workers on free loopback ports;
    returns the .npz path each worker writes its metrics to."""
    hosts = [*_loopback_hosts(num_workers), f"--collective_timeout={timeout_seconds}",
             f"--run_timeout={run_timeout}"]
    environment = local_cluster.child_environment()
    config_path = os.path.join(processes.directory, "config.json")
    with open(config_path, "w") as file:
        file.write(replication.config_to_json(config))
    results = [os.path.join(processes.directory, f"worker_{index}.npz") for index in range(num_workers)]
    processes.start(
        "ps_0",
        local_cluster.python_module_argv(
            "tf1_graph.cluster", *hosts, "--job_name=ps", f"--worker_config={config_path}"
        ),
        environment,
    )
    for index, result in enumerate(results):
        processes.start(
            f"worker_{index}",
            local_cluster.python_module_argv(
                "tf1_graph.cluster", *hosts, "--job_name=worker", f"--task_index={index}",
                f"--worker_config={config_path}", f"--metrics_npz={result}",
            ),
            environment,
        )
    return results


def _loopback_hosts(num_workers: int) -> list[str]:
    """The --ps_hosts and --worker_hosts flags of a cluster on free loopback ports."""
    ps_port, *worker_ports = local_cluster.free_loopback_ports(1 + num_workers)
    return [
        f"--ps_hosts={local_cluster.LOOPBACK}:{ps_port}",
        "--worker_hosts=" + ",".join(f"{local_cluster.LOOPBACK}:{port}" for port in worker_ports),
    ]


def main(argv: Sequence[str]) -> None:
    """One process of a cluster: `--job_name=ps`, or `worker` with --task_index."""
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if distribute_flags.JOB_NAME.value is None:
        raise app.UsageError(
            "Pass --job_name=ps or --job_name=worker --task_index=I for one process of a "
            "cluster; `python -m tf1_graph.train --strategy=multi_worker --num_replicas=N` "
            "starts a whole cluster on this machine."
        )
    with reporting.exit_with_message_on(
        *definitions.EXPECTED_ERRORS, ClusterTimeoutError, local_cluster.WorkerFailedError
    ):
        config = distribute_flags.to_config()
        spec = cluster_spec(distribute_flags.PS_HOSTS.value, distribute_flags.WORKER_HOSTS.value)
        if distribute_flags.JOB_NAME.value == "ps":
            run_parameter_server(spec, distribute_flags.RUN_TIMEOUT.value)
            return
        dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
        metrics = run_worker(
            config, dataset, spec, distribute_flags.TASK_INDEX.value,
            distribute_flags.COLLECTIVE_TIMEOUT.value,
        )
    reporting.finish_run(metrics, definitions.JSON_PATH.value)
    if distribute_flags.METRICS_NPZ.value:
        local_cluster.save_metrics(distribute_flags.METRICS_NPZ.value, metrics)


if __name__ == "__main__":
    app.run(main)
