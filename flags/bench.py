"""Flags of `python -m compat_tests.bench`, the side-by-side speed benchmark.

It also uses flags.definitions' shared --batch_size and --steps_per_call
(when given, each replaces every flagfile's value), --json, and, for the
scaling table, --dataset and --data_dir (the full training set to set
against the embedded one).
"""

from absl import flags as absl_flags

from flags import config as config_lib

MODELS = absl_flags.DEFINE_list(
    "models",
    list(config_lib.CLASSIFIER_MODELS),
    "Models to benchmark, each with its document's shipped flagfile: "
    "softmax_regression (hvass_softmax), mlp (keras_mlp), deep_mlp "
    "(codelab_2_1_five_layers_relu), convnet (codelab_3_1_conv_dropout).",
)
STEPS = absl_flags.DEFINE_integer(
    "bench_steps",
    50,
    "Training steps in each timed repeat of each path (the warm-up runs as many).",
    lower_bound=1,
)
REPEATS = absl_flags.DEFINE_integer(
    "repeats",
    5,
    "Timed repeats per path after the warm-up; the table shows their median.",
    lower_bound=1,
)
MATMUL_SIZE = absl_flags.DEFINE_integer(
    "matmul_size",
    2048,
    "Side of the square float32 matrices whose tf.matmul measures the "
    "machine's throughput for the FLOP bound.",
    lower_bound=1,
)

SCALING = absl_flags.DEFINE_bool(
    "scaling",
    False,
    "Also print the scaling table: ms/step and peak memory of tf1_feed_dict, "
    "tf2_function and the in-graph paths, each model at each "
    "--scaling_batch_sizes, on the embedded 5,000 digits and on a full-size "
    "training set (--dataset with --data_dir, else the embedded digits "
    "repeated to 60,000). Takes minutes.",
)
SCALING_BATCH_SIZES = absl_flags.DEFINE_list(
    "scaling_batch_sizes",
    ["32", "128", "512", "1024"],
    "Batch sizes of the scaling table, comma-separated positive integers no "
    "larger than the embedded set's 5,000 digits.",
)
SCALING_STEPS = absl_flags.DEFINE_integer(
    "scaling_steps",
    10,
    "Training steps in each timed repeat of the scaling table's cells.",
    lower_bound=1,
)
SCALING_REPEATS = absl_flags.DEFINE_integer(
    "scaling_repeats",
    3,
    "Timed repeats per scaling table cell after its warm-up; it shows their median.",
    lower_bound=1,
)


@absl_flags.validator(
    "scaling_batch_sizes",
    message="--scaling_batch_sizes takes comma-separated integers from 1 to 5000, e.g. 32,128,512,1024.",
)
def _check_batch_sizes(values: list[str]) -> bool:
    return bool(values) and all(
        value.strip().isdigit() and 1 <= int(value) <= 5000 for value in values
    )


@absl_flags.validator(
    "models",
    message=f"--models takes comma-separated names from {', '.join(config_lib.CLASSIFIER_MODELS)}.",
)
def _check_models(names: list[str]) -> bool:
    return bool(names) and all(name in config_lib.CLASSIFIER_MODELS for name in names)
