"""Restoring a tf2_eager model from either side's checkpoint, and writing both.

A TF1 `Saver` checkpoint keys variables by graph name, a TF2
`tf.train.Checkpoint` by object path; runtime/checkpoint_names.py holds
the table between the two, and every read checks each name and shape
against the model. The TF1 twin is tf1_graph/checkpoints.py; the command is
tf2_eager/convert_checkpoint.py.
"""

import contextlib
import glob
import os
import shutil
import tempfile
from typing import Callable, Iterator

import tensorflow as tf

from flags import config as config_lib
from runtime import checkpoint_names
from runtime import reporting
from tf2_eager import models
from tf2_eager import weights
from runtime import errors


def restore(model: tf.Module, model_name: str, path: str, checkpoint_format: str) -> None:
    """Loads a checkpoint of either format into `model`'s variables.

    Args:
      model: A tf2_eager model, e.g. tf2_eager.mlp.create(model_config, seed).
      model_name: Its name in runtime.checkpoint_names ("mlp").
      path: Checkpoint prefix ("out/model.ckpt-1000", "out/ckpt-1"), or a
        directory with a "checkpoint" file naming the latest one.
      checkpoint_format: "tf1" for a tf.compat.v1.train.Saver checkpoint,
        "tf2" for a tf.train.Checkpoint(model=...) one.

    Raises:
      ValueError: Listing the variables that are missing, unexpected or
        mis-shaped, with the fix.
    """
    variables = model.trainable_variables
    reader = tf.train.load_checkpoint(path)
    values = checkpoint_names.values_by_name(
        reader.get_variable_to_shape_map(),
        reader.get_tensor,
        {weights.variable_name(v): v.shape.as_list() for v in variables},
        model_name,
        checkpoint_format,
        path,
    )
    weights.assign(variables, values)


def write(model: tf.Module, path: str, checkpoint_format: str) -> str:
    """Writes `model`'s variables as a checkpoint of `checkpoint_format`.

    "tf2" is tf.train.Checkpoint(model=model), which tf2_eager/train.py
    writes (here without the optimizer). "tf1" is what a TF1 `Saver` writes,
    each variable under its graph name; a compat.v1 Saver also runs eagerly
    when given its variables by name, so no graph is built.

    Returns:
      The checkpoint's path prefix, which both formats' readers take.
    """
    checkpoint_names.check_format(checkpoint_format)
    if checkpoint_format == "tf2":
        return tf.train.Checkpoint(**{checkpoint_names.TF2_ROOT: model}).write(path)
    saver = tf.compat.v1.train.Saver(
        var_list={weights.variable_name(v): v for v in model.trainable_variables}
    )
    return saver.save(None, path)


def checkpoint_files(prefix: str) -> list[str]:
    """The files of the checkpoint at `prefix` (index, data shards, meta)."""
    return sorted(glob.glob(glob.escape(prefix) + ".index")
                  + glob.glob(glob.escape(prefix) + ".data-*")
                  + glob.glob(glob.escape(prefix) + ".meta"))


def check_conversion_paths(in_path: str, out_path: str, overwrite: bool) -> None:
    """Refuses an OUT that would destroy a checkpoint, before anything is read.

    Args:
      in_path: The checkpoint to read: a prefix, or a directory with a
        "checkpoint" file naming the latest one.
      out_path: Prefix of the checkpoint to write.
      overwrite: Replace a checkpoint already at out_path (--overwrite).

    Raises:
      ValueError: If out_path is in_path (always: the conversion would
        replace its own input), if a checkpoint is at out_path and not
        `overwrite`, or if out_path cannot be written.
    """
    latest = tf.train.latest_checkpoint(in_path) if os.path.isdir(in_path) else None
    if os.path.realpath(latest or in_path) == os.path.realpath(out_path):
        raise errors.FixableError(
            f"OUT {out_path} is the checkpoint IN; converting in place would destroy the "
            "original. Choose another OUT, e.g. a tf2/ or tf1/ directory beside it."
        )
    existing = checkpoint_files(out_path)
    if existing and not overwrite:
        raise errors.FixableError(
            f"OUT {out_path} already holds a checkpoint ({', '.join(existing)}); pass "
            "--overwrite to replace it, or choose another OUT."
        )
    reporting.check_file_target(out_path + ".index", "the converted checkpoint", "OUT")


def write_atomically(write_to: Callable[[str], str], out_path: str) -> str:
    """Writes a checkpoint beside out_path, then renames its files into place.

    The data shards are renamed first and the index last, since readers
    find a checkpoint by its index: into a new OUT, a crash leaves the whole
    checkpoint or none. Over an old one (--overwrite), only the instant
    between the two renames pairs the new data with the old index. Shards of
    an old checkpoint that the new one does not replace are removed. The
    Saver's "checkpoint" state file stays behind with the temporary files:
    OUT is a prefix, not a run directory.

    Args:
      write_to: Writes the checkpoint at the prefix it is given and returns
        that prefix (a Checkpoint.write or Saver.save).
      out_path: Prefix of the checkpoint to end up with.

    Returns:
      out_path.

    Raises:
      runtime.reporting.OutputError: If the checkpoint cannot be written
        (a full or read-only disk), naming the fix.
    """
    what = "the converted checkpoint"
    with reporting.output_errors(what, out_path, "OUT"):
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        holder = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(out_path)),
                                  prefix=reporting.TEMPORARY_PREFIX)
    try:
        # TensorFlow's file system reports a full or read-only disk as an OpError.
        with reporting.output_errors(what, out_path, "OUT", also=(tf.errors.OpError,)):
            written = write_to(os.path.join(holder, "ckpt"))
            new_files = checkpoint_files(written)
            renamed = [out_path + name[len(written):] for name in new_files]
            stale = sorted(set(checkpoint_files(out_path)) - set(renamed))
            index_last = sorted(zip(new_files, renamed), key=lambda pair: pair[1].endswith(".index"))
            for source, target in index_last:
                os.replace(source, target)
            for name in stale:
                os.remove(name)
    finally:
        shutil.rmtree(holder, ignore_errors=True)
    return out_path


@contextlib.contextmanager
def reading_errors(in_path: str) -> Iterator[None]:
    """A truncated or corrupt checkpoint as a one-line ValueError naming the
    file and the choices; a missing one stays a NotFoundError."""
    try:
        yield
    except tf.errors.NotFoundError:
        raise
    except (tf.errors.OpError, IndexError) as error:
        detail = error.message if isinstance(error, tf.errors.OpError) else str(error)
        raise errors.FixableError(
            f"Cannot read the checkpoint {in_path}: it is truncated or corrupt "
            f"({detail.splitlines()[0]}). Restore its files from a copy, or convert an "
            "earlier checkpoint of the run (model.ckpt-N, ckpt-N)."
        ) from error


def convert(
    config: config_lib.TrainConfig,
    in_path: str,
    out_path: str,
    from_format: str,
    overwrite: bool = False,
) -> str:
    """Converts a checkpoint of config.model to the other side's format.

    The checkpoint is restored into the tf2_eager model the configuration
    describes, so every name and shape is checked, then written out in the
    other format, through a temporary prefix and a rename (see
    write_atomically). Only model variables cross: optimizer slots and step
    counters are left behind, since TF1's and Keras' optimizers keep
    different state (RMSProp's accumulator, Adam's power variables).

    Args:
      config: The configuration the checkpoint was trained with (model and
        layer sizes).
      in_path: The checkpoint to read, in `from_format`.
      out_path: Prefix of the checkpoint to write, in the other format.
      from_format: "tf1" or "tf2".
      overwrite: Replace a checkpoint already at out_path.

    Returns:
      The written checkpoint's path prefix.

    Raises:
      ValueError: If out_path is in_path or already holds a checkpoint (see
        check_conversion_paths), if in_path is truncated or corrupt, or if
        its variables do not match the model.
    """
    check_conversion_paths(in_path, out_path, overwrite)
    to_format = checkpoint_names.other_format(from_format)
    model = models.MODELS[config.model].create(config.model_config, config.seed)
    with reading_errors(in_path):
        restore(model, config.model, in_path, from_format)
    return write_atomically(lambda prefix: write(model, prefix, to_format), out_path)
