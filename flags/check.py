"""Flags of `python -m compat_tests.check`, the ladder for a user's own pair.

It also uses the shared --dataset, --data_dir, --steps, --batch_size, --seed,
--device and --json of flags.definitions.
"""

import re

from absl import flags as absl_flags

from compat_tests import noise
from flags import definitions  # noqa: F401  (the shared flags this program uses)
from runtime import errors

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
CHECK_INITIAL_VALUES = absl_flags.DEFINE_bool(
    "check_initial_values",
    False,
    "Also run the initial_values rung after the variables rung: each side's own "
    "initialisers (TF1's under the graph seed, the TF2 factory's fresh model), "
    "constants compared exactly and random values by distribution "
    "(Kolmogorov-Smirnov and Brown-Forsythe tests, false-failure rate 1e-3 over "
    "all variables). The other rungs start both sides from TF1's values either way.",
)

TF1_LEGACY = absl_flags.DEFINE_string(
    "tf1_legacy",
    None,
    "Import path module:function of a legacy TF1 builder (tf.compat.v1.layers, tf-slim) "
    "that Keras 3 cannot run: it is run unmodified in a child Python with legacy Keras "
    "(TF_USE_LEGACY_KERAS=1; needs pip install '.[legacy]'), and its graph and initial "
    "values cross as files. Instead of --tf1.",
)
TF1_LEGACY_TIMEOUT = absl_flags.DEFINE_float(
    "tf1_legacy_timeout",
    600.0,
    "Seconds the --tf1_legacy child process may take before it is killed.",
    lower_bound=1.0,
)
TF1_LEGACY_PYTHON = absl_flags.DEFINE_string(
    "tf1_legacy_python",
    None,
    "The Python that runs the --tf1_legacy builder (one with tf-keras and tf-slim); "
    "default: this one.",
)
TF1_META = absl_flags.DEFINE_string(
    "tf1_meta",
    None,
    "The TF1 side from disk: a model.ckpt-N.meta that tf.compat.v1.train.Saver wrote. Every "
    "rung runs on the saved graph, from the checkpoint's values. Instead of --tf1.",
)
TF1_CHECKPOINT = absl_flags.DEFINE_string(
    "tf1_checkpoint",
    None,
    "With --tf1_meta: the checkpoint prefix (model.ckpt-N) or directory to start from; "
    "default: the .meta file's own prefix, else the latest checkpoint beside it.",
)
TF1_SAVED_MODEL = absl_flags.DEFINE_string(
    "tf1_saved_model",
    None,
    "The TF1 side from a TF1 SavedModel directory (simple_save, SavedModelBuilder). Without "
    "a loss or train op only the variables, forward and metric rungs run; the others are "
    "reported skipped. Instead of --tf1.",
)
TF1_SAVED_MODEL_TAGS = absl_flags.DEFINE_list(
    "tf1_saved_model_tags", ["serve"], "With --tf1_saved_model: the tags of the graph to load."
)
TF1_SIGNATURE = absl_flags.DEFINE_string(
    "tf1_signature", "serving_default",
    "With --tf1_saved_model: the signature whose inputs and outputs are the images and "
    "outputs.",
)
TF1_GRAPH_DEF = absl_flags.DEFINE_string(
    "tf1_graph_def",
    None,
    "The TF1 side from a frozen GraphDef (.pb, or .pbtxt): weights are constants, so the "
    "forward and metric rungs run and the TF2 factory must load the trained weights. "
    "Instead of --tf1.",
)
TF1_NAMES = absl_flags.DEFINE_list(
    "tf1_names",
    [],
    "With --tf1_meta, --tf1_saved_model or --tf1_graph_def: names in the saved graph, "
    "overriding the guessed ones, as images=NAME,labels=NAME,outputs=NAME,loss=NAME,"
    "train_op=NAME, and mode placeholders' values as train_feed.NAME=VALUE,"
    "eval_feed.NAME=VALUE (true/false or a number).",
)
_TF1_SOURCE_FLAGS = ("tf1", "tf1_legacy", "tf1_meta", "tf1_saved_model", "tf1_graph_def")
_NAME_KEYS = ("images", "labels", "outputs", "loss", "train_op")
_NAME_PATTERN = re.compile(r"^(?:(\w+)|(train_feed|eval_feed)\.([\w/:.-]+))=(.+)$")


@absl_flags.multi_flags_validator(
    _TF1_SOURCE_FLAGS,
    message="Give one TF1 side: --tf1 (a builder), --tf1_legacy (a legacy builder run in a "
    "child process), --tf1_meta, --tf1_saved_model or --tf1_graph_def.",
)
def _check_one_tf1_source(values: dict) -> bool:
    return sum(values[name] is not None for name in _TF1_SOURCE_FLAGS) <= 1


@absl_flags.multi_flags_validator(
    ["tf1_checkpoint", "tf1_meta"], message="--tf1_checkpoint goes with --tf1_meta."
)
def _check_checkpoint_with_meta(values: dict) -> bool:
    return values["tf1_checkpoint"] is None or values["tf1_meta"] is not None


@absl_flags.multi_flags_validator(
    ["tf1_names", "tf1_meta", "tf1_saved_model", "tf1_graph_def"],
    message="--tf1_names names tensors in a saved graph: it goes with --tf1_meta, "
    "--tf1_saved_model or --tf1_graph_def (a builder returns its own endpoints).",
)
def _check_names_with_saved_graph(values: dict) -> bool:
    return not values["tf1_names"] or any(
        values[name] is not None for name in ("tf1_meta", "tf1_saved_model", "tf1_graph_def"))


@absl_flags.validator(
    "tf1_names",
    message=f"--tf1_names takes KEY=NAME items with keys from {', '.join(_NAME_KEYS)}, and "
    "train_feed.NAME=VALUE / eval_feed.NAME=VALUE, e.g. outputs=logits/BiasAdd,"
    "eval_feed.is_training=false.",
)
def _check_names(items: list[str]) -> bool:
    return all((match := _NAME_PATTERN.match(item))
               and (match.group(2) or match.group(1) in _NAME_KEYS) for item in items)


@absl_flags.validator(
    "tf1_legacy",
    message="--tf1_legacy takes an import path module:function, e.g. legacy.model:build.",
)
def _check_tf1_legacy(value: str) -> bool:
    return value is None or _is_import_path(value)


def parse_names(items: list[str]) -> dict:
    """The keyword arguments of compat_tests.tf1_sources from validated
    --tf1_names items: {"outputs": NAME, ..., "train_feed": {NAME: VALUE}}."""
    names: dict = {}
    for item in items:
        key, feed, placeholder, value = _NAME_PATTERN.match(item).groups()
        if feed:
            names.setdefault(feed, {})[placeholder] = _feed_value(value)
        else:
            names[key] = value
    return names


def _feed_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return float(text)
    except ValueError as error:
        raise errors.FixableError(f"A feed value is true, false or a number, got {text!r}.") from error


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
