"""Flags of `python -m compat_tests.bench`, the side-by-side speed benchmark.

It also uses the shared --batch_size (when given, it replaces every
flagfile's batch size) and --json of flags.definitions, which the program
imports.
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


@absl_flags.validator(
    "models",
    message=f"--models takes comma-separated names from {', '.join(config_lib.CLASSIFIER_MODELS)}.",
)
def _check_models(names: list[str]) -> bool:
    return bool(names) and all(name in config_lib.CLASSIFIER_MODELS for name in names)
