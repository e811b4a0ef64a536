"""Flags of `python -m tf2_eager.convert_checkpoint`.

The model and its layer sizes come from the shared flags of
flags.definitions (--model, --hidden_sizes, --conv_channels, ..., or the
run's --flagfile), so a checkpoint converts with the flags it was trained
with. A legacy model's checkpoint converts into its TF2 port instead, named
by --port, with the variable map inferred or given by --variable_map.
"""

from absl import flags as absl_flags

from flags import check as check_flags
from runtime import checkpoint_names

FROM = absl_flags.DEFINE_enum(
    "from",
    None,
    checkpoint_names.CHECKPOINT_FORMATS,
    "Format of the checkpoint to read: tf1 (a tf.compat.v1.train.Saver "
    "checkpoint, as tf1_graph.train writes) or tf2 (a tf.train.Checkpoint, as "
    "tf2_eager.train writes). The output is in the other format. Required; it "
    "is checked in main, since the test suite parses flags without it.",
)
PORT = absl_flags.DEFINE_string(
    "port",
    None,
    "The TF2 port of a legacy TF1 model, as MODULE (its make_tf2) or "
    "MODULE:FACTORY, e.g. tf2_eager.legacy.batch_norm_mlp. IN is then that "
    "legacy model's Saver checkpoint (its .meta, when present, gives the "
    "variables' creation order) and OUT a tf.train.Checkpoint(model=...) of "
    "the port; --model and the layer flags are not used.",
)
# The same flag, and JSON file, as compat_tests.check's: one definition, since
# a test process imports both programs.
VARIABLE_MAP = check_flags.VARIABLE_MAP
