"""The project's absl flags, defined once, validated where they are defined.

Importing this module defines the flags. Only a program's `main` reads their
values, through `to_config()` and the public FlagHolders below; library code
takes a `flags.config.TrainConfig` instead. Presets for each document's
experiment are flagfiles next to this module: `--flagfile=flags/NAME.cfg`.
"""

from typing import Any, Callable, Mapping, Sequence

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
_MOMENTUM = absl_flags.DEFINE_float(
    "momentum", 0.9, "Momentum of --optimizer=momentum (and rmsprop's).", lower_bound=0.0
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
    "none",
    config_lib.LEARNING_RATE_DECAYS,
    "exponential: lr = min_learning_rate + (learning_rate - min_learning_rate)"
    " * exp(-step / decay_steps), the codelab's schedule.",
)
_MIN_LEARNING_RATE = absl_flags.DEFINE_float(
    "min_learning_rate", 0.0001, "Floor of the exponential decay.", lower_bound=0.0
)
_DECAY_STEPS = absl_flags.DEFINE_float(
    "decay_steps", 2000.0, "Time constant of the exponential decay, in steps."
)
_HIDDEN_SIZES = absl_flags.DEFINE_list(
    "hidden_sizes", ["512"], "Widths of the hidden layers of mlp and deep_mlp."
)
_ACTIVATION = absl_flags.DEFINE_enum(
    "activation", "relu", config_lib.ACTIVATIONS, "Activation of hidden layers."
)
_DROPOUT_KEEP = absl_flags.DEFINE_float(
    "dropout_keep",
    1.0,
    "Probability of keeping a unit during training (the codelab's pkeep); "
    "1 turns dropout off.",
)
_BIAS_INIT = absl_flags.DEFINE_float("bias_init", 0.0, "Initial value of every bias.")
_UNIFORM_BIASES = absl_flags.DEFINE_bool(
    "uniform_biases",
    False,
    "Draw biases uniform in [-init_limit, init_limit] like --weight_init=uniform "
    "weights, instead of --bias_init (the gradient-learning notebook's softmax).",
)
_CONV_CHANNELS = absl_flags.DEFINE_list(
    "conv_channels", ["6", "12", "24"], "Output channels of the three conv layers."
)
_CONV_KERNELS = absl_flags.DEFINE_list(
    "conv_kernels", ["6", "5", "4"], "Square kernel sizes of the three conv layers."
)
_CONV_STRIDES = absl_flags.DEFINE_list(
    "conv_strides", ["1", "2", "2"], "Strides of the three conv layers."
)
_DENSE_UNITS = absl_flags.DEFINE_integer(
    "dense_units", 200, "Width of the convnet's fully connected layer.", lower_bound=1
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
    "Initial values of the weight matrices; biases start at --bias_init.",
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
    "output_dir",
    None,
    "Directory for the final checkpoint and the TensorBoard summaries (loss, "
    "learning rate, test accuracy), in SIDE/ subdirectories so that "
    "`tensorboard --logdir=DIR` overlays the two sides.",
)
_EXPORT_DIR = absl_flags.DEFINE_string(
    "export_dir",
    None,
    "Export a SavedModel here at the end (serving_default: images float32 "
    "[None, 784] -> probabilities, classes). The directory must not exist yet.",
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
    "overwrite", False, "Replace a run already in --output_dir instead of refusing to start."
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
    1,
    "TF2 side only. Training steps per tf.function call: 1 calls the step from "
    "Python each time; more runs the loop inside the graph (needs --rng=numpy). "
    "The same steps either way.",
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
PARITY_MODE = absl_flags.DEFINE_enum(
    "mode",
    "matched",
    ("matched", "independent"),
    "Parity command only. matched: both sides start from the same numpy "
    "initial values and see the same batches; independent: each side uses "
    "TensorFlow's own random ops.",
)


def _integers(values: list[str]) -> tuple[int, ...]:
    return tuple(int(value) for value in values)


def _positive_integers(values: list[str]) -> bool:
    return all(value.strip().isdigit() and int(value) > 0 for value in values)


for _list_flag in ("hidden_sizes", "conv_channels", "conv_kernels", "conv_strides"):
    absl_flags.register_validator(
        _list_flag,
        _positive_integers,
        message=f"--{_list_flag} takes comma-separated positive integers.",
    )


@absl_flags.validator(
    "dropout_keep", message="--dropout_keep must be in (0, 1]; 1 turns dropout off."
)
def _check_dropout_keep(value: float) -> bool:
    return 0 < value <= 1


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
    return all(step <= flag_values["steps"] for step in _integers(flag_values["eval_at"]))


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
        momentum=_MOMENTUM.value,
        optimizer_semantics=_OPTIMIZER_SEMANTICS.value,
        learning_rate_decay=_LEARNING_RATE_DECAY.value,
        min_learning_rate=_MIN_LEARNING_RATE.value,
        decay_steps=_DECAY_STEPS.value,
        loss=_LOSS.value,
        hidden_sizes=_integers(_HIDDEN_SIZES.value),
        activation=_ACTIVATION.value,
        dropout_keep=_DROPOUT_KEEP.value,
        bias_init=_BIAS_INIT.value,
        uniform_biases=_UNIFORM_BIASES.value,
        conv_channels=_integers(_CONV_CHANNELS.value),
        conv_kernels=_integers(_CONV_KERNELS.value),
        conv_strides=_integers(_CONV_STRIDES.value),
        dense_units=_DENSE_UNITS.value,
        weight_init=_WEIGHT_INIT.value,
        init_stddev=_INIT_STDDEV.value,
        init_limit=_INIT_LIMIT.value,
        seed=_SEED.value,
        rng=_RNG.value,
        eval_at=_integers(_EVAL_AT.value),
        output_dir=_OUTPUT_DIR.value,
        checkpoint_every=_CHECKPOINT_EVERY.value,
        resume=_RESUME.value,
        overwrite=_OVERWRITE.value,
        export_dir=_EXPORT_DIR.value,
        quiet=_QUIET.value,
        input_pipeline=_INPUT_PIPELINE.value,
        steps_per_call=_STEPS_PER_CALL.value,
        allow_nonfinite=_ALLOW_NONFINITE.value,
        device=_DEVICE.value,
    )


TrainFunction = Callable[[config_lib.TrainConfig, mnist_data.Dataset], dict[str, Any]]
Experiment = Callable[[config_lib.TrainConfig], dict[str, Any]]


def make_training_main(
    train: TrainFunction, experiments: Mapping[str, Experiment]
) -> Callable[[Sequence[str]], None]:
    """Returns the absl main of a side's train script: flags in, a run, report out.

    Both sides' `python -m SIDE.train` are
    `app.run(make_training_main(train, EXPERIMENTS))`: an MNIST classifier
    loads --dataset and goes to `train`; a standalone model (multiply,
    linear_regression, logistic_regression) goes to its experiment, which
    brings its own data.
    """

    def main(argv: Sequence[str]) -> None:
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        with reporting.exit_with_message_on(*EXPECTED_ERRORS):
            config = to_config()
            if config.model in experiments:
                metrics = experiments[config.model](config)
            else:
                dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
                metrics = train(config, dataset)
                if PLOTS_DIR.value:
                    # Imported here: matplotlib is only needed for figures.
                    from mnist_data import figures

                    figures.write_run_figures(
                        PLOTS_DIR.value, metrics, dataset.test_images, dataset.test_labels,
                        metrics["test_predictions"],
                        weights=metrics["weights"].get("softmax_regression/weights"),
                    )
        reporting.finish_run(metrics, JSON_PATH.value)

    return main
