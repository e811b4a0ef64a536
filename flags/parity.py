"""The flags of `python -m compat_tests.parity` (beside the training flags of
flags/definitions.py, which it also uses)."""

from absl import flags as absl_flags

from flags import definitions  # noqa: F401  (the training flags this program also uses)

MODE = absl_flags.DEFINE_enum(
    "mode",
    "matched",
    ("matched", "independent"),
    "matched: both sides start from the same numpy "
    "initial values and see the same batches; independent: each side uses "
    "TensorFlow's own random ops.",
)
