"""Where each model variable lives in a TF1 and in a TF2 checkpoint: one table.

Both sides name every variable alike ("mlp/hidden_0/weights"), but their
checkpoints key it differently:
- "tf1": a `tf.compat.v1.train.Saver` keys each variable by its graph name,
  `var.op.name`: "mlp/hidden_0/weights".
- "tf2": `tf.train.Checkpoint(model=model)` keys it by the object path from
  the checkpoint's root to the variable: the attribute `model`, then the
  module attributes that hold it, then ".ATTRIBUTES/VARIABLE_VALUE":
  "model/hidden_layers/0/weights/.ATTRIBUTES/VARIABLE_VALUE".

`TF2_OBJECT_PATHS` writes out, model by model, which object path holds which
variable name; nothing is matched by shape or by order. tf1_graph/checkpoints.py
and tf2_eager/checkpoints.py both read checkpoints through `values_by_name`,
which checks every name and shape. numpy only: importing this never imports
TensorFlow.
"""

import re
from typing import Callable, Mapping, Sequence

import numpy as np

from mnist_data import checks
from runtime import errors

CHECKPOINT_FORMATS = ("tf1", "tf2")

# The attribute under which tf2_eager/train.py saves the model:
# tf.train.Checkpoint(model=model, optimizer=optimizer).
TF2_ROOT = "model"
_TF2_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"

# {model: ((variable name, object path below TF2_ROOT), ...)}. "{i}" stands
# for a layer index and must appear on both sides of a row. The object paths
# are the attributes of the tf2_eager modules: SoftmaxRegression.weights,
# MLP.hidden_layers[i].weights, Convnet.convs[i].weights, and so on.
TF2_OBJECT_PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "softmax_regression": (
        ("softmax_regression/weights", "weights"),
        ("softmax_regression/biases", "biases"),
    ),
    "mlp": (
        ("mlp/hidden_{i}/weights", "hidden_layers/{i}/weights"),
        ("mlp/hidden_{i}/biases", "hidden_layers/{i}/biases"),
        ("mlp/output/weights", "output_layer/weights"),
        ("mlp/output/biases", "output_layer/biases"),
    ),
    "deep_mlp": (
        ("deep_mlp/hidden_{i}/weights", "hidden_layers/{i}/weights"),
        ("deep_mlp/hidden_{i}/biases", "hidden_layers/{i}/biases"),
        ("deep_mlp/output/weights", "output_layer/weights"),
        ("deep_mlp/output/biases", "output_layer/biases"),
    ),
    "convnet": (
        ("convnet/conv_{i}/weights", "convs/{i}/weights"),
        ("convnet/conv_{i}/biases", "convs/{i}/biases"),
        ("convnet/dense/weights", "dense/weights"),
        ("convnet/dense/biases", "dense/biases"),
        ("convnet/output/weights", "output/weights"),
        ("convnet/output/biases", "output/biases"),
    ),
}


def _pattern(template: str) -> re.Pattern:
    """A regular expression matching `template` with "{i}" as a layer index."""
    return re.compile("^" + re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)") + "$")


def check_format(checkpoint_format: str) -> None:
    """Raises ValueError unless `checkpoint_format` is one of CHECKPOINT_FORMATS."""
    if checkpoint_format not in CHECKPOINT_FORMATS:
        raise errors.FixableError(
            f"Unknown checkpoint format {checkpoint_format!r}; expected one of "
            f"{', '.join(CHECKPOINT_FORMATS)}."
        )


def other_format(checkpoint_format: str) -> str:
    """"tf2" for "tf1" and "tf1" for "tf2": the format a conversion writes."""
    check_format(checkpoint_format)
    return "tf2" if checkpoint_format == "tf1" else "tf1"


def checkpoint_key(model: str, name: str, checkpoint_format: str) -> str:
    """The key under which a checkpoint of `checkpoint_format` stores `name`.

    Args:
      model: One of TF2_OBJECT_PATHS' models, e.g. "mlp".
      name: A variable name of that model, e.g. "mlp/hidden_0/weights".
      checkpoint_format: "tf1" (the name itself) or "tf2" (the object path).

    Raises:
      ValueError: If the model, the format or the name is unknown.
    """
    check_format(checkpoint_format)
    if model not in TF2_OBJECT_PATHS:
        raise errors.FixableError(
            f"No checkpoint table for model {model!r}; the table has "
            f"{', '.join(TF2_OBJECT_PATHS)}. Add the model's rows to "
            "runtime/checkpoint_names.py."
        )
    for name_template, path_template in TF2_OBJECT_PATHS[model]:
        match = _pattern(name_template).match(name)
        if match:
            if checkpoint_format == "tf1":
                return name
            path = path_template.format(**match.groupdict())
            return f"{TF2_ROOT}/{path}{_TF2_SUFFIX}"
    raise errors.FixableError(
        f"Variable {name!r} has no row in the {model} checkpoint table, whose "
        f"names are {[row[0] for row in TF2_OBJECT_PATHS[model]]}; add a row to "
        "runtime/checkpoint_names.py."
    )


def is_model_variable_key(key: str, checkpoint_format: str) -> bool:
    """Whether a checkpoint key holds a model variable rather than optimizer
    state, a step counter or the object graph.

    TF1 model variables follow the tutorials' SCOPE/weights, SCOPE/biases
    rule (optimizer slots are "SCOPE/weights/Adam"); TF2 model variables are
    the ones below TF2_ROOT (optimizer slots are below "optimizer/").
    """
    if checkpoint_format == "tf1":
        return key.endswith(("/weights", "/biases"))
    return key.startswith(f"{TF2_ROOT}/") and key.endswith(_TF2_SUFFIX)


def values_by_name(
    checkpoint_shapes: Mapping[str, Sequence[int]],
    get_tensor: Callable[[str], np.ndarray],
    expected_shapes: Mapping[str, Sequence[int]],
    model: str,
    checkpoint_format: str,
    path: str,
) -> dict[str, np.ndarray]:
    """Reads a model's variables out of a checkpoint, every name and shape checked.

    Args:
      checkpoint_shapes: {key: shape} of every entry of the checkpoint, as
        tf.train.load_checkpoint(path).get_variable_to_shape_map() lists them.
      get_tensor: Returns the value stored under a key (the reader's
        get_tensor).
      expected_shapes: {variable name: shape} of the model to restore into.
      model: Its name, e.g. "mlp".
      checkpoint_format: "tf1" or "tf2", the format of the checkpoint.
      path: The checkpoint, for the error message.

    Returns:
      {variable name: value}, exactly the names of `expected_shapes`.

    Raises:
      ValueError: Listing every model variable missing from the checkpoint,
        every model variable of the checkpoint that this model lacks (a
        checkpoint of another model or other layer sizes), and every
        mis-shaped one, keyed as the checkpoint keys them.
    """
    keys = {name: checkpoint_key(model, name, checkpoint_format) for name in expected_shapes}
    stored = {
        key: shape for key, shape in checkpoint_shapes.items()
        if is_model_variable_key(key, checkpoint_format)
    }
    try:
        checks.check_names_and_shapes(
            {keys[name]: tuple(shape) for name, shape in expected_shapes.items()},
            # Only shapes are compared, so empty arrays of the stored shapes
            # stand in for the values; nothing is read before the check passes.
            {key: np.empty(shape, np.float32) for key, shape in stored.items()},
        )
    except ValueError as error:
        scopes = sorted({key.split("/")[0] for key in stored})
        saved_from = (
            f" Its variables are under the scope(s) {', '.join(scopes)}."
            if checkpoint_format == "tf1" and scopes else ""
        )
        raise errors.FixableError(
            f"The {checkpoint_format} checkpoint {path} does not hold the model {model} "
            f"with this configuration's layer sizes. {error}{saved_from} Restore it "
            "with the configuration it was trained with: the same --model and "
            "layer flags (--hidden_sizes, --conv_channels, ..., or the run's "
            "--flagfile=flags/NAME.cfg)."
        ) from error
    return {name: get_tensor(key) for name, key in keys.items()}
