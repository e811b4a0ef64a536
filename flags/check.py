"""Flags of `python -m compat_tests.check`, the ladder for a user's own pair.

It also uses the shared --dataset, --data_dir, --steps, --batch_size, --seed,
--device and --json of flags.definitions.
"""

import re

from absl import flags as absl_flags

from compat_tests import noise
from flags import definitions  # noqa: F401  (the shared flags this program uses)

# rung=atol:rtol, e.g. forward=1e-4:1e-5.
_TOLERANCE_PATTERN = re.compile(r"^(\w+)=([0-9.eE+-]+):([0-9.eE+-]+)$")
RUNG_NAMES = ("forward", "gradients", "one_update", "steps", "metric")

TF1 = absl_flags.DEFINE_string(
    "tf1",
    None,
    "Import path module:function of the TF1 graph builder, called as "
    "function(images, labels) inside a fresh tf.Graph; it returns "
    '{"outputs", "loss", "train_op"} and optionally "train_feed" and "eval_feed" '
    "(values of mode placeholders such as keep_prob) and \"layers\" (named "
    "intermediate tensors, to find where the sides part).",
)
TF2 = absl_flags.DEFINE_string(
    "tf2",
    None,
    "Import path module:factory of the TF2 side; factory() returns "
    "compat_tests.ladder.Tf2Side(model, loss_fn, optimizer[, train_step]) or a "
    "compiled Keras model.",
)
NPZ = absl_flags.DEFINE_string(
    "npz",
    None,
    "A .npz with arrays 'images' and 'labels' (training batches) and, "
    "optionally, 'eval_images' and 'eval_labels' (the metric rung). Without "
    "it, --dataset is used.",
)
LABELS = absl_flags.DEFINE_enum(
    "labels",
    "one_hot",
    ("one_hot", "integer"),
    "Label format fed to both sides when the data comes from --dataset.",
)
TOLERANCES = absl_flags.DEFINE_list(
    "tolerance",
    [],
    "Fixed per-rung tolerances as rung=atol:rtol, comma-separated, e.g. "
    f"forward=1e-4:1e-5,steps=1e-5:1e-5. Rungs: {', '.join(RUNG_NAMES)}. A rung "
    "given one is judged against it instead of the noise floor measured in the run.",
)
NOISE_FACTOR = absl_flags.DEFINE_float(
    "noise_factor",
    noise.NOISE_FACTOR,
    "How many times its measured float32 noise floor a TF1-TF2 gap may be and "
    "still count as noise; beyond it a rung fails as a systematic difference.",
    lower_bound=1.0,
)
VARIABLE_MAP = absl_flags.DEFINE_string(
    "variable_map",
    None,
    "A JSON file {TF1 variable name: TF2 variable name}; without it the map "
    "is inferred by name, then creation order and shape, and printed.",
)

@absl_flags.validator(
    "tolerance",
    message=f"--tolerance takes rung=atol:rtol items with rungs from {', '.join(RUNG_NAMES)}, "
    "e.g. forward=1e-4:1e-5.",
)
def _check_tolerances(items: list[str]) -> bool:
    return all(
        (match := _TOLERANCE_PATTERN.match(item)) and match.group(1) in RUNG_NAMES
        for item in items
    )


@absl_flags.validator(
    "tf1", message="--tf1 takes an import path module:function, e.g. legacy.model:build."
)
def _check_tf1(value: str) -> bool:
    return value is None or _is_import_path(value)


@absl_flags.validator(
    "tf2", message="--tf2 takes an import path module:factory, e.g. migrated.model:make_side."
)
def _check_tf2(value: str) -> bool:
    return value is None or _is_import_path(value)


def _is_import_path(value: str) -> bool:
    return bool(re.match(r"^[\w.]+:[\w.]+$", value))


def parse_tolerances(items: list[str]) -> dict[str, tuple[float, float]]:
    """{rung: (atol, rtol)} from validated --tolerance items."""
    parsed = {}
    for item in items:
        rung, atol, rtol = _TOLERANCE_PATTERN.match(item).groups()
        parsed[rung] = (float(atol), float(rtol))
    return parsed
