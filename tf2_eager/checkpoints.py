"""Restoring a tf2_eager model from either side's checkpoint, and writing both.

A TF1 `Saver` checkpoint keys variables by graph name, a TF2
`tf.train.Checkpoint` by object path; mnist_data/checkpoint_names.py holds
the table between the two, and every read checks each name and shape
against the model. The TF1 twin is tf1_graph/checkpoints.py; the command is
tf2_eager/convert_checkpoint.py.
"""

import tensorflow as tf

from flags import config as config_lib
from mnist_data import checkpoint_names
from tf2_eager import models
from tf2_eager import weights


def restore(model: tf.Module, model_name: str, path: str, checkpoint_format: str) -> None:
    """Loads a checkpoint of either format into `model`'s variables.

    Args:
      model: A tf2_eager model, e.g. tf2_eager.mlp.create(config).
      model_name: Its name in mnist_data.checkpoint_names ("mlp").
      path: Checkpoint prefix ("out/model.ckpt-1000", "out/ckpt-1"), or a
        directory with a "checkpoint" file naming the latest one.
      checkpoint_format: "tf1" for a tf.compat.v1.train.Saver checkpoint,
        "tf2" for a tf.train.Checkpoint(model=...) one.

    Raises:
      ValueError: Listing the variables that are missing, unexpected or
        mis-shaped, with the fix.
    """
    variables = model.trainable_variables
    reader = tf.train.load_checkpoint(path)
    values = checkpoint_names.values_by_name(
        reader.get_variable_to_shape_map(),
        reader.get_tensor,
        {weights.variable_name(v): v.shape.as_list() for v in variables},
        model_name,
        checkpoint_format,
        path,
    )
    weights.assign(variables, values)


def write(model: tf.Module, path: str, checkpoint_format: str) -> str:
    """Writes `model`'s variables as a checkpoint of `checkpoint_format`.

    "tf2" is tf.train.Checkpoint(model=model), which tf2_eager/train.py
    writes (here without the optimizer). "tf1" is what a TF1 `Saver` writes,
    each variable under its graph name; a compat.v1 Saver also runs eagerly
    when given its variables by name, so no graph is built.

    Returns:
      The checkpoint's path prefix, which both formats' readers take.
    """
    checkpoint_names.check_format(checkpoint_format)
    if checkpoint_format == "tf2":
        return tf.train.Checkpoint(**{checkpoint_names.TF2_ROOT: model}).write(path)
    saver = tf.compat.v1.train.Saver(
        var_list={weights.variable_name(v): v for v in model.trainable_variables}
    )
    return saver.save(None, path)


def convert(
    config: config_lib.TrainConfig, in_path: str, out_path: str, from_format: str
) -> str:
    """Converts a checkpoint of config.model to the other side's format.

    The checkpoint is restored into the tf2_eager model the configuration
    describes, so every name and shape is checked, then written out in the
    other format. Only model variables cross: optimizer slots and step
    counters are left behind, since TF1's and Keras' optimizers keep
    different state (RMSProp's accumulator, Adam's power variables).

    Args:
      config: The configuration the checkpoint was trained with (model and
        layer sizes).
      in_path: The checkpoint to read, in `from_format`.
      out_path: Prefix of the checkpoint to write, in the other format.
      from_format: "tf1" or "tf2".

    Returns:
      The written checkpoint's path prefix.
    """
    to_format = checkpoint_names.other_format(from_format)
    model = models.MODELS[config.model].create(config)
    restore(model, config.model, in_path, from_format)
    return write(model, out_path, to_format)
