"""Trains a tf1_graph model the TF1 way: one Graph, one Session, feed_dict.

    python -m tf1_graph.train --flagfile=flags/hvass_softmax.cfg --json=tf1.json

`train(config, dataset)` is the library entry point for the MNIST
classifiers on one device (tests call it); tf1_graph/towers.py and
tf1_graph/cluster.py place the same graph on several devices or processes,
and all three run tf1_graph/session_loop.py. EXPERIMENTS runs the small
models, which bring their own data. The command's main,
flags.definitions.make_training_main, only turns the flags into a
TrainConfig, loads the data, calls one of them and writes the figures.
"""

from typing import Any, Sequence

from absl import app
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from runtime import errors
from runtime import local_cluster
from runtime import reporting
from tf1_graph import cluster
from tf1_graph import session_loop
from tf1_graph import towers
from tf1_graph import training_graph
# The registry lives in tf1_graph/models.py, which no loop imports back;
# the names stay readable here, where tests and compat_tests look them up.
from tf1_graph.models import EXPERIMENTS
from tf1_graph.models import MODELS  # noqa: F401


def train(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset
) -> dict[str, Any]:
    """Trains config.model on one device (config.device, if set) and
    evaluates it on the test split.

    With config.rng == "numpy", initial values and batches come from
    mnist_data (the same numbers tf2_eager.train uses); with "tensorflow",
    from the graph-level seed and an in-graph tf.random.shuffle.

    Returns:
      Metrics: test_accuracy, accuracy_trace ({step: accuracy}), loss_trace
      (loss of each step, before its update), final_loss, seconds, the
      final weights, the test predictions and the run's description.
    """
    return session_loop.train(config, dataset, training_graph.OneDevice(config.device))


def _train_on_towers(config: config_lib.TrainConfig, dataset: mnist_data.Dataset) -> dict[str, Any]:
    return towers.train(config, dataset, distribute_flags.NUM_REPLICAS.value)


def _train_on_cluster(config: config_lib.TrainConfig, dataset: mnist_data.Dataset) -> dict[str, Any]:
    """The chief's metrics of a parameter server and workers on loopback."""
    all_metrics = cluster.train(
        config,
        distribute_flags.NUM_REPLICAS.value,
        distribute_flags.COLLECTIVE_TIMEOUT.value,
        distribute_flags.RUN_TIMEOUT.value,
    )
    return all_metrics[0]


def main(argv: Sequence[str]) -> None:
    """`python -m tf1_graph.train`: one device; --strategy=mirrored builds
    towers over --num_replicas devices (tf1_graph.towers); multi_worker runs
    a parameter server and --num_replicas workers (tf1_graph.cluster). Every
    path takes the same flags and writes the same outputs."""
    strategy = distribute_flags.STRATEGY.value
    # Outputs, sizes and the device are checked before the graph is built,
    # so that a mistake in them costs no training.
    with reporting.exit_with_message_on(errors.FixableError):
        definitions.check_before_training(
            definitions.to_config(announce=False), session_loop.SIDE,
            [device.name for device in tf.config.list_logical_devices()]
            if strategy == "none" else None,
        )
    if strategy == "none":
        definitions.make_training_main(train, EXPERIMENTS)(argv)
    elif strategy == "mirrored":
        definitions.make_training_main(_train_on_towers, {})(argv)
    else:
        with reporting.exit_with_message_on(cluster.ClusterTimeoutError, local_cluster.WorkerFailedError):
            definitions.make_training_main(_train_on_cluster, {})(argv)


if __name__ == "__main__":
    app.run(main)
