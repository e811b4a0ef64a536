"""Converts a model checkpoint between the TF1 Saver and TF2 Checkpoint formats.

    python -m tf2_eager.convert_checkpoint --from=tf1 --flagfile=flags/hvass_softmax.cfg \
        tf1_out/model.ckpt-1000 tf2_out/ckpt
    python -m tf2_eager.convert_checkpoint --from=tf2 --model=softmax_regression \
        tf2_out/ckpt-1 tf1_out/model.ckpt

IN is a checkpoint prefix (or a directory holding a "checkpoint" file); OUT
is the prefix to write. The model and layer sizes come from the training
flags (--model, --hidden_sizes, ..., or the run's --flagfile), and every
variable's name and shape is checked against them. The library function is
tf2_eager.checkpoints.convert.
"""

from typing import Sequence

from absl import app
import tensorflow as tf

from flags import convert as convert_flags
from flags import definitions
from mnist_data import checkpoint_names
from mnist_data import reporting
from tf2_eager import checkpoints


def main(argv: Sequence[str]) -> None:
    if len(argv) != 3:
        raise app.UsageError(
            f"Expected two arguments, IN and OUT checkpoint paths, got {list(argv[1:])}."
        )
    in_path, out_path = argv[1:]
    from_format = convert_flags.FROM.value
    if from_format is None:
        raise app.UsageError("Pass --from=tf1 or --from=tf2, the format of IN.")
    # A missing input checkpoint is a NotFoundError; like a mismatched one,
    # it is reported in one line rather than a traceback.
    with reporting.exit_with_message_on(ValueError, tf.errors.NotFoundError):
        config = definitions.to_config()
        written = checkpoints.convert(config, in_path, out_path, from_format)
    print(
        f"Converted {config.model} from the {from_format} checkpoint {in_path} to the "
        f"{checkpoint_names.other_format(from_format)} checkpoint {written}."
    )


if __name__ == "__main__":
    app.run(main)
