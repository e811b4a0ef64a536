"""Flags of `python -m tf2_eager.convert_checkpoint`.

The model and its layer sizes come from the shared flags of
flags.definitions (--model, --hidden_sizes, --conv_channels, ..., or the
run's --flagfile), so a checkpoint converts with the flags it was trained
with.
"""

from absl import flags as absl_flags

from mnist_data import checkpoint_names

FROM = absl_flags.DEFINE_enum(
    "from",
    None,
    checkpoint_names.CHECKPOINT_FORMATS,
    "Format of the checkpoint to read: tf1 (a tf.compat.v1.train.Saver "
    "checkpoint, as tf1_graph.train writes) or tf2 (a tf.train.Checkpoint, as "
    "tf2_eager.train writes). The output is in the other format. Required; it "
    "is checked in main, since the test suite parses flags without it.",
)
