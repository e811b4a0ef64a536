"""Converts a model checkpoint between the TF1 Saver and TF2 Checkpoint formats.

    python -m tf2_eager.convert_checkpoint --from=tf1 --flagfile=flags/hvass_softmax.cfg \
        tf1_out/model.ckpt-1000 tf2_out/ckpt
    python -m tf2_eager.convert_checkpoint --from=tf2 --model=softmax_regression \
        tf2_out/ckpt-1 tf1_out/model.ckpt
    python -m tf2_eager.convert_checkpoint --from=tf1 --port=tf2_eager.legacy.batch_norm_mlp \
        legacy_out/batch_norm_mlp/model.ckpt-20 tf2_out/ckpt

IN is a checkpoint prefix (or a directory holding a "checkpoint" file); OUT
is the prefix to write. OUT equal to IN is refused, and so is an OUT that
already holds a checkpoint unless --overwrite is given; the checkpoint is
written beside OUT and renamed into place, so a failed write loses nothing.
A truncated or corrupt IN is named in one line. The model and layer sizes come from the training
flags (--model, --hidden_sizes, ..., or the run's --flagfile), and every
variable's name and shape is checked against them. The library function is
tf2_eager.checkpoints.convert.

With --port, IN is a legacy TF1 model's Saver checkpoint (tf.layers or
tf-slim names: dense/kernel, batch_normalization/moving_mean,
LeNet/conv1/weights) and OUT the checkpoint of its TF2 port: the variable map
is inferred (equal names, then creation order and shape), printed, and may be
given instead with --variable_map=FILE.json; optimizer slots and step
counters are left behind. The library function is
tf2_eager.legacy_checkpoints.convert.
"""

from typing import Sequence

from absl import app
from absl import flags as absl_flags
import tensorflow as tf

from compat_tests import check
from flags import convert as convert_flags
from flags import definitions
from runtime import checkpoint_names
from runtime import reporting
from tf2_eager import checkpoints
from tf2_eager import legacy_checkpoints
from runtime import errors


def _convert_legacy(port: str, in_path: str, out_path: str) -> None:
    """The --port conversion: a legacy Saver checkpoint into the port's."""
    if convert_flags.FROM.value == "tf2":
        raise app.UsageError("--port converts a legacy TF1 Saver checkpoint: pass --from=tf1.")
    factory = port if ":" in port else f"{port}:make_tf2"
    with reporting.exit_with_message_on(errors.FixableError, tf.errors.NotFoundError):
        variable_map = (legacy_checkpoints.load_variable_map(convert_flags.VARIABLE_MAP.value)
                        if convert_flags.VARIABLE_MAP.value else None)
        written, name_map, _ = legacy_checkpoints.convert(
            check.load_object(factory), in_path, out_path, variable_map,
            overwrite=absl_flags.FLAGS.overwrite)
    print(name_map.format())
    print(f"Converted the legacy tf1 checkpoint {in_path} to the tf2 checkpoint {written} "
          f"of {factory} ({len(name_map.pairs)} variables).")


def main(argv: Sequence[str]) -> None:
    if len(argv) != 3:
        raise app.UsageError(
            f"Expected two arguments, IN and OUT checkpoint paths, got {list(argv[1:])}."
        )
    in_path, out_path = argv[1:]
    if convert_flags.PORT.value:
        _convert_legacy(convert_flags.PORT.value, in_path, out_path)
        return
    from_format = convert_flags.FROM.value
    if from_format is None:
        raise app.UsageError("Pass --from=tf1 or --from=tf2, the format of IN.")
    # A missing input checkpoint is a NotFoundError; like a mismatched one,
    # it is reported in one line rather than a traceback.
    # --overwrite here replaces OUT. The training configuration reads it as
    # "replace the run in --output_dir" and refuses it without one, so it is
    # taken out before the configuration is built.
    overwrite = absl_flags.FLAGS.overwrite
    absl_flags.FLAGS.overwrite = False
    with reporting.exit_with_message_on(errors.FixableError, tf.errors.NotFoundError):
        config = definitions.to_config()
        written = checkpoints.convert(config, in_path, out_path, from_format, overwrite)
    print(
        f"Converted {config.model} from the {from_format} checkpoint {in_path} to the "
        f"{checkpoint_names.other_format(from_format)} checkpoint {written}."
    )


if __name__ == "__main__":
    app.run(main)
