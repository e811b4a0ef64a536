"""Between-graph replication, the TF1 cluster idiom: ClusterSpec, Server,
replica_device_setter, one parameter server and N workers.

    cluster.train(config, dataset_name, num_workers=2)

starts the parameter server and the workers as processes on free 127.0.0.1
ports. On real machines each runs the classic command (one per machine):

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
matched step by step. SyncReplicasOptimizer is not used: with
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
import tempfile
from typing import Any, Sequence

from absl import app
from absl import logging
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from flags import replication
from mnist_data import local_cluster
from mnist_data import reporting
from tf1_graph import classifier
from tf1_graph import session_loop
from tf1_graph import train as tf1_train
from tf1_graph import weights

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
        raise ValueError(
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


def run_worker(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    spec: tf.train.ClusterSpec,
    task_index: int,
    timeout_seconds: float,
) -> dict[str, Any]:
    """Trains as worker task_index; returns its metrics.

    The chief's (worker 0's) test accuracy and weights are the final ones,
    measured after every worker has finished; another worker's are what it
    saw when it finished.

    Raises:
      ClusterTimeoutError: If the variables are not ready, or the other
        workers do not finish, within timeout_seconds.
    """
    replication.check_numpy_rng(config, "The TF1 cluster")
    config.check_fits(dataset.train_size)
    num_workers = spec.num_tasks("worker")
    is_chief = task_index == 0
    server = _start_server(spec, "worker", task_index)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(config.seed)
        # Variables go to the parameter server, everything else stays on
        # this worker.
        with tf.compat.v1.device(tf.compat.v1.train.replica_device_setter(
            worker_device=f"/job:worker/task:{task_index}", cluster=spec
        )):
            images, labels = classifier.placeholder_inputs(config)
            endpoints = tf1_train.MODELS[config.model].build(images, labels, config)
            trainable = tf.compat.v1.trainable_variables()
            loader = weights.Loader(trainable)
            # The chief sets this flag only after loading the numpy initial
            # values; without it, another worker could start training on the
            # initialisers' values in between. collections=[] keeps it out
            # of global_variables_initializer.
            weights_loaded = tf.compat.v1.Variable(True, trainable=False, collections=[], name="weights_loaded")
        finished, shutdown = _queues(num_workers)
        report_finished = finished.enqueue(task_index)
        wait_for_all_finished = finished.dequeue_many(num_workers)
        release_parameter_server = shutdown.enqueue(0)
        ready = tf.compat.v1.report_uninitialized_variables(
            tf.compat.v1.global_variables() + [weights_loaded]
        )
        initializer = tf.compat.v1.global_variables_initializer()
    graph.finalize()
    feeds = session_loop.Feeds(
        images, labels, endpoints["keep_prob"], endpoints["loss"], endpoints["train_op"],
        endpoints["correct"],
    )
    # Other workers poll every second for the chief's initialisation, not
    # SessionManager's default 30 s.
    manager = tf.compat.v1.train.SessionManager(ready_op=ready, graph=graph, recovery_wait_secs=1)
    # Device filters keep this worker from waiting on the other workers,
    # which it never needs to talk to.
    session_config = tf.compat.v1.ConfigProto(
        device_filters=["/job:ps", f"/job:worker/task:{task_index}"]
    )
    if is_chief:
        initial_values = config.draw_initial_values(
            {weights.variable_name(v): v.shape.as_list() for v in trainable}
        )

        def load_initial_values(session: tf.compat.v1.Session) -> None:
            loader.load(session, initial_values)
            session.run(weights_loaded.initializer)

        session = manager.prepare_session(
            server.target, init_op=initializer, init_fn=load_initial_values,
            config=session_config, max_wait_secs=timeout_seconds,
        )
    else:
        try:
            session = manager.wait_for_session(
                server.target, config=session_config, max_wait_secs=timeout_seconds
            )
        except tf.errors.DeadlineExceededError as error:
            raise ClusterTimeoutError(
                f"Worker {task_index}: the chief did not initialise the variables "
                f"within {timeout_seconds} s; check worker 0's log."
            ) from error
    with session:
        accuracy_trace = {}
        if is_chief and 0 in config.eval_steps:
            accuracy_trace[0] = session_loop.test_accuracy(session, feeds, dataset, config)
        loss_trace, _, seconds = session_loop.run_steps(
            session, feeds, dataset, config, range(task_index, config.steps, num_workers), (),
            f"tf1_graph worker {task_index}/{num_workers}",
        )
        session.run(report_finished, options=_run_options(timeout_seconds))
        if is_chief:
            try:
                session.run(wait_for_all_finished, options=_run_options(timeout_seconds))
            except tf.errors.DeadlineExceededError as error:
                raise ClusterTimeoutError(
                    f"Not every worker finished within {timeout_seconds} s of the "
                    "chief; check the other workers' logs."
                ) from error
        accuracy_trace[config.steps] = session_loop.test_accuracy(session, feeds, dataset, config)
        final_weights = weights.read(session, trainable)
        if is_chief:
            session.run(release_parameter_server, options=_run_options(timeout_seconds))
    return reporting.run_metrics(
        side="tf1_graph",
        model=config.model,
        dataset=dataset.describe(),
        accuracy_trace=accuracy_trace,
        loss_trace=loss_trace,
        seconds=seconds,
        checkpoint=None,
        weights=final_weights,
    )


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
      hold the final weights and test accuracy.

    Raises:
      ValueError: If config.rng is not "numpy" or num_workers < 1.
      mnist_data.local_cluster.WorkerFailedError: If a process fails or the
        run outlasts run_timeout; every process is killed and reaped first.
    """
    replication.check_numpy_rng(config, "The TF1 cluster")
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}.")
    ps_port, *worker_ports = local_cluster.free_loopback_ports(1 + num_workers)
    hosts = [
        f"--ps_hosts={local_cluster.LOOPBACK}:{ps_port}",
        "--worker_hosts=" + ",".join(f"{local_cluster.LOOPBACK}:{port}" for port in worker_ports),
        f"--collective_timeout={timeout_seconds}",
        f"--run_timeout={run_timeout}",
    ]
    with tempfile.TemporaryDirectory(prefix="tf1_cluster_") as work_dir:
        config_path = os.path.join(work_dir, "config.json")
        with open(config_path, "w") as file:
            file.write(replication.config_to_json(config))
        environment = local_cluster.child_environment()
        results = [os.path.join(work_dir, f"worker_{index}.npz") for index in range(num_workers)]
        with local_cluster.LocalProcesses(work_dir) as processes:
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
            processes.wait(run_timeout, grace_seconds=timeout_seconds)
        return [local_cluster.load_metrics(path) for path in results]


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    with reporting.exit_with_message_on(
        *definitions.EXPECTED_ERRORS, ClusterTimeoutError, local_cluster.WorkerFailedError
    ):
        config = distribute_flags.to_config()
        timeout = distribute_flags.COLLECTIVE_TIMEOUT.value
        job_name = distribute_flags.JOB_NAME.value
        if job_name is None:
            all_metrics = train(
                config, distribute_flags.NUM_REPLICAS.value, timeout, distribute_flags.RUN_TIMEOUT.value
            )
            metrics = all_metrics[0]
        else:
            spec = cluster_spec(distribute_flags.PS_HOSTS.value, distribute_flags.WORKER_HOSTS.value)
            if job_name == "ps":
                run_parameter_server(spec, distribute_flags.RUN_TIMEOUT.value)
                return
            dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
            metrics = run_worker(config, dataset, spec, distribute_flags.TASK_INDEX.value, timeout)
    reporting.finish_run(metrics, definitions.JSON_PATH.value)
    if distribute_flags.METRICS_NPZ.value:
        local_cluster.save_metrics(distribute_flags.METRICS_NPZ.value, metrics)


if __name__ == "__main__":
    app.run(main)
