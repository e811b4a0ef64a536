"""Trains a tf1_graph model the TF1 way: one Graph, one Session, feed_dict.

    python -m tf1_graph.train --flagfile=flags/hvass_softmax.cfg --json=tf1.json

`train(config, dataset)` is the library entry point for the MNIST
classifiers on one device (tests call it); tf1_graph/towers.py and
tf1_graph/cluster.py place the same graph on several devices or processes,
and all three run tf1_graph/session_loop.py. EXPERIMENTS runs the small
models, which bring their own data. The command's main turns the flags into
a TrainConfig, checks it before anything is built and calls `run`, which
picks the way --strategy names, as tf2_eager.distributed.main does.
"""

from typing import Any, Optional, Sequence

from absl import app

import mnist_data
from flags import config as config_lib
from flags import distribute as distribute_flags
from runtime import local_cluster
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


def run(
    config: config_lib.TrainConfig,
    strategy: str = "none",
    num_replicas: int = 1,
    plots_dir: Optional[str] = None,
    collective_timeout: float = 60.0,
    run_timeout: float = 3600.0,
) -> dict[str, Any]:
    """Runs config.model the way `strategy` (--strategy) says: on one device,
    as towers over num_replicas devices (tf1_graph.towers), or as a
    parameter server and num_replicas workers on loopback (tf1_graph.cluster).
    Every way goes through tf1_graph/session_loop.py; a standalone model runs
    its experiment. The same function as tf2_eager.distributed.run.

    Returns:
      The run's metrics; of worker 0 on a cluster.
    """
    if config.model in EXPERIMENTS:
        return EXPERIMENTS[config.model](config)
    dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
    if strategy == "multi_worker":
        # The workers load the data themselves; this copy serves the figures.
        metrics = cluster.train(config, num_replicas, collective_timeout, run_timeout)[0]
    elif strategy == "mirrored":
        metrics = towers.train(config, dataset, num_replicas)
    else:
        metrics = train(config, dataset)
    if plots_dir:
        _write_figures(plots_dir, metrics, dataset)
    return metrics


def _write_figures(plots_dir: str, metrics: dict[str, Any], dataset: mnist_data.Dataset) -> None:
    # Imported here: matplotlib is only needed for figures.
    from runtime import figures

    figures.write_run_figures(
        plots_dir, metrics, dataset.test_images, dataset.test_labels,
        metrics["test_predictions"],
        weights=metrics["weights"].get("softmax_regression/weights"),
    )


def main(argv: Sequence[str]) -> None:
    """`python -m tf1_graph.train`: flags in, one run (see `run`), the report out."""
    distribute_flags.run_command(
        argv, session_loop.SIDE, run, (cluster.ClusterTimeoutError, local_cluster.WorkerFailedError)
    )


if __name__ == "__main__":
    app.run(main)
