"""A legacy TF1 model's Saver checkpoint, converted into its TF2 port's checkpoint.

The project's own models share one name table (runtime/checkpoint_names.py).
A legacy model does not: tf.layers names its variables dense/kernel,
dense_1/kernel, batch_normalization/moving_mean; tf-slim names them
LeNet/conv1/weights, fully_connected/weights, Conv/weights; the Keras port
names them after its own layers. So the map from TF1 names to the port's
variables is inferred as compat_tests.ladder infers it: equal names first,
then creation order and shape (and trainability: a moving mean never takes a
beta's place). Creation order is read from the checkpoint's .meta file (the
MetaGraphDef's "variables" collection, which lists variables as the graph
created them); without one it falls back to the checkpoint's alphabetical
order, and says so. Optimizer slots (dense/kernel/Adam, .../Momentum),
step counters (global_step) and Adam's beta1_power/beta2_power are left
behind. An explicit {TF1 name: TF2 name} map (the --variable_map JSON file of
compat_tests.check) replaces the inference for the names it lists.

The command is `python -m tf2_eager.convert_checkpoint --port=...`.
"""

import dataclasses
import json
import os
from typing import Any, Callable, Mapping, Optional

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import variable_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from runtime import checkpoint_names
from tf2_eager import checkpoints
from tf2_eager import weights
from runtime import errors

# Step counters and optimizer state that are checkpoint entries of their own
# (slots are recognised as entries below another entry, "dense/kernel/Adam").
COUNTER_NAMES = ("global_step", "beta1_power", "beta2_power")
# Keras 3's dropout layers keep a random generator's state, which no TF1
# variable holds.
_TF2_RANDOM_STATE_SUFFIX = "seed_generator_state"
VARIABLE_MAP_FIX = (
    "Pass --variable_map=FILE, a JSON file {TF1 variable name: TF2 variable name} for "
    "these (compat_tests.check takes the same file); the inferred pairs above are a "
    "starting point."
)
_NO_META_HINT = (
    " Without the checkpoint's .meta file, variables of the same shape are not "
    "paired by order: put model.ckpt-N.meta next to the checkpoint to pair them by "
    "creation order."
)


@dataclasses.dataclass(frozen=True)
class Tf1Variable:
    """One checkpoint entry of a model variable."""

    name: str
    shape: tuple[int, ...]
    # From the .meta file; None when the checkpoint has none.
    trainable: Optional[bool]


@dataclasses.dataclass
class NameMap:
    """The TF1 -> TF2 pairs and how each was found."""

    # (TF1 checkpoint name, TF2 variable name, how: "name", "order and
    # shape" or "variable map"), in TF1 creation order.
    pairs: list[tuple[str, str, str]]
    shapes: dict[str, tuple[int, ...]]
    # Optimizer slots and counters in the checkpoint, not converted.
    left_behind: list[str]
    order_source: str

    def as_dict(self) -> dict[str, str]:
        """{TF1 name: TF2 name}, the --variable_map file's format."""
        return {tf1_name: tf2_name for tf1_name, tf2_name, _ in self.pairs}

    def format(self) -> str:
        """The map as the command prints it, one pair per line."""
        width = max((len(f"{name} {list(self.shapes[name])}") for name, _, _ in self.pairs),
                    default=0)
        lines = [f"Variable map, TF1 -> TF2 (TF1 creation order: {self.order_source}):"]
        for tf1_name, tf2_name, how in self.pairs:
            source = f"{tf1_name} {list(self.shapes[tf1_name])}"
            lines.append(f"  {source:<{width}}  ->  {tf2_name}  (by {how})")
        slots = [name for name in self.left_behind if name.split("/")[-1] not in COUNTER_NAMES]
        counters = [name for name in self.left_behind if name not in slots]
        suffixes = sorted({name.rsplit("/", 1)[-1] for name in slots})
        slot_text = (f"{len(slots)} optimizer slots ({', '.join(suffixes)})" if slots
                     else "no optimizer slots")
        lines.append(f"Left behind: {slot_text} and the counters {', '.join(counters) or 'none'}.")
        return "\n".join(lines)


def checkpoint_prefix(path: str) -> str:
    """The checkpoint prefix of `path`, or of the latest checkpoint in a directory."""
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise errors.FixableError(
                f"The directory {path} holds no 'checkpoint' file naming a checkpoint.")
        return latest
    return path


def _creation_order(meta_path: str) -> list[tuple[str, bool]]:
    """(variable name, trainable) of the MetaGraphDef's variables collection, in order."""
    meta_graph = meta_graph_pb2.MetaGraphDef()
    with open(meta_path, "rb") as meta_file:
        meta_graph.ParseFromString(meta_file.read())
    order = []
    for serialized in meta_graph.collection_def["variables"].bytes_list.value:
        variable = variable_pb2.VariableDef()
        variable.ParseFromString(serialized)
        order.append((variable.variable_name.rsplit(":", 1)[0], variable.trainable))
    return order


def tf1_variables(path: str) -> tuple[list[Tf1Variable], list[str], str]:
    """A Saver checkpoint's model variables in creation order.

    Returns:
      (model variables, the entries left behind (slots and counters), where
      the order came from).
    """
    prefix = checkpoint_prefix(path)
    shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    meta_path = prefix + ".meta"
    if os.path.exists(meta_path):
        order = [(name, trainable) for name, trainable in _creation_order(meta_path)
                 if name in shapes]
        listed = {name for name, _ in order}
        order += [(name, None) for name in sorted(shapes) if name not in listed]
        order_source = os.path.basename(meta_path)
    else:
        order = [(name, None) for name in sorted(shapes)]
        order_source = "alphabetical, since no .meta file sits next to the checkpoint"

    def left_behind(name: str) -> bool:
        return (name.split("/")[-1] in COUNTER_NAMES
                or any(name.startswith(other + "/") for other in shapes))

    variables = [Tf1Variable(name, tuple(shapes[name]), trainable)
                 for name, trainable in order if not left_behind(name)]
    return variables, [name for name, _ in order if left_behind(name)], order_source


def port_variables(model: Any) -> list[tf.Variable]:
    """The port's variables in creation order, without Keras' random state."""
    return [v for v in model.variables
            if not weights.variable_name(v).endswith(_TF2_RANDOM_STATE_SUFFIX)]


def infer_map(
    tf1: list[Tf1Variable],
    left_behind: list[str],
    order_source: str,
    tf2: list[tf.Variable],
    variable_map: Optional[Mapping[str, str]] = None,
) -> NameMap:
    """Pairs each TF1 variable with a TF2 one: the explicit map, then equal
    names, then creation order and shape (and trainability when known).

    Raises:
      ValueError: Naming every variable left without a partner on either
        side and every mis-shaped explicit pair, with the fix.
    """
    explicit = dict(variable_map or {})
    tf2_by_name = {weights.variable_name(v): v for v in tf2}
    remaining = dict(tf2_by_name)
    found = _pair(tf1, explicit, remaining)
    name_map = NameMap(
        pairs=[(v.name, *found[v.name]) for v in tf1 if v.name in found],
        shapes={v.name: v.shape for v in tf1}, left_behind=left_behind,
        order_source=order_source,
    )
    misshaped = [
        f"{v.name} {list(v.shape)} -> {found[v.name][0]} "
        f"{tf2_by_name[found[v.name][0]].shape.as_list()}"
        for v in tf1 if v.name in found
        and tuple(tf2_by_name[found[v.name][0]].shape.as_list()) != v.shape
    ]
    unmatched_tf1 = [f"{v.name} {list(v.shape)}" for v in tf1 if v.name not in found]
    unmatched_tf2 = [f"{name} {v.shape.as_list()}" for name, v in remaining.items()]
    unknown = sorted(set(explicit.values()) - set(tf2_by_name))
    if unmatched_tf1 or unmatched_tf2 or misshaped or unknown:
        problems = [
            f"TF1 variables without a TF2 partner: {unmatched_tf1}" if unmatched_tf1 else "",
            f"TF2 variables without a TF1 partner: {unmatched_tf2}" if unmatched_tf2 else "",
            f"mis-shaped pairs: {misshaped}" if misshaped else "",
            f"variable map targets the port lacks: {unknown}" if unknown else "",
        ]
        raise errors.FixableError(
            f"Cannot pair the checkpoint's variables with the port's: "
            f"{'; '.join(p for p in problems if p)}.\n{name_map.format()}\n{VARIABLE_MAP_FIX}"
            + ("" if tf1 and tf1[0].trainable is not None else _NO_META_HINT)
        )
    return name_map


def _pair(
    tf1: list[Tf1Variable], explicit: Mapping[str, str], remaining: dict[str, tf.Variable]
) -> dict[str, tuple[str, str]]:
    """{TF1 name: (TF2 name, how they were paired)}; removes each paired TF2
    variable from `remaining`."""
    found: dict[str, tuple[str, str]] = {}
    for variable in tf1:
        target = explicit.get(variable.name)
        if target in remaining:
            found[variable.name] = (target, "variable map")
            del remaining[target]
    for variable in tf1:
        if variable.name not in found and variable.name in remaining:
            found[variable.name] = (variable.name, "name")
            del remaining[variable.name]
    unpaired = [v for v in tf1 if v.name not in found and v.name not in explicit]
    for variable in unpaired:
        candidates = [name for name, v2 in remaining.items()
                      if tuple(v2.shape.as_list()) == variable.shape
                      and variable.trainable in (None, v2.trainable)]
        # Without the .meta file the order is alphabetical, not the creation
        # order (beta sorts before gamma), so only a shape that one variable
        # on each side has is a safe pairing.
        rivals = [v for v in unpaired if v.shape == variable.shape and v.name not in found]
        if candidates and (variable.trainable is not None
                           or (len(candidates) == 1 and len(rivals) == 1)):
            found[variable.name] = (candidates[0], "order and shape")
            del remaining[candidates[0]]
    return found


def load_variable_map(path: str) -> dict[str, str]:
    """Reads a --variable_map JSON file {TF1 name: TF2 name}."""
    with open(path) as map_file:
        loaded = json.load(map_file)
    if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()):
        raise errors.FixableError(
            f"The variable map {path} must be a JSON object {{TF1 variable name: TF2 "
            f"variable name}}, e.g. {{\"dense/kernel\": \"sequential/dense/kernel\"}}.")
    return loaded


def build_port(make_port: Callable[[], Any]) -> Any:
    """The port's model, its variables created: a factory returning a
    compat_tests.ladder.Tf2Side, a Keras model or a tf.Module."""
    made = make_port()
    model = getattr(made, "model", made)
    if not model.variables:
        # Keras models without an Input create their variables on the first call.
        model(np.zeros([1, 784], np.float32))
    return model


def convert(
    make_port: Callable[[], Any],
    in_path: str,
    out_path: str,
    variable_map: Optional[Mapping[str, str]] = None,
    overwrite: bool = False,
) -> tuple[str, NameMap, Any]:
    """Converts a legacy model's TF1 Saver checkpoint into its port's TF2 checkpoint.

    Args:
      make_port: The port's factory (tf2_eager.legacy.NAME.make_tf2).
      in_path: The Saver checkpoint prefix ("out/model.ckpt-20"), or its directory.
      out_path: Prefix of the tf.train.Checkpoint(model=...) to write.
      variable_map: {TF1 name: TF2 name} for pairs the inference gets wrong.
      overwrite: Replace a checkpoint already at out_path.

    Returns:
      (the written checkpoint's prefix, the name map, the port's model
      holding the converted values).

    Raises:
      ValueError: If a variable on either side has no partner (see infer_map),
        if out_path is in_path or already holds a checkpoint, or if in_path
        is truncated or corrupt (see tf2_eager.checkpoints).
    """
    prefix = checkpoint_prefix(in_path)
    checkpoints.check_conversion_paths(prefix, out_path, overwrite)
    with checkpoints.reading_errors(prefix):
        tf1, left_behind, order_source = tf1_variables(prefix)
        model = build_port(make_port)
        name_map = infer_map(tf1, left_behind, order_source, port_variables(model), variable_map)
        reader = tf.train.load_checkpoint(prefix)
        by_name = {weights.variable_name(v): v for v in port_variables(model)}
        for tf1_name, tf2_name, _ in name_map.pairs:
            by_name[tf2_name].assign(reader.get_tensor(tf1_name))
    written = checkpoints.write_atomically(
        tf.train.Checkpoint(**{checkpoint_names.TF2_ROOT: model}).write, out_path)
    return written, name_map, model
