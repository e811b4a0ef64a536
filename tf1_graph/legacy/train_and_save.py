"""Trains legacy TF1 models a few steps and saves them with tf.compat.v1.train.Saver.

    TF_USE_LEGACY_KERAS=1 python -m tf1_graph.legacy.train_and_save \\
        --model=batch_norm_mlp --steps=20 --output_dir=/tmp/legacy

writes /tmp/legacy/batch_norm_mlp/model.ckpt-20.{meta,index,data-*} and
run.json (tf1_graph/legacy/saving.py says what they hold). --model takes a
comma-separated list, or "all", so that one child pays TensorFlow's import
once for several models. It needs legacy Keras: `pip install '.[legacy]'`
and TF_USE_LEGACY_KERAS=1 in the environment before Python starts.

This module defines its own flags (--model, --steps, ... as in
flags.definitions), so it is a program only: import tf1_graph.legacy.saving
for the library function.
"""

from typing import Sequence

from absl import app
from absl import flags as absl_flags

from runtime import reporting
from tf1_graph import legacy
from tf1_graph.legacy import saving
from runtime import errors

_MODELS = absl_flags.DEFINE_list(
    "model", None,
    f"Legacy models to train, from {', '.join(legacy.MODEL_NAMES)}, or 'all'.")
_STEPS = absl_flags.DEFINE_integer("steps", 20, "Training steps per model.", lower_bound=1)
_BATCH_SIZE = absl_flags.DEFINE_integer("batch_size", 50, "Examples per step.", lower_bound=1)
_SEED = absl_flags.DEFINE_integer("seed", 0, "Graph seed and batch order.")
_OUTPUT_DIR = absl_flags.DEFINE_string(
    "output_dir", None, "Each model's files go in OUTPUT_DIR/MODEL/.")
absl_flags.mark_flags_as_required(["model", "output_dir"])


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    names = list(legacy.MODEL_NAMES) if _MODELS.value == ["all"] else _MODELS.value
    with reporting.exit_with_message_on(errors.FixableError, legacy.LegacyKerasError):
        for name in names:
            legacy.model_module(name)
        for name in names:
            run = saving.train_and_save(
                name, _STEPS.value, _OUTPUT_DIR.value, _BATCH_SIZE.value, _SEED.value)
            print(f"{name}: loss {run['losses'][0]:.4g} -> {run['losses'][-1]:.4g} "
                  f"in {run['steps']} steps; saved {run['checkpoint']}")


if __name__ == "__main__":
    app.run(main)
