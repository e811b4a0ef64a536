"""The one TF1 training graph, built for one device, towers or a cluster worker.

    graph = training_graph.build(config, dataset, placement, start_step, with_outputs)

builds the same endpoints whatever the placement: the inputs, the model's
loss and train op, the test predictions, the global step, the saver and the
summaries. A `Placement` says where the ops go and how a session on them
starts: `OneDevice` here (the documents' single Session, optionally under
tf.device), `towers.Towers` (one tower per device, summed gradients) and
`cluster.WorkerPlacement` (replica_device_setter on a parameter server).
tf1_graph/session_loop.py runs the result.
"""

import contextlib
import dataclasses
from typing import Any, Callable, ContextManager, Optional

import tensorflow as tf

import mnist_data
from flags import config as config_lib
from tf1_graph import classifier
from tf1_graph import in_graph_input
from tf1_graph import models
from tf1_graph import summaries as tf1_summaries
from tf1_graph import weights

Initialize = Callable[[tf.compat.v1.Session], None]


class Placement:
    """Where a training graph's ops go and how its session starts: one device.

    Subclasses override what differs for their kind of replication; every
    method here is what a single-device run does.
    """

    # The start of the progress lines.
    label = "tf1_graph"
    # Whether this process writes the run's outputs (checkpoints, summaries,
    # the export): the only process, or a cluster's worker 0.
    is_chief = True

    def device_scope(self) -> ContextManager[Any]:
        """The device scope the whole graph is built in."""
        return contextlib.nullcontext()

    def build_model(
        self, model: Any, images: tf.Tensor, labels: tf.Tensor, config: config_lib.TrainConfig
    ) -> dict[str, tf.Tensor | tf.Operation]:
        """The model's training endpoints, as classifier.build returns them."""
        return model.build(
            images, labels, config.model_config, config.loss, config.optimizer_config
        )

    def add_coordination_ops(self) -> None:
        """Adds the ops that coordinate with other processes (none here)."""

    def eval_steps(self, config: config_lib.TrainConfig) -> tuple[int, ...]:
        """After which steps (0: before training) this process evaluates
        during the loop; the final step is always evaluated at the end."""
        return config.eval_steps

    def steps(self, start_step: int, total_steps: int) -> range:
        """The 0-based global steps this process runs."""
        return range(start_step, total_steps)

    def open_session(self, graph: tf.Graph, initialize: Initialize) -> tf.compat.v1.Session:
        """A session on `graph` with its variables initialised by `initialize`."""
        session = tf.compat.v1.Session(graph=graph, config=self.session_config())
        initialize(session)
        return session

    def session_config(self) -> Optional[tf.compat.v1.ConfigProto]:
        """The ConfigProto of the session (None: TensorFlow's default)."""
        return None

    def start_peers(self, session: tf.compat.v1.Session) -> None:
        """Called once this process's hooks have begun (the step-0
        evaluation among them), before its first step."""

    def wait_for_peers(self, session: tf.compat.v1.Session, loss_trace: list[float]) -> list[float]:
        """Called after this process's last step; returns the run's loss trace.

        A single process has run every step, so its own trace is the run's.
        """
        return loss_trace

    def release_peers(self, session: tf.compat.v1.Session) -> None:
        """Called once this process has measured the final weights."""


class OneDevice(Placement):
    """The documents' placement: every op in one graph, on `device` if given."""

    def __init__(self, device: Optional[str]):
        self._device = device

    def device_scope(self) -> ContextManager[Any]:
        return tf.device(self._device) if self._device else contextlib.nullcontext()


@dataclasses.dataclass(frozen=True)
class TrainingGraph:
    """A built training graph and the endpoints the session loop runs.

    Attributes:
      graph: The graph, not yet finalised.
      images: The images fed to the model, float32 [None, 784]: a
        placeholder, or with the in-graph pipeline the scheduled batch
        (feedable with the test images).
      labels: The labels, one-hot float32 [None, 10] or int64 [None] ids.
      keep_prob: The dropout keep-probability, fed every training step.
      loss: The fed batch's loss, before the update.
      train_op: The update; it increments global_step.
      correct: Number of correct predictions among the fed examples.
      predictions: Predicted class of every fed image, int64 [None].
      learning_rate: The step's (scheduled) learning rate.
      shuffled_indices: A new permutation of the training set each run
        (the batch order of rng "tensorflow").
      trainable: The model's variables.
      loader: Loads values into `trainable` without adding ops.
      initializer: Initialises the global variables.
      preloaded: The in-graph batches, or None when batches are fed.
      saver: Writes and restores checkpoints, or None without outputs.
      summaries: The summary ops, or None without outputs.
    """

    graph: tf.Graph
    images: tf.Tensor
    labels: tf.Tensor
    keep_prob: tf.Tensor
    loss: tf.Tensor
    train_op: tf.Operation
    correct: tf.Tensor
    predictions: tf.Tensor
    learning_rate: tf.Tensor
    shuffled_indices: tf.Tensor
    trainable: list[tf.Variable]
    loader: weights.Loader
    initializer: tf.Operation
    preloaded: Optional[in_graph_input.PreloadedBatches]
    saver: Optional[tf.compat.v1.train.Saver]
    summaries: Optional[tf1_summaries.Summaries]


def build(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    placement: Placement,
    start_step: int,
    with_outputs: bool,
) -> TrainingGraph:
    """Builds config.model's training graph in a new tf.Graph, placed by `placement`.

    The ops are created in one fixed order, so that with rng "tensorflow"
    every op draws the same seeds from the graph-level seed on every path.

    Args:
      config: The run's configuration.
      dataset: The data; the in-graph pipeline preloads its training split.
      placement: Where the ops go.
      start_step: The first step to run; the in-graph schedule starts there.
      with_outputs: Whether to add the saver and the summary ops.
    """
    graph = tf.Graph()
    with graph.as_default(), placement.device_scope():
        tf.compat.v1.set_random_seed(config.seed)
        preloaded = _preloaded_batches(config, dataset, start_step)
        if preloaded:
            images, labels = preloaded.images, preloaded.labels
        else:
            images, labels = classifier.placeholder_inputs(config.integer_labels)
        endpoints = placement.build_model(models.MODELS[config.model], images, labels, config)
        trainable = tf.compat.v1.trainable_variables()
        loader = weights.Loader(trainable)
        predictions = tf.argmax(endpoints["outputs"], axis=1)
        shuffled_indices = tf.random.shuffle(tf.range(dataset.train_size))
        initializer = tf.compat.v1.global_variables_initializer()
        saver = tf.compat.v1.train.Saver(max_to_keep=3) if with_outputs else None
        summaries = (
            tf1_summaries.Summaries(endpoints["loss"], endpoints["learning_rate"])
            if with_outputs else None
        )
    with graph.as_default():
        placement.add_coordination_ops()
    return TrainingGraph(
        graph=graph,
        images=images,
        labels=labels,
        keep_prob=endpoints["keep_prob"],
        loss=endpoints["loss"],
        train_op=endpoints["train_op"],
        correct=endpoints["correct"],
        predictions=predictions,
        learning_rate=endpoints["learning_rate"],
        shuffled_indices=shuffled_indices,
        trainable=trainable,
        loader=loader,
        initializer=initializer,
        preloaded=preloaded,
        saver=saver,
        summaries=summaries,
    )


def _preloaded_batches(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, start_step: int
) -> Optional[in_graph_input.PreloadedBatches]:
    """The in-graph pipeline's batches of the steps still to run, or None
    when batches are fed. A finished run that is resumed gets one unused
    row (a schedule is never empty)."""
    if config.input_pipeline != "in_graph":
        return None
    train_labels, _ = dataset.encoded_labels(not config.integer_labels)
    return in_graph_input.PreloadedBatches(
        dataset.train_images, train_labels,
        mnist_data.batch_schedule(
            config.seed, start_step, max(config.steps - start_step, 1), config.batch_size, dataset.train_size
        ),
    )
