"""Restoring a tf1_graph graph's variables from either side's checkpoint.

`Saver.restore` reads only checkpoints keyed by graph name. A TF2
`tf.train.Checkpoint` keys the same variables by object path, so this reads
it through the table of runtime/checkpoint_names.py, checks every name
and shape, and loads the values with the graph's weights.Loader: no op is
added, so it works on a finalised graph. The TF2 twin is
tf2_eager/checkpoints.py.
"""

import tensorflow as tf

from runtime import checkpoint_names
from tf1_graph import weights


def restore(
    session: tf.compat.v1.Session,
    loader: weights.Loader,
    model_name: str,
    path: str,
    checkpoint_format: str,
) -> None:
    """Loads a checkpoint of either format into the loader's variables.

    Args:
      session: A session on the graph that holds the variables.
      loader: The graph's weights.Loader over the model's variables, built
        before the graph was finalised.
      model_name: The model's name in runtime.checkpoint_names ("mlp").
      path: Checkpoint prefix ("out/ckpt-1", "out/model.ckpt-1000"), or a
        directory with a "checkpoint" file naming the latest one.
      checkpoint_format: "tf2" for a tf.train.Checkpoint(model=...) written
        by tf2_eager, "tf1" for a Saver checkpoint.

    Raises:
      ValueError: Listing the variables that are missing, unexpected or
        mis-shaped, with the fix.
    """
    reader = tf.train.load_checkpoint(path)
    loader.load(
        session,
        checkpoint_names.values_by_name(
            reader.get_variable_to_shape_map(),
            reader.get_tensor,
            loader.shapes,
            model_name,
            checkpoint_format,
            path,
        ),
    )
