"""Trains a legacy model a few steps and saves it as TF1 training did: Saver files.

What `train_and_save` writes in OUTPUT_DIR/MODEL/ is what a team that no
longer has a runnable TF1 builder still has:
- model.ckpt-N.meta, .index, .data-*: `tf.compat.v1.train.Saver().save(...,
  global_step=N)`, every global variable (optimizer slots and step counters
  included). The MetaGraphDef holds the collections "images", "labels",
  "outputs", "loss" and "train_op" (one tensor or op each), and the input
  placeholders are named "images" and "labels", so a loader finds them. The
  collection "layers" holds the model's named intermediate tensors in order.
- run.json (RUN_FILE): the model, its tensor names and its layers' ({layer:
  tensor name}), the mode feeds by tensor name ({"keep_prob:0": 0.5}), the
  loss at every step, the model variables (those the outputs read) in
  creation order with shapes and trainability, and how far each moving
  statistic moved.

It must run with legacy Keras (tf1_graph/legacy), i.e. in a child process:
tf1_graph/legacy/train_and_save.py is its command.
"""

import dataclasses
import json
import os
import signal
import subprocess
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

import mnist_data
from mnist_data import batching
from runtime import local_cluster
from tf1_graph import legacy
from runtime import errors

RUN_FILE = "run.json"
DEFAULT_TIMEOUT_SECONDS = 300.0
# The last characters of a failed child's stderr that the error quotes.
_STDERR_TAIL_CHARS = 3000
CHECKPOINT_BASENAME = "model.ckpt"
# The collections that name the graph's endpoints in the saved MetaGraphDef.
ENDPOINT_COLLECTIONS = ("images", "labels", "outputs", "loss", "train_op")
# The collection of the model's named intermediate tensors, in order.
LAYERS_COLLECTION = "layers"
_VARIABLE_OP_TYPES = ("VarHandleOp", "VariableV2", "Variable")


def _labels_placeholder(label_format: str) -> tf.Tensor:
    if label_format == "one_hot":
        return tf.compat.v1.placeholder(tf.float32, [None, mnist_data.NUM_CLASSES], name="labels")
    return tf.compat.v1.placeholder(tf.int64, [None], name="labels")


def _encode_labels(labels: np.ndarray, label_format: str) -> np.ndarray:
    return mnist_data.one_hot(labels) if label_format == "one_hot" else labels


def upstream_variable_ops(tensor: tf.Tensor) -> set[str]:
    """Names of the variable ops `tensor` reads, through every branch of a cond."""
    seen, stack, found = set(), [tensor.op], set()
    while stack:
        operation = stack.pop()
        if operation.name in seen:
            continue
        seen.add(operation.name)
        if operation.type in _VARIABLE_OP_TYPES:
            found.add(operation.name)
        stack.extend(t.op for t in operation.inputs)
        stack.extend(operation.control_inputs)
    return found


def _feed_names(feed: dict) -> dict[str, Any]:
    return {tensor.name: (value.item() if isinstance(value, np.generic) else value)
            for tensor, value in feed.items()}


def train_and_save(
    model_name: str, steps: int, output_dir: str, batch_size: int = 50, seed: int = 0
) -> dict[str, Any]:
    """Builds tf1_graph.legacy.MODEL_NAME, trains `steps` steps on the embedded
    MNIST, saves it, and returns what run.json holds.

    Args:
      model_name: One of tf1_graph.legacy.MODEL_NAMES.
      steps: Training steps, >= 1; the checkpoint is model.ckpt-STEPS.
      output_dir: The files go in output_dir/model_name/.
      batch_size: Examples per step.
      seed: Graph seed (initial values, dropout) and batch order.

    Raises:
      LegacyKerasError: Without legacy Keras (see tf1_graph/legacy).
      ValueError: For an unknown model or steps < 1.
    """
    if steps < 1:
        raise errors.FixableError(f"steps must be >= 1, got {steps}.")
    module = legacy.model_module(model_name)
    legacy.require_legacy_keras()
    dataset = mnist_data.load_dataset("mnist_embedded")
    directory = os.path.join(output_dir, model_name)
    os.makedirs(directory, exist_ok=True)
    model = _build_graph(module, seed)
    losses, moving_statistics_change, checkpoint = _train(
        model, module.LABELS, dataset, steps, batch_size, seed, directory)
    run = {
        "model": model_name,
        "labels": module.LABELS,
        "checkpoint": checkpoint,
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "tensors": {key: value.name for key, value in model.endpoints.items()},
        "layers": {name: tensor.name for name, tensor in model.layers.items()},
        "train_feed": _feed_names(model.train_feed),
        "eval_feed": _feed_names(model.eval_feed),
        "losses": losses,
        "variables": [{"name": v.op.name, "shape": v.shape.as_list(),
                       "trainable": v.op.name in model.trainable} for v in model.variables],
        "update_ops": len(model.graph.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)),
        "moving_statistics_change": moving_statistics_change,
    }
    with open(os.path.join(directory, RUN_FILE), "w") as run_file:
        json.dump(run, run_file, indent=2)
    return run


@dataclasses.dataclass
class _LegacyGraph:
    """A legacy model's graph and what train_and_save runs and records of it."""

    graph: tf.Graph
    built: dict[str, Any]  # What the model's build() returned.
    endpoints: dict[str, tf.Tensor]  # images, labels, outputs, loss, train_op.
    layers: dict[str, tf.Tensor]
    train_feed: dict[tf.Tensor, Any]
    eval_feed: dict[tf.Tensor, Any]
    trainable: set[str]  # The trainable variables' op names.
    variables: list[tf.Variable]  # The variables the outputs read.
    moving: list[tf.Variable]  # Those of them that are not trainable.
    initializer: tf.Operation
    saver: tf.compat.v1.train.Saver


def _build_graph(module: Any, seed: int) -> _LegacyGraph:
    """Builds `module`'s model on placeholders in a new graph, with its
    endpoints and layers in the MetaGraphDef's collections."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(seed)
        images = tf.compat.v1.placeholder(
            tf.float32, [None, mnist_data.IMAGE_PIXELS], name="images")
        labels = _labels_placeholder(module.LABELS)
        built = module.build(images, labels)
        endpoints = {"images": images, "labels": labels, **{
            key: built[key] for key in ("outputs", "loss", "train_op")}}
        for collection, value in endpoints.items():
            tf.compat.v1.add_to_collection(collection, value)
        # The named intermediate tensors, in order, for a forward failure's localisation.
        layers = built.get("layers", {})
        for tensor in layers.values():
            tf.compat.v1.add_to_collection(LAYERS_COLLECTION, tensor)
        read = upstream_variable_ops(built["outputs"])
        trainable = {v.op.name for v in tf.compat.v1.trainable_variables()}
        model_variables = [v for v in tf.compat.v1.global_variables() if v.op.name in read]
        moving = [v for v in model_variables if v.op.name not in trainable]
        initializer = tf.compat.v1.global_variables_initializer()
        saver = tf.compat.v1.train.Saver()
    return _LegacyGraph(
        graph, built, endpoints, layers, built.get("train_feed", {}), built.get("eval_feed", {}),
        trainable, model_variables, moving, initializer, saver)


def _train(
    model: _LegacyGraph,
    label_format: str,
    dataset: mnist_data.Dataset,
    steps: int,
    batch_size: int,
    seed: int,
    directory: str,
) -> tuple[list[float], dict[str, float], str]:
    """Trains `steps` steps and saves directory/model.ckpt-STEPS.

    Returns:
      (the loss of each step, {moving statistic: its largest change},
       the checkpoint's path).
    """
    images, labels = model.endpoints["images"], model.endpoints["labels"]
    losses = []
    with tf.compat.v1.Session(graph=model.graph) as session:
        session.run(model.initializer)
        moving_before = session.run(model.moving)
        for step in range(steps):
            indices = batching.batch_indices(seed, step, batch_size, len(dataset.train_images))
            feed = {images: dataset.train_images[indices],
                    labels: _encode_labels(dataset.train_labels[indices], label_format),
                    **model.train_feed}
            _, loss_value = session.run(
                [model.built["train_op"], model.built["loss"]], feed_dict=feed)
            losses.append(float(loss_value))
        moving_after = session.run(model.moving)
        checkpoint = model.saver.save(
            session, os.path.join(directory, CHECKPOINT_BASENAME), global_step=steps)
    moving_statistics_change = {
        v.op.name: float(np.max(np.abs(after - before)))
        for v, before, after in zip(model.moving, moving_before, moving_after)}
    return losses, moving_statistics_change, checkpoint


def train_and_save_in_child(
    model_names: Sequence[str],
    steps: int,
    output_dir: str,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, dict[str, Any]]:
    """Runs `python -m tf1_graph.legacy.train_and_save` under legacy Keras and
    returns {model name: its run.json}.

    Callable from a Keras 3 process (a test): the child gets
    TF_USE_LEGACY_KERAS=1 before it imports TensorFlow. It runs in its own
    process group, which is killed when the time runs out or the caller is
    interrupted, and it is reaped on every path.

    Raises:
      ValueError: For a name not in tf1_graph.legacy.MODEL_NAMES.
      local_cluster.WorkerFailedError: If the child exits non-zero (its
        LegacyKerasError, when tf-keras or tf-slim is missing, included) or
        runs out of time; the message ends with its stderr.
    """
    for name in model_names:
        legacy.model_module(name)  # An unknown name fails here, before a child starts.
    argv = local_cluster.python_module_argv(
        "tf1_graph.legacy.train_and_save", f"--model={','.join(model_names)}",
        f"--steps={steps}", f"--output_dir={output_dir}")
    process = subprocess.Popen(
        argv, env=local_cluster.child_environment(**legacy.ENVIRONMENT),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=timeout_seconds)
    except BaseException as error:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        if isinstance(error, subprocess.TimeoutExpired):
            raise local_cluster.WorkerFailedError(
                f"The legacy child training {list(model_names)} did not finish within "
                f"{timeout_seconds} s and was killed:\n{stderr[-_STDERR_TAIL_CHARS:]}"
            ) from error
        raise
    if process.returncode != 0:
        raise local_cluster.WorkerFailedError(
            f"The legacy child training {list(model_names)} failed (exit code "
            f"{process.returncode}):\n{stderr[-_STDERR_TAIL_CHARS:]}"
        )
    runs = {}
    for name in model_names:
        with open(os.path.join(output_dir, name, RUN_FILE)) as run_file:
            runs[name] = json.load(run_file)
    return runs
