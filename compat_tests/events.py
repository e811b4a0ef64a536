"""Reads scalar summaries back from TensorBoard event files, either side's.

The two sides store a scalar differently: TF1's tf.compat.v1.summary.scalar
writes a `simple_value` float, TF2's tf.summary.scalar a float32 tensor
marked with the "scalars" plugin. `read_scalars` returns both as floats, so
the runs can be compared tag by tag.
"""

import glob
import os

import tensorflow as tf
from runtime import errors

SCALARS_PLUGIN = "scalars"


def read_scalars(logdir: str) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in logdir's event files, by tag, in the order written.

    Files are read in name order; their names start with the creation time,
    so that is the order they were written in. Events that hold no scalar
    (the file header, a graph, non-scalar summaries) are skipped.

    Args:
      logdir: A directory holding events.out.tfevents.* files, as a
        FileWriter or tf.summary.create_file_writer made them.

    Returns:
      {tag: [(step, value), ...]}.
    """
    paths = sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")))
    if not paths:
        raise errors.FixableError(
            f"No event files (events.out.tfevents.*) in {logdir!r}; pass the directory "
            "given to the summary writer, not a parent or a file."
        )
    scalars = {}
    # tf.compat.v1.train.summary_iterator does the same but is deprecated in
    # favour of reading the records with tf.data, as here.
    for path in paths:
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    number = value.simple_value
                elif (
                    value.HasField("tensor")
                    and value.metadata.plugin_data.plugin_name == SCALARS_PLUGIN
                ):
                    number = tf.make_ndarray(value.tensor).item()
                else:
                    continue
                scalars.setdefault(value.tag, []).append((event.step, float(number)))
    return scalars
