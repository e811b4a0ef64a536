"""The child side of compat_tests.tf1_sources.legacy: a Python with legacy Keras.

    python -m compat_tests.legacy_process JOB.json

compat_tests.tf1_sources starts this module in a child process with
TF_USE_LEGACY_KERAS=1, so that `tf.compat.v1.layers`, tf-slim and
`tf.contrib`-era code build their graphs as they did under TF1, which Keras 3
(in the parent) cannot. The job file says what to do:

- {"job": "export", "builder": "module:function", "images": {"shape", "dtype"},
  "labels": {...}, "seed": int, "directory": path}: calls the builder on
  placeholders named "images" and "labels" shaped like the data, under the
  graph seed, runs the initialisers, and writes into `directory` the
  MetaGraphDef and a checkpoint of the initial values (Saver: model.ckpt,
  model.ckpt.meta) and endpoints.json, the names of the builder's outputs,
  loss, train op, feeds and layers.
- {"job": "call", "function": "module:function", "kwargs": {...}}: calls a
  function (a legacy training script that saves its model, for example).

Either way the outcome goes to the job's "result" path as JSON: {"status":
"ok", ...}, or {"status": "error", "summary", "traceback"}, or {"status":
"missing", "module"} when tf_keras or tf_slim cannot be imported. Nothing here
imports TensorFlow before checking that legacy Keras is there.
"""

import importlib
import importlib.util
import json
import os
import sys
import traceback
from typing import Any

# What the child needs besides TensorFlow; the project's `legacy` extra.
LEGACY_MODULES = ("tf_keras", "tf_slim")


def main(job_path: str) -> int:
    with open(job_path) as file:
        job = json.load(file)
    missing = [name for name in LEGACY_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        _write(job["result"], {"status": "missing", "module": missing[0]})
        return 2
    # Set before TensorFlow is imported: tf.keras is chosen at import time.
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    try:
        if job["job"] == "export":
            result = _export(job)
        else:
            _load(job["function"])(**job["kwargs"])
            result = {}
    except ModuleNotFoundError as error:
        if error.name in LEGACY_MODULES:
            _write(job["result"], {"status": "missing", "module": error.name})
            return 2
        _write_error(job["result"], error)
        return 1
    except Exception as error:  # pylint: disable=broad-except
        # Every failure of the user's code goes back to the parent, whole.
        _write_error(job["result"], error)
        return 1
    _write(job["result"], {"status": "ok", **result})
    return 0


def _load(import_path: str) -> Any:
    module_name, _, attribute_path = import_path.partition(":")
    target = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        target = getattr(target, attribute)
    return target


def _export(job: dict[str, Any]) -> dict[str, Any]:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    keras_module = tf.keras.layers.Dense.__module__
    if not keras_module.startswith("tf_keras"):
        raise RuntimeError(
            f"tf.keras comes from {keras_module}, not tf_keras, although TF_USE_LEGACY_KERAS=1 "
            "is set: install tf-keras matching TensorFlow's version (pip install '.[legacy]')."
        )
    builder = _load(job["builder"])
    # Legacy Keras' initialisers (behind tf.compat.v1.layers and slim) draw
    # their seeds from Python's random module, not from the graph seed:
    # without this, every export would start the ladder from other weights
    # and the same --seed would not give the same verdict twice.
    tf.keras.utils.set_random_seed(job["seed"])
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(job["seed"])
        inputs = {
            name: tf.compat.v1.placeholder(
                job[name]["dtype"], [None, *job[name]["shape"]], name=name)
            for name in ("images", "labels")
        }
        built = builder(inputs["images"], inputs["labels"])
        endpoints = _endpoint_names(built)
        variables = tf.compat.v1.global_variables()
        saver = tf.compat.v1.train.Saver(variables) if variables else None
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            path = os.path.join(job["directory"], "model.ckpt")
            if saver is None:
                tf.compat.v1.train.export_meta_graph(path + ".meta", graph=graph)
            else:
                saver.save(session, path)
    return {"endpoints": endpoints, "has_checkpoint": saver is not None}


def _endpoint_names(built: Any) -> dict[str, Any]:
    """The builder's endpoints as names, which cross to the parent as JSON."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    def name(element: Any) -> str:
        return element.name  # A tensor's "op:0", an op's own name.

    def value(fed: Any) -> Any:
        return fed.item() if hasattr(fed, "item") else fed

    get = built.get if isinstance(built, dict) else lambda key: getattr(built, key, None)
    endpoints = {}
    if get("outputs") is not None:
        endpoints["outputs"] = tf.nest.map_structure(name, get("outputs"))
    if get("loss") is not None:
        endpoints["loss"] = name(get("loss"))
    if get("train_op") is not None:
        train_op = get("train_op")
        endpoints["train_op"] = (train_op.op if isinstance(train_op, tf.Tensor)
                                 else train_op).name
    for mode in ("train_feed", "eval_feed"):
        if get(mode):
            # A list of pairs keeps the builder's order, which the ladder
            # follows when it looks for the feed that switches dropout off.
            endpoints[mode] = [[name(tensor), value(fed)] for tensor, fed in get(mode).items()]
    layers = get("layers")
    if isinstance(layers, dict):
        endpoints["layers"] = {key: name(tensor) for key, tensor in layers.items()}
    elif layers is not None:
        endpoints["layers"] = [name(tensor) for tensor in layers]
    return endpoints


def _write_error(path: str, error: BaseException) -> None:
    """The error's type and first line (the summary) and the traceback."""
    lines = str(error).strip().splitlines()
    _write(path, {
        "status": "error",
        "summary": f"{type(error).__name__}: {lines[0] if lines else ''}",
        "traceback": traceback.format_exc(),
    })


def _write(path: str, result: dict[str, Any]) -> None:
    with open(path, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
