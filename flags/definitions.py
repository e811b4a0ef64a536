"""The project's absl flags, defined once, validated where they are defined.

Importing this module defines the flags. Only a program's `main` reads their
values, through `to_config()` and the public FlagHolders below; library code
takes a `flags.config.TrainConfig` instead. Presets for each document's
experiment are flagfiles next to this module, named with `--preset=NAME`
(flags/presets.py); a flagfile's path works too.
"""

import dataclasses
from typing import Any, Optional, Sequence

from absl import flags as absl_flags
from absl import logging

import mnist_data
from flags import config as config_lib
from flags import presets
from mnist_data import checks
from runtime import errors

# What a program's main reports as one line rather than a traceback: bad data
# files, an unavailable download, a bad configuration, a diverged loss.
EXPECTED_ERRORS = (errors.FixableError, mnist_data.DataUnavailableError, checks.NonFiniteLossError)

# Settings whose default is the model's document: the help says so.
_DOCUMENT = " (default: the model's document, see --list_presets)."

_MODEL = absl_flags.DEFINE_enum(
    "model", "softmax_regression", config_lib.MODEL_NAMES, "Model to train."
)
_DATASET = absl_flags.DEFINE_enum(
    "dataset",
    "mnist_embedded",
    mnist_data.DATASET_NAMES,
    "mnist_embedded: 5,000 MNIST training digits and the official "
    "10,000 test digits, offline. mnist / fashion_mnist: the full sets, from "
    "--data_dir or Keras' loader (cache or download).",
)
_DATA_DIR = absl_flags.DEFINE_string(
    "data_dir",
    None,
    "Directory holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte"
    "[.gz], t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz].",
)
_STEPS = absl_flags.DEFINE_integer(
    "steps", None, "Training steps (batches)" + _DOCUMENT, lower_bound=1
)
_BATCH_SIZE = absl_flags.DEFINE_integer(
    "batch_size", None, "Examples per training step" + _DOCUMENT, lower_bound=1
)
_LEARNING_RATE = absl_flags.DEFINE_float(
    "learning_rate", None, "Optimizer learning rate, > 0" + _DOCUMENT
)
_OPTIMIZER = absl_flags.DEFINE_enum(
    "optimizer", None, config_lib.OPTIMIZERS, "Optimizer" + _DOCUMENT
)
_MOMENTUM = absl_flags.DEFINE_float(
    "momentum", None, "Momentum of --optimizer=momentum (and rmsprop's)" + _DOCUMENT,
    lower_bound=0.0,
)
_OPTIMIZER_SEMANTICS = absl_flags.DEFINE_enum(
    "optimizer_semantics",
    "tf1",
    config_lib.OPTIMIZER_SEMANTICS,
    "TF2 side only. tf1: update rules that compute what tf.compat.v1.train "
    "does (RMSProp accumulator at ones, Adam epsilon 1e-8); keras: "
    "tf.keras.optimizers with Keras' defaults.",
)
_LEARNING_RATE_DECAY = absl_flags.DEFINE_enum(
    "learning_rate_decay",
    None,
    config_lib.LEARNING_RATE_DECAYS,
    "exponential: lr = min_learning_rate + (learning_rate - min_learning_rate)"
    " * exp(-step / decay_steps), the codelab's schedule" + _DOCUMENT,
)
_MIN_LEARNING_RATE = absl_flags.DEFINE_float(
    "min_learning_rate", None, "Floor of the exponential decay" + _DOCUMENT, lower_bound=0.0
)
_DECAY_STEPS = absl_flags.DEFINE_float(
    "decay_steps", None, "Time constant of the exponential decay, in steps" + _DOCUMENT
)
_HIDDEN_SIZES = absl_flags.DEFINE_list(
    "hidden_sizes", None, "Widths of the hidden layers of mlp and deep_mlp" + _DOCUMENT
)
_ACTIVATION = absl_flags.DEFINE_enum(
    "activation", None, config_lib.ACTIVATIONS, "Activation of hidden layers" + _DOCUMENT
)
_DROPOUT_KEEP = absl_flags.DEFINE_float(
    "dropout_keep",
    None,
    "Probability of keeping a unit during training (the codelab's pkeep), in "
    "(0, 1]; 1 turns dropout off" + _DOCUMENT,
)
_BIAS_INIT = absl_flags.DEFINE_float("bias_init", None, "Initial value of every bias" + _DOCUMENT)
_UNIFORM_BIASES = absl_flags.DEFINE_bool(
    "uniform_biases",
    False,
    "Draw biases uniform in [-init_limit, init_limit] like --weight_init=uniform "
    "weights, instead of --bias_init (the gradient-learning notebook's softmax).",
)
_CONV_CHANNELS = absl_flags.DEFINE_list(
    "conv_channels", None, "Output channels of the three conv layers" + _DOCUMENT
)
_CONV_KERNELS = absl_flags.DEFINE_list(
    "conv_kernels", None, "Square kernel sizes of the three conv layers" + _DOCUMENT
)
_CONV_STRIDES = absl_flags.DEFINE_list(
    "conv_strides", None, "Strides of the three conv layers" + _DOCUMENT
)
_DENSE_UNITS = absl_flags.DEFINE_integer(
    "dense_units", None, "Width of the convnet's fully connected layer" + _DOCUMENT,
    lower_bound=1,
)
_LOSS = absl_flags.DEFINE_enum(
    "loss",
    None,
    config_lib.LOSS_FORMS,
    "How the cross-entropy is written (see flags/config.py)" + _DOCUMENT,
)
_WEIGHT_INIT = absl_flags.DEFINE_enum(
    "weight_init",
    None,
    config_lib.WEIGHT_INITIALIZERS,
    "Initial values of the weight matrices; biases start at --bias_init" + _DOCUMENT,
)
_INIT_STDDEV = absl_flags.DEFINE_float(
    "init_stddev",
    None,
    "Standard deviation for --weight_init=truncated_normal" + _DOCUMENT,
    lower_bound=0.0,
)
_INIT_LIMIT = absl_flags.DEFINE_float(
    "init_limit",
    None,
    "Weights are uniform in [-limit, limit] for --weight_init=uniform" + _DOCUMENT,
    lower_bound=0.0,
)
_SEED = absl_flags.DEFINE_integer(
    "seed", 0, "Seed for initial values and batch order.", lower_bound=0
)
_RNG = absl_flags.DEFINE_enum(
    "rng",
    "numpy",
    config_lib.RNG_SOURCES,
    "numpy: initial values and batch order drawn with numpy from --seed, "
    "identical on both sides. tensorflow: each side uses TensorFlow's own "
    "random ops.",
)
_EVAL_AT = absl_flags.DEFINE_list(
    "eval_at",
    None,
    "Comma-separated steps after which to record test accuracy (0 = before "
    "training), e.g. 0,1,10,1000; the last step is always recorded. A later "
    "--eval_at replaces an earlier one (a preset's, say); a preset's or "
    "document's points beyond a lower --steps are dropped" + _DOCUMENT,
)
_OUTPUT_DIR = absl_flags.DEFINE_string(
    "output_dir",
    None,
    "Directory for the final checkpoint and the TensorBoard summaries (loss, "
    "learning rate, test accuracy), in SIDE/ subdirectories so that "
    "`tensorboard --logdir=DIR` overlays the two sides.",
)
_EXPORT_DIR = absl_flags.DEFINE_string(
    "export_dir",
    None,
    "Export a SavedModel here at the end (serving_default: images float32 [None, 784] -> "
    "probabilities, classes). It must not exist or be empty; it is checked before "
    "training and written through a temporary directory.",
)
_CHECKPOINT_EVERY = absl_flags.DEFINE_integer(
    "checkpoint_every",
    0,
    "With --output_dir, also checkpoint every this many steps (0: only at the end).",
    lower_bound=0,
)
_RESUME = absl_flags.DEFINE_bool(
    "resume",
    False,
    "Continue the run in --output_dir from its last checkpoint (needs --rng=numpy); "
    "the result is bit-identical to an uninterrupted run on CPU, without dropout.",
)
_OVERWRITE = absl_flags.DEFINE_bool(
    "overwrite",
    False,
    "Replace a run already in --output_dir instead of refusing to start; for the "
    "checkpoint converter, replace a checkpoint already at OUT.",
)
_ALLOW_CHANGED_SETTINGS = absl_flags.DEFINE_bool(
    "allow_changed_settings",
    False,
    "With --resume, continue with settings that differ from the run's saved ones "
    "(each change is logged) instead of refusing.",
)
_QUIET = absl_flags.DEFINE_bool("quiet", False, "Log no progress lines.")
_INPUT_PIPELINE = absl_flags.DEFINE_enum(
    "input_pipeline",
    "feed_dict",
    config_lib.INPUT_PIPELINES,
    "TF1 side only. feed_dict: each batch fed from numpy, as the documents do. "
    "in_graph: the training set and batch order preloaded into the graph "
    "(needs --rng=numpy); the same batches, without the per-step copy.",
)
_STEPS_PER_CALL = absl_flags.DEFINE_integer(
    "steps_per_call",
    None,
    "TF2 side only. Training steps per tf.function call: 1 calls the step from "
    "Python each time, as TF1 calls session.run; more runs that many steps in one "
    "call of the in-graph loop (tf2_eager/multi_step.py), ending early at every "
    "evaluation and checkpoint step. The same steps and losses either way. More "
    "than 1 needs --rng=numpy. Default: 10 with --rng=numpy, 1 with --rng=tensorflow.",
    lower_bound=1,
)
PLOTS_DIR = absl_flags.DEFINE_string(
    "plots_dir",
    None,
    "Write PNG figures here: test digits with their predictions, the "
    "confusion matrix, loss and accuracy curves, the weight images of "
    "softmax_regression; from the parity command, the two sides overlaid.",
)
_ALLOW_NONFINITE = absl_flags.DEFINE_bool(
    "allow_nonfinite",
    False,
    "Train on after a NaN or infinite loss instead of stopping at that step.",
)
_DEVICE = absl_flags.DEFINE_string(
    "device",
    None,
    'Device to run on, e.g. "/CPU:0" or "/GPU:0"; unset lets TensorFlow place '
    "ops (a GPU when there is one).",
)

JSON_PATH = absl_flags.DEFINE_string(
    "json", None, "Write the run's metrics to this JSON file."
)


PRESET = absl_flags.DEFINE_string(
    "preset",
    None,
    "A document's experiment by name (e.g. hvass_softmax; --list_presets shows "
    "them) or a flagfile's path. Its settings replace the model's document; "
    "flags given beside it override it, in any order.",
)
LIST_PRESETS = absl_flags.DEFINE_bool(
    "list_presets", False, "List the shipped presets and exit."
)


def _reads_as_integer(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _integers(values: Optional[list[str]]) -> bool:
    """Whether every item of a list flag reads as an integer: the syntax. The
    model's config class (flags/model_configs.py) checks the values."""
    return values is None or all(_reads_as_integer(value) for value in values)


for _list_flag in ("hidden_sizes", "conv_channels", "conv_kernels", "conv_strides"):
    absl_flags.register_validator(
        _list_flag,
        _integers,
        message=f"--{_list_flag} takes comma-separated integers.",
    )


@absl_flags.validator(
    "eval_at", message="--eval_at takes comma-separated integers, e.g. 0,1,10,1000."
)
def _check_eval_at_integers(values: Optional[list[str]]) -> bool:
    return values is None or all(value.strip().isdigit() for value in values)


@absl_flags.validator(
    "preset", message="--preset takes a name from --list_presets or a flagfile's path."
)
def _check_preset(value: Optional[str]) -> bool:
    if value is None:
        return True
    try:
        presets.path(value)
    except ValueError:
        return False
    return True


@absl_flags.multi_flags_validator(
    ["dataset", "data_dir"],
    message="--data_dir reads IDX files for --dataset=mnist or fashion_mnist; "
    "--dataset=mnist_embedded ships with the package. Drop one of the two.",
)
def _check_data_dir(flag_values: dict) -> bool:
    return not (
        flag_values["dataset"] == "mnist_embedded" and flag_values["data_dir"]
    )


@absl_flags.multi_flags_validator(
    ["plots_dir", "export_dir", "model"],
    message="--plots_dir and --export_dir are for the MNIST classifiers ("
    + ", ".join(config_lib.CLASSIFIER_MODELS)
    + "); the standalone models print their results. Drop the flag.",
)
def _check_classifier_outputs(flag_values: dict) -> bool:
    return flag_values["model"] in config_lib.CLASSIFIER_MODELS or not (
        flag_values["plots_dir"] or flag_values["export_dir"]
    )


def _flag_value(name: str) -> Any:
    """--NAME's parsed value in the TrainConfig field's type."""
    value = absl_flags.FLAGS[name].value
    if isinstance(value, list):
        return tuple(int(item) for item in value)
    return value


def to_config(announce: bool = True) -> config_lib.TrainConfig:
    """Builds the TrainConfig from parsed flags. Call only from a main.

    Three layers, the later winning: the model's document (TrainConfig's
    own defaults), the --preset, and the flags given on the command line
    (or in a --flagfile). A lowered --steps keeps the preset's evaluation
    points up to it, and says so in one log line if `announce`.
    """
    preset = config_lib.preset_values(PRESET.value) if PRESET.value else {}
    values = {}
    for field in dataclasses.fields(config_lib.TrainConfig):
        flag = absl_flags.FLAGS[field.name]
        if not flag.using_default_value:
            values[field.name] = _flag_value(field.name)
        elif field.name in preset:
            values[field.name] = preset[field.name]
        elif flag.value is not None:
            values[field.name] = _flag_value(field.name)
    steps = values.get("steps")
    if "eval_at" in preset and values["eval_at"] is preset["eval_at"] and steps is not None:
        kept = config_lib.trim_eval_at(preset["eval_at"], steps)
        if kept != preset["eval_at"] and announce:
            logging.info(
                "--steps=%d: evaluating at steps %s of the preset's %s, and after the last.",
                steps, ",".join(map(str, kept)) or "none",
                ",".join(map(str, preset["eval_at"])),
            )
        values["eval_at"] = kept
    return config_lib.TrainConfig(**values)


def list_presets() -> None:
    """Prints one line per shipped preset (--list_presets)."""
    for name in presets.names():
        print(presets.describe(name))


def check_before_training(
    config: config_lib.TrainConfig, side: str, devices: Optional[Sequence[str]]
) -> None:
    """What each side's main checks before the data loads, so that a mistake
    costs no training: the outputs, sizes and device
    (checks.check_before_training; `devices` None skips the device) and an
    existing run in OUTPUT_DIR/SIDE (run_directory.prepare)."""
    checks.check_before_training(config, JSON_PATH.value, PLOTS_DIR.value, devices)
    if config.output_dir and config.model in config_lib.CLASSIFIER_MODELS:
        # Imported here: run_directory imports TensorFlow for tf.io.gfile,
        # and this module must not.
        from runtime import run_directory

        run_directory.prepare(config.output_dir, side, config.resume, config.overwrite)
