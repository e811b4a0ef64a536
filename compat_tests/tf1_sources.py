"""TF1 sides the ladder runs that are not graph builders in this process.

Most TF1 code builds its layers with `tf.compat.v1.layers` or tf-slim, which
raise under Keras 3 (TensorFlow 2.16+), and many teams no longer have a
runnable builder at all, only what the legacy training wrote. Each function
here returns a `Tf1Source`, which the ladder calls like a builder,
`run_ladder(build_tf1=source, ...)`: inside the ladder's graph it imports a
saved graph with the ladder's image and label placeholders mapped onto the
graph's inputs, and starts the variables from the saved values, so every
rung starts from them (the TF2 side gets a copy, as always).

- from_meta_graph: the files `tf.compat.v1.train.Saver` wrote (model.ckpt-N
  and model.ckpt-N.meta). Every rung runs.
- from_saved_model: a TF1 SavedModel (`simple_save`, `SavedModelBuilder`). A
  serving signature has no loss or train op: the rungs that need them are
  reported skipped, with the reason.
- from_graph_def: a frozen GraphDef (weights folded into constants): forward
  and metric only.
- legacy: the user's unmodified legacy builder, run in a child Python with
  TF_USE_LEGACY_KERAS=1 and tf_keras/tf_slim (compat_tests.legacy_process),
  which exports the graph and its initial values as files; then as
  from_meta_graph.

Tensor and op names (images, labels, outputs, loss, train op, feeds) are
taken from the caller where given, else guessed from the names TF1 code used
(images/x/input, labels/y/y_, logits/predictions, loss/cross_entropy, the
`train_op` collection or an optimizer's minimize op, is_training/keep_prob
placeholders). Every guess is printed in the report's notes; a name that
cannot be guessed raises ValueError listing the candidates.
"""

import dataclasses
import difflib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import weakref
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from google.protobuf import text_format
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from compat_tests import ladder
from runtime import errors

INSTALL_COMMAND = "pip install '.[legacy]'"
DEFAULT_TIMEOUT_SECONDS = 600.0
_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Names TF1 code gave its endpoints, most telling first.
IMAGE_NAMES = ("images", "image", "x", "input", "inputs", "features", "input_x", "x_input",
               "input_images", "x-input")
LABEL_NAMES = ("labels", "label", "y_", "y", "targets", "target", "input_y", "y_true",
               "y-input", "y_input")
OUTPUT_NAMES = ("logits", "y_conv", "predictions", "prediction", "y_pred", "scores", "output",
                "outputs", "out", "probabilities", "probs", "softmax")
LOSS_NAMES = ("loss", "total_loss", "cross_entropy", "xent", "cost", "mean_loss", "objective")
_TRAIN_OP_PATTERN = re.compile(
    r"^(train_op|train_step|train|optimize|minimize|Adam|GradientDescent|Momentum|RMSProp|"
    r"Adagrad|Adadelta|Ftrl|ProximalAdagrad|ProximalGradientDescent)(_\d+)?$")
_TRAIN_OP_TYPES = ("NoOp", "AssignAdd", "AssignAddVariableOp")
_CROSS_ENTROPY_TYPES = ("SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits")
# Mode placeholders: (name pattern, dtype kind, training value, inference value).
_MODE_PLACEHOLDERS = (
    (re.compile(r"(is_)?train(ing)?|phase(_train)?|mode", re.IGNORECASE), "bool", True, False),
    (re.compile(r"keep", re.IGNORECASE), "float", 0.5, 1.0),
    (re.compile(r"dropout|rate", re.IGNORECASE), "float", 0.5, 0.0),
)
_MODEL_RUNGS = ("gradients", "one_update", "steps")


@dataclasses.dataclass
class Names:
    """Names in the saved graph of what the ladder needs; None is guessed.

    Tensors may be named with or without ":0"; the train op by its op name.
    `outputs` may be one name, or a dict or list of them. The feeds map a
    placeholder's name to its value in a training step / in inference.
    """

    images: Optional[str] = None
    labels: Optional[str] = None
    outputs: Union[str, Mapping[str, str], Sequence[str], None] = None
    loss: Optional[str] = None
    train_op: Optional[str] = None
    train_feed: Optional[Mapping[str, Any]] = None
    eval_feed: Optional[Mapping[str, Any]] = None
    layers: Union[Mapping[str, str], Sequence[str], None] = None


class Tf1Source:
    """A TF1 side the ladder calls like build_tf1(images, labels).

    `rungs` lists the rungs it can run, once it has been called (a legacy
    source learns what its builder returns only then); the others come back
    in the endpoints' "skipped" with the reason.
    """

    # Its errors name the file, the child process or the saved graph's names,
    # so the ladder passes them on as they are (see ladder._build_tf1_graph).
    explains_its_errors = True

    def __init__(self, description: str,
                 load: Callable[[tf.Tensor, tf.Tensor], dict[str, Any]]):
        self.description = description
        self._load = load
        self.rungs: Optional[list[str]] = None

    def __call__(self, images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
        endpoints = self._load(images, labels)
        self.rungs = [rung for rung in ladder.RUNGS if rung not in endpoints["skipped"]]
        return endpoints

    def __repr__(self) -> str:
        return f"Tf1Source({self.description})"


def from_meta_graph(
    meta_path: str,
    checkpoint: Optional[str] = None,
    **names: Any,
) -> Tf1Source:
    """The TF1 side Saver wrote: `meta_path` (model.ckpt-N.meta) and the
    checkpoint it starts from (default: the checkpoint of the same prefix,
    else the latest in its directory).

    Args:
      meta_path: The .meta file.
      checkpoint: A checkpoint prefix (model.ckpt-N) or its directory.
      **names: Names in the saved graph, keyword-only, as the fields of
        `Names`: images, labels, outputs, loss, train_op, train_feed,
        eval_feed, layers. Each one not given is guessed.
    """
    named = _names(names)
    if not os.path.exists(meta_path):
        raise errors.FixableError(f"No MetaGraphDef at {meta_path!r}: pass the .meta file "
                         "tf.compat.v1.train.Saver wrote beside its checkpoint.")
    checkpoint = _checkpoint_for(meta_path, checkpoint)

    def load(images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
        meta_graph_def = tf.compat.v1.MetaGraphDef()
        with open(meta_path, "rb") as file:
            meta_graph_def.ParseFromString(file.read())
        return _import(meta_graph_def, checkpoint, named, images, labels,
                       origin=f"the MetaGraphDef {meta_path}")

    return Tf1Source(f"meta graph {meta_path}, checkpoint {checkpoint}", load)


def from_saved_model(
    export_dir: str,
    tags: Sequence[str] = ("serve",),
    signature: str = "serving_default",
    **names: Any,
) -> Tf1Source:
    """A TF1 SavedModel: the graph of `tags`, its inputs and outputs from
    `signature` (signature keys or tensor names may be given as `images`,
    `outputs`), its variables from export_dir/variables."""
    named = _names(names)
    path = os.path.join(export_dir, "saved_model.pb")
    if not os.path.exists(path):
        raise errors.FixableError(f"No saved_model.pb in {export_dir!r}: pass the directory that "
                         "tf.compat.v1.saved_model.simple_save or a SavedModelBuilder wrote.")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as file:
        saved_model.ParseFromString(file.read())
    available = [sorted(m.meta_info_def.tags) for m in saved_model.meta_graphs]
    meta_graph_def = next((m for m in saved_model.meta_graphs
                           if set(m.meta_info_def.tags) == set(tags)), None)
    if meta_graph_def is None:
        raise errors.FixableError(f"{export_dir} has no graph tagged {sorted(tags)}; its tag sets: "
                         f"{available}. Pass tags=... (--tf1_saved_model_tags).")
    if signature not in meta_graph_def.signature_def:
        raise errors.FixableError(f"{export_dir} has no signature {signature!r}; it has "
                         f"{sorted(meta_graph_def.signature_def)}.")
    signature_def = meta_graph_def.signature_def[signature]
    inputs = {key: info.name for key, info in signature_def.inputs.items()}
    outputs = {key: info.name for key, info in signature_def.outputs.items()}
    named.images = _signature_name(named.images, inputs, IMAGE_NAMES, "input", "images",
                                   signature, allow_other=len(inputs) > 1)
    if named.labels is not None:
        named.labels = inputs.get(named.labels, named.labels)
    if isinstance(named.outputs, str) or named.outputs is None:
        named.outputs = _signature_name(named.outputs, outputs, OUTPUT_NAMES, "output",
                                        "outputs", signature)
    variables = os.path.join(export_dir, "variables", "variables")
    checkpoint = variables if os.path.exists(variables + ".index") else None

    def load(images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
        return _import(meta_graph_def, checkpoint, named, images, labels,
                       origin=f"the SavedModel {export_dir} ({signature})", needs_labels=False)

    return Tf1Source(f"SavedModel {export_dir}", load)


def from_graph_def(pb_path: str, **names: Any) -> Tf1Source:
    """A frozen GraphDef (binary .pb, or text .pbtxt): its weights are
    constants, so only the forward and metric rungs run."""
    named = _names(names)
    if not os.path.exists(pb_path):
        raise errors.FixableError(f"No GraphDef at {pb_path!r}.")

    def load(images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
        graph_def = tf.compat.v1.GraphDef()
        with open(pb_path, "rb") as file:
            contents = file.read()
        if pb_path.endswith(".pbtxt"):
            text_format.Parse(contents.decode(), graph_def)
        else:
            graph_def.ParseFromString(contents)
        return _import(graph_def, None, named, images, labels,
                       origin=f"the frozen GraphDef {pb_path}", needs_labels=False)

    return Tf1Source(f"frozen GraphDef {pb_path}", load)


def legacy(
    builder: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    python: Optional[str] = None,
) -> Tf1Source:
    """The legacy builder `package.module:function`, unmodified, run in a
    child Python with legacy Keras (see the module docstring). The child
    builds on placeholders shaped like the data, under the ladder's graph
    seed, and exports the graph and its initial values; the child is
    stopped after `timeout` seconds. `python` is the child's interpreter
    (default: this one), which needs `pip install '.[legacy]'`."""
    if not re.match(r"^[\w.]+:[\w.]+$", builder):
        raise errors.FixableError(f"legacy() takes an import path module:function, got {builder!r}.")
    if timeout <= 0:
        raise errors.FixableError(f"timeout must be > 0 seconds, got {timeout}.")
    exports: dict[tuple, tuple[str, dict[str, Any]]] = {}
    scratch = tempfile.TemporaryDirectory(prefix="legacy_tf1_")

    def load(images: tf.Tensor, labels: tf.Tensor) -> dict[str, Any]:
        inputs = {name: {"shape": tensor.shape.as_list()[1:], "dtype": tensor.dtype.name}
                  for name, tensor in (("images", images), ("labels", labels))}
        seed = images.graph.seed or 0
        key = (json.dumps(inputs, sort_keys=True), seed)
        if key not in exports:
            directory = os.path.join(scratch.name, str(len(exports)))
            os.makedirs(directory)
            result = run_legacy_python(
                {"job": "export", "builder": builder, "seed": seed, "directory": directory,
                 **inputs},
                timeout=timeout, python=python, what=f"the legacy builder {builder}")
            exports[key] = (directory, result)
        directory, result = exports[key]
        endpoints = result["endpoints"]
        named = Names(
            images="images:0", labels="labels:0", outputs=endpoints.get("outputs"),
            loss=endpoints.get("loss"), train_op=endpoints.get("train_op"),
            train_feed=dict(endpoints.get("train_feed", [])),
            eval_feed=dict(endpoints.get("eval_feed", [])), layers=endpoints.get("layers"))
        meta_graph_def = tf.compat.v1.MetaGraphDef()
        path = os.path.join(directory, "model.ckpt")
        with open(path + ".meta", "rb") as file:
            meta_graph_def.ParseFromString(file.read())
        built = _import(meta_graph_def, path if result["has_checkpoint"] else None, named,
                        images, labels, origin=f"{builder}, built in a legacy-Keras process",
                        checkpoint_label=f"the values its initialisers gave under graph seed {seed}")
        built["notes"].insert(0, (
            f"TF1 side: {builder} built in a child Python with legacy Keras "
            "(TF_USE_LEGACY_KERAS=1), imported from its MetaGraphDef."))
        return built

    source = Tf1Source(f"legacy builder {builder}", load)
    # The checkpoint is read whenever the ladder runs the initialisers, so
    # the files live as long as the source.
    weakref.finalize(source, scratch.cleanup)
    return source


class LegacyProcessError(RuntimeError):
    """The legacy child process timed out or died without a result."""


def run_legacy_python(
    job: Mapping[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    python: Optional[str] = None,
    what: str = "the legacy process",
) -> dict[str, Any]:
    """Runs compat_tests.legacy_process on `job` in a child Python with
    TF_USE_LEGACY_KERAS=1, in its own process group, and returns its result.

    Also for a legacy training script: {"job": "call", "function":
    "module:function", "kwargs": {...}}. The child, and anything it started,
    is killed and reaped on success, failure, timeout and KeyboardInterrupt.
    Raises ValueError when the child's code raised (its summary and
    traceback) or legacy Keras is missing (the install command), and
    LegacyProcessError on a timeout or a crash.
    """
    interpreter = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="legacy_job_") as scratch:
        job_path = os.path.join(scratch, "job.json")
        result_path = os.path.join(scratch, "result.json")
        with open(job_path, "w") as file:
            json.dump({**job, "result": result_path}, file)
        process = _start_legacy_process(interpreter, job_path)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as timed_out:
            _kill_group(process)
            raise LegacyProcessError(
                f"{what} did not finish within {timeout:g} s: its child process (pid "
                f"{process.pid}) was killed with its process group. Pass a longer timeout "
                "(--tf1_legacy_timeout) if the build is slow, or look for what it waits on."
            ) from timed_out
        finally:
            # Also on KeyboardInterrupt, and on success: nothing the child
            # started outlives it.
            _kill_group(process)
        if not os.path.exists(result_path):
            tail = "\n".join(output.strip().splitlines()[-20:])
            raise LegacyProcessError(
                f"{what} died (exit code {process.returncode}, pid {process.pid}) without a "
                f"result. The end of its output:\n{tail}")
        with open(result_path) as file:
            result = json.load(file)
    _raise_for_status(result, what, interpreter)
    return result


def _start_legacy_process(interpreter: str, job_path: str) -> subprocess.Popen:
    """Starts compat_tests.legacy_process on the job file under legacy Keras,
    in a new process group, its stderr merged into its stdout."""
    # The project and the working directory, where the user's builder
    # module lives, as `python -m compat_tests.check` imports it.
    path = [_PROJECT_ROOT, os.getcwd(), os.environ.get("PYTHONPATH", "")]
    environment = {**os.environ, "TF_USE_LEGACY_KERAS": "1",
                   "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    return subprocess.Popen(
        [interpreter, "-m", "compat_tests.legacy_process", job_path],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment,
        start_new_session=True, text=True)


def _raise_for_status(result: dict[str, Any], what: str, interpreter: str) -> None:
    """Raises ValueError when the child could not import legacy Keras or its
    code raised."""
    if result["status"] == "missing":
        raise errors.FixableError(
            f"{what} needs {result['module']}, which {interpreter} cannot import. Install "
            f"legacy Keras and tf-slim there: {INSTALL_COMMAND} (tf-keras matching "
            "TensorFlow's version, and tf-slim).")
    if result["status"] == "error":
        raise errors.FixableError(f"{what} failed in its child process: {result['summary']}\n\n"
                         f"The child's traceback:\n{result['traceback']}")


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # The group is gone already.
    process.wait()


def _names(given: Mapping[str, Any]) -> Names:
    fields = {field.name for field in dataclasses.fields(Names)}
    unknown = sorted(set(given) - fields)
    if unknown:
        raise errors.FixableError(f"Unknown names {unknown}; expected some of {sorted(fields)}.")
    return Names(**given)


def _checkpoint_for(meta_path: str, checkpoint: Optional[str]) -> str:
    if checkpoint is None:
        prefix = meta_path[:-len(".meta")] if meta_path.endswith(".meta") else meta_path
        checkpoint = (prefix if os.path.exists(prefix + ".index")
                      else tf.train.latest_checkpoint(os.path.dirname(meta_path) or "."))
        if checkpoint is None:
            raise errors.FixableError(f"No checkpoint beside {meta_path}: pass checkpoint= "
                             "(--tf1_checkpoint) the prefix Saver wrote, e.g. model.ckpt-1000.")
    elif os.path.isdir(checkpoint):
        checkpoint = tf.train.latest_checkpoint(checkpoint) or checkpoint
    if not os.path.exists(checkpoint + ".index"):
        raise errors.FixableError(f"No checkpoint at {checkpoint!r} ({checkpoint}.index is missing): "
                         "pass the prefix Saver wrote, e.g. model.ckpt-1000.")
    return checkpoint


def _signature_name(given, names: Mapping[str, str], candidates, kind: str, field: str,
                    signature: str, allow_other: bool = False) -> str:
    """The tensor a signature key (or a tensor name) stands for."""
    if given is not None:
        return names.get(given, given)
    if len(names) == 1:
        return next(iter(names.values()))
    for candidate in candidates:
        if candidate in names:
            return names[candidate]
    if allow_other:
        return None
    raise errors.FixableError(
        f"Cannot tell which {kind} of signature {signature!r} is the {field}: it has "
        f"{sorted(names)}. Pass {field}=KEY (--tf1_names={field}=KEY).")


def _import(graph_or_meta, checkpoint: Optional[str], named: Names, images: tf.Tensor,
            labels: tf.Tensor, origin: str, needs_labels: bool = True,
            checkpoint_label: Optional[str] = None) -> dict[str, Any]:
    """Imports a MetaGraphDef or GraphDef into the current (the ladder's)
    graph with `images`/`labels` mapped onto its inputs, starts its variables
    from `checkpoint`, and returns the endpoints the ladder takes."""
    is_meta = isinstance(graph_or_meta, tf.compat.v1.MetaGraphDef)
    graph_def = graph_or_meta.graph_def if is_meta else graph_or_meta
    guessed = []
    placeholders = {node.name: node for node in graph_def.node if node.op == "Placeholder"}
    images_name = _input_name(named.images, placeholders, IMAGE_NAMES, images, "images",
                              guessed)
    labels_name = (_input_name(named.labels, placeholders, LABEL_NAMES, labels, "labels",
                               guessed, exclude=images_name, required=needs_labels)
                   if needs_labels or named.labels else None)
    input_map = {images_name: images}
    if labels_name:
        input_map[labels_name] = labels
    try:
        if is_meta:
            tf.compat.v1.train.import_meta_graph(graph_or_meta, input_map=input_map,
                                                 clear_devices=True)
        else:
            tf.import_graph_def(graph_or_meta, input_map=input_map, name="")
    except ValueError as error:
        raise errors.FixableError(f"Cannot import {origin} with the data's images {images.shape} "
                         f"{images.dtype.name} as {images_name!r} and labels {labels.shape} "
                         f"{labels.dtype.name}: {error}") from error
    graph = images.graph
    endpoints: dict[str, Any] = {}
    endpoints["outputs"] = (_guess_outputs(graph, images, guessed) if named.outputs is None
                            else tf.nest.map_structure(lambda n: _tensor(graph, n, "outputs"),
                                                       named.outputs))
    if named.loss is not None:
        endpoints["loss"] = _tensor(graph, named.loss, "loss")
    elif labels_name:
        endpoints["loss"] = _guess_loss(graph, images, guessed)
    if named.train_op is not None:
        endpoints["train_op"] = _operation(graph, named.train_op, "train_op")
    elif is_meta and "loss" in endpoints:
        endpoints["train_op"] = _guess_train_op(graph, guessed)
    if named.layers is not None:
        endpoints["layers"] = tf.nest.map_structure(lambda n: _tensor(graph, n, "layers"),
                                                    named.layers)
    feeds = _feeds(graph, endpoints, named, (images, labels), guessed)
    endpoints["train_feed"], endpoints["eval_feed"] = feeds
    notes = []
    if guessed:
        notes.append(f"Names guessed in {origin} (pass them to override): "
                     + ", ".join(guessed) + ".")
    variables = tf.compat.v1.global_variables()
    if checkpoint is not None and variables:
        notes.append(_start_from_checkpoint(graph, endpoints, checkpoint,
                                            checkpoint_label or checkpoint))
    endpoints["skipped"] = _skipped(endpoints, variables, is_meta, origin)
    endpoints["notes"] = notes
    return endpoints


def _input_name(given: Optional[str], placeholders, candidates, data: tf.Tensor, field: str,
                guessed: list[str], exclude: Optional[str] = None,
                required: bool = True) -> Optional[str]:
    """The saved graph's input tensor for `data`: as given, else the
    placeholder named like it, else the one placeholder shaped like it."""
    if given is not None:
        return given if ":" in given else given + ":0"
    others = {name: node for name, node in placeholders.items()
              if exclude is None or name + ":0" != exclude}
    by_name = {}
    for name in others:
        base = name.split("/")[-1]
        if base in candidates:
            by_name.setdefault(candidates.index(base), []).append(name)
    if by_name:
        best = by_name[min(by_name)]
        if len(best) == 1:
            guessed.append(f"{field}={best[0]}")
            return best[0] + ":0"
    shaped = [name for name, node in others.items()
              if tf.as_dtype(node.attr["dtype"].type) == data.dtype
              and tf.TensorShape(node.attr["shape"].shape).is_compatible_with(data.shape)]
    if len(shaped) == 1:
        guessed.append(f"{field}={shaped[0]} (by shape)")
        return shaped[0] + ":0"
    if not required:
        return None
    listed = ", ".join(
        f"{name} {tf.TensorShape(node.attr['shape'].shape)} "
        f"{tf.as_dtype(node.attr['dtype'].type).name}" for name, node in others.items())
    raise errors.FixableError(
        f"Cannot guess which placeholder takes the {field} ({data.shape} {data.dtype.name}); "
        f"the graph's placeholders: {listed or 'none'}. Pass {field}=NAME "
        f"(--tf1_names={field}=NAME).")


def _tensor(graph: tf.Graph, name: str, field: str) -> tf.Tensor:
    try:
        if ":" in name:
            return graph.get_tensor_by_name(name)
        operation = graph.get_operation_by_name(name)
    except (KeyError, ValueError) as error:
        raise errors.FixableError(_unknown_name(graph, name, field)) from error
    if not operation.outputs:
        raise errors.FixableError(f"{field}={name!r} names an op without outputs; name a tensor.")
    return operation.outputs[0]


def _operation(graph: tf.Graph, name: str, field: str) -> tf.Operation:
    try:
        return graph.get_operation_by_name(name.split(":")[0])
    except (KeyError, ValueError) as error:
        raise errors.FixableError(_unknown_name(graph, name, field)) from error


def _unknown_name(graph: tf.Graph, name: str, field: str) -> str:
    close = difflib.get_close_matches(name.split(":")[0],
                                      [op.name for op in graph.get_operations()], n=8)
    return (f"The saved graph has no {'tensor' if ':' in name else 'op'} {name!r} for "
            f"{field}; close names: {close or 'none'}.")


def _downstream(start: Sequence[tf.Tensor]) -> list[tf.Operation]:
    """The ops that depend on `start`, in graph order, without the
    gradient computation (which depends on everything)."""
    seen, pending = set(), [consumer for tensor in start for consumer in tensor.consumers()]
    while pending:
        operation = pending.pop()
        if operation in seen:
            continue
        seen.add(operation)
        pending.extend(c for output in operation.outputs for c in output.consumers())
    return [op for op in start[0].graph.get_operations()
            if op in seen and not re.match(r"^gradients(_\d+)?/", op.name)]


def _named_candidates(operations, names: Sequence[str], keep: Callable[[tf.Tensor], bool]):
    """{priority: {group: last tensor}}: tensors whose op name has a
    segment in `names`, grouped by the name up to that segment."""
    found: dict[int, dict[str, tf.Tensor]] = {}
    for operation in operations:
        if not operation.outputs or not keep(operation.outputs[0]):
            continue
        segments = operation.name.split("/")
        for index, segment in enumerate(segments):
            if segment in names:
                group = "/".join(segments[:index + 1])
                found.setdefault(names.index(segment), {})[group] = operation.outputs[0]
                break
    return found


def _pick(found, field: str, guessed: list[str]) -> Optional[tf.Tensor]:
    if not found:
        return None
    best = found[min(found)]
    if len(best) > 1:
        raise errors.FixableError(
            f"Several tensors could be the {field}: "
            f"{sorted(t.name for t in best.values())}. Pass {field}=NAME "
            f"(--tf1_names={field}=NAME).")
    tensor = next(iter(best.values()))
    guessed.append(f"{field}={tensor.name}")
    return tensor


def _is_batch(tensor: tf.Tensor) -> bool:
    shape = tensor.shape
    return (tensor.dtype.is_floating and shape.rank is not None and shape.rank >= 1
            and shape[0] is None)


def _is_scalar_float(tensor: tf.Tensor) -> bool:
    return tensor.dtype.is_floating and tensor.shape.rank == 0


def _collected(graph: tf.Graph, keys: Sequence[str], field: str,
               guessed: list[str]) -> Optional[tf.Tensor]:
    """The one tensor a collection named like `field` holds: TF1 code often
    kept its endpoints with tf.compat.v1.add_to_collection("loss", loss)."""
    for key in keys:
        tensors = [t for t in graph.get_collection(key) if isinstance(t, tf.Tensor)]
        if len(tensors) == 1:
            guessed.append(f"{field}={tensors[0].name} (the {key!r} collection)")
            return tensors[0]
    return None


def _collected_or_named(
    graph: tf.Graph,
    operations: Sequence[tf.Operation],
    field: str,
    collection_keys: Sequence[str],
    names: Sequence[str],
    keep: Callable[[tf.Tensor], bool],
    guessed: list[str],
) -> Optional[tf.Tensor]:
    """The tensor a collection named like `field` holds, else the one among
    `operations` named like it (`names`, by priority) that `keep` accepts."""
    collected = _collected(graph, collection_keys, field, guessed)
    if collected is not None:
        return collected
    return _pick(_named_candidates(operations, names, keep), field, guessed)


def _guess_outputs(graph: tf.Graph, images: tf.Tensor, guessed: list[str]) -> tf.Tensor:
    operations = _downstream([images])
    tensor = _collected_or_named(
        graph, operations, "outputs", ("outputs", "logits"), OUTPUT_NAMES, _is_batch, guessed)
    if tensor is not None:
        return tensor
    # The logits a softmax cross-entropy reads, through the reshapes its
    # wrapper adds.
    for operation in operations:
        if operation.type in _CROSS_ENTROPY_TYPES:
            logits = operation.inputs[0]
            while logits.op.type in ("Reshape", "Identity") and logits.op.inputs:
                logits = logits.op.inputs[0]
            guessed.append(f"outputs={logits.name} (the logits of {operation.name})")
            return logits
    batch_tensors = [op.outputs[0].name for op in operations if op.outputs
                     and _is_batch(op.outputs[0])]
    raise errors.FixableError(
        "Cannot guess the outputs (no tensor named like "
        f"{'/'.join(OUTPUT_NAMES[:4])}..., no softmax cross-entropy); the last batch-shaped "
        f"tensors computed from the images: {batch_tensors[-8:]}. Pass outputs=NAME "
        "(--tf1_names=outputs=NAME).")


def _guess_loss(graph: tf.Graph, images: tf.Tensor, guessed: list[str]) -> Optional[tf.Tensor]:
    operations = _downstream([images])
    tensor = _collected_or_named(
        graph, operations, "loss", ("loss", "total_loss"), LOSS_NAMES, _is_scalar_float, guessed)
    if tensor is not None:
        return tensor
    collected = [t for t in graph.get_collection(tf.compat.v1.GraphKeys.LOSSES)
                 if isinstance(t, tf.Tensor)]
    if len(collected) == 1:
        guessed.append(f"loss={collected[0].name} (the losses collection)")
        return collected[0]
    # What an optimizer's minimize differentiated: gradients/Shape reads it.
    targets = {op.inputs[0] for op in graph.get_operations()
               if re.match(r"^gradients(_\d+)?/Shape$", op.name) and op.inputs
               and _is_scalar_float(op.inputs[0])}
    if len(targets) == 1:
        loss = targets.pop()
        guessed.append(f"loss={loss.name} (what the optimizer differentiates)")
        return loss
    scalars = [op.outputs[0].name for op in operations
               if op.outputs and _is_scalar_float(op.outputs[0])]
    raise errors.FixableError(
        f"Cannot guess the loss (no scalar named like {'/'.join(LOSS_NAMES[:4])}...); scalar "
        f"float tensors computed from the images: {scalars[-8:]}. Pass loss=NAME "
        "(--tf1_names=loss=NAME).")


def _guess_train_op(graph: tf.Graph, guessed: list[str]) -> Optional[tf.Operation]:
    collected = []
    for item in graph.get_collection("train_op"):
        operation = item.op if isinstance(item, tf.Tensor) else item
        if operation not in collected:
            collected.append(operation)
    if len(collected) == 1:
        guessed.append(f"train_op={collected[0].name} (the train_op collection)")
        return collected[0]
    candidates = [op for op in graph.get_operations()
                  if op.type in _TRAIN_OP_TYPES and _TRAIN_OP_PATTERN.match(op.name.split("/")[-1])
                  and not re.match(r"^gradients(_\d+)?/", op.name)]
    # A train op wrapped by another (a group after the minimize) is not the one.
    inner = {control for op in candidates for control in op.control_inputs}
    outermost = [op for op in candidates if op not in inner]
    if len(outermost) == 1:
        guessed.append(f"train_op={outermost[0].name}")
        return outermost[0]
    raise errors.FixableError(
        "Cannot guess the train op (no single op in the 'train_op' collection or named "
        f"like an optimizer's minimize); candidates: {[op.name for op in outermost]}. Pass "
        "train_op=NAME (--tf1_names=train_op=NAME), or skip the training rungs by loading a "
        "graph without one.")


def _feeds(graph: tf.Graph, endpoints: Mapping[str, Any], named: Names,
           inputs: Sequence[tf.Tensor], guessed: list[str]):
    """The train and eval feeds: as given, else guessed from each mode
    placeholder's name (is_training True/False, keep_prob 0.5/1.0, a dropout
    rate 0.5/0.0). Without a train op, training feeds inference's values."""
    given_train = {_tensor(graph, name, "train_feed"): value
                   for name, value in (named.train_feed or {}).items()}
    given_eval = {_tensor(graph, name, "eval_feed"): value
                  for name, value in (named.eval_feed or {}).items()}
    targets = [*tf.nest.flatten(endpoints["outputs"]),
               *(endpoints[k] for k in ("loss", "train_op") if k in endpoints)]
    read = ladder._upstream_operations(targets)  # pylint: disable=protected-access
    train_feed, eval_feed = dict(given_train), dict(given_eval)
    unknown = []
    for operation in graph.get_operations():
        if (operation.type != "Placeholder" or operation not in read
                or any(operation is tensor.op for tensor in inputs)):
            continue
        tensor = operation.outputs[0]
        if tensor in train_feed and tensor in eval_feed:
            continue
        mode = next((m for m in _MODE_PLACEHOLDERS
                     if m[0].search(operation.name.split("/")[-1])
                     and (tensor.dtype == tf.bool) == (m[1] == "bool")
                     and tensor.shape.rank == 0), None)
        if mode is None:
            unknown.append(f"{operation.name} {tensor.shape} {tensor.dtype.name}")
            continue
        if tensor not in train_feed:
            train_feed[tensor] = mode[2]
            guessed.append(f"train_feed {operation.name}={mode[2]}")
        if tensor not in eval_feed:
            eval_feed[tensor] = mode[3]
            guessed.append(f"eval_feed {operation.name}={mode[3]}")
    # The ladder switches dropout off through the first train_feed entry
    # whose inference value makes training deterministic: a keep_prob or a
    # rate must come before an is_training that batch norm reads too.
    train_feed = dict(sorted(train_feed.items(), key=lambda item: item[0].dtype == tf.bool))
    if unknown:
        raise errors.FixableError(
            f"The saved graph reads placeholders {unknown}, which are not its images or labels "
            "and whose values cannot be guessed from their names. Pass their values: "
            "train_feed={name: value} and eval_feed={name: value} (--tf1_names=train_feed."
            "NAME=VALUE,eval_feed.NAME=VALUE).")
    if "train_op" not in endpoints:
        train_feed = dict(eval_feed)
    return train_feed, eval_feed


def _start_from_checkpoint(graph: tf.Graph, endpoints: Mapping[str, Any],
                           checkpoint: str, label: str) -> str:
    """Makes the initialisers of the model's variables (the trainable ones and
    the state the outputs read) load `checkpoint`; the optimizer's slots and
    step counter start fresh, as the TF2 side's optimizer does."""
    read = ladder._upstream_operations(  # pylint: disable=protected-access
        tf.nest.flatten(endpoints["outputs"]))
    trainable = graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
    model = [v for v in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
             if any(v is t for t in trainable) or v.op in read]
    saved = dict(tf.train.list_variables(checkpoint))
    assignment = {}
    missing = []
    for variable in model:
        name = variable.op.name
        if name not in saved:
            missing.append(name)
        elif list(saved[name]) != variable.shape.as_list():
            raise errors.FixableError(f"{checkpoint} holds {name} with shape {saved[name]}, the graph "
                             f"a variable of shape {variable.shape.as_list()}: not this "
                             "graph's checkpoint.")
        else:
            assignment[name] = variable
    if assignment:
        tf.compat.v1.train.init_from_checkpoint(checkpoint, assignment)
    note = (f"Every rung starts from {label}: {len(assignment)} model variables loaded; "
            "the optimizer's state starts fresh on both sides.")
    if missing:
        note += f" Not in the checkpoint (left at their initialisers): {missing}."
    return note


def _skipped(endpoints: Mapping[str, Any], variables, is_meta: bool,
             origin: str) -> dict[str, str]:
    """{rung: reason} for the rungs this graph cannot run."""
    skipped = {}
    if not variables:
        skipped["variables"] = (
            f"{origin} holds its weights as constants, not variables: nothing to pair, and "
            "the TF2 side runs with the weights its factory gave it (load the converted "
            "checkpoint there)")
        for rung in _MODEL_RUNGS:
            skipped[rung] = "a graph without variables has nothing to differentiate or train"
        return skipped
    if "loss" not in endpoints:
        reason = (f"{origin} has no loss (a serving signature takes no labels); pass "
                  "labels= and loss= names if the graph holds them")
        for rung in _MODEL_RUNGS:
            skipped[rung] = reason
    elif "train_op" not in endpoints:
        reason = (f"{origin} has no train op; pass train_op= if the graph holds one"
                  if is_meta else f"{origin} has no train op")
        for rung in ("one_update", "steps"):
            skipped[rung] = reason
    return skipped
