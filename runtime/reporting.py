"""Progress lines and metrics files, shared by both sides' train scripts."""

import contextlib
import errno
import json
import os
import posixpath
import shutil
import sys
import tempfile
from typing import IO, Any, Callable, Iterator, Optional

from absl import logging
from runtime import errors

# TensorBoard tags of the scalar summaries both sides write
# (tf1_graph/summaries.py, tf2_eager/summaries.py), so the two runs overlay.
# Each sits under a name scope: TF1's tf.compat.v1.summary.scalar makes the
# tag from the op's name scope, and a bare "loss" would come out as "loss_1"
# next to the classifier's own "loss" scope.
LOSS_TAG = "train/loss"
LEARNING_RATE_TAG = "train/learning_rate"
TEST_ACCURACY_TAG = "test/accuracy"
# The start of every temporary file or directory an output is written to
# before its rename into place.
TEMPORARY_PREFIX = ".tmp-"


# The errno of a write failure TensorFlow's own file system reports: it
# raises tf.errors.OpError with the C library's message, not an OSError.
_ERRNO_OF_MESSAGE = {os.strerror(number): number for number in (
    errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR,
    errno.EEXIST)}


def describe_write_error(error: Exception, what: str, path: str, flag: str) -> str:
    """One line naming an output that could not be written and the fix.

    Args:
      error: The OSError the write raised, or TensorFlow's OpError (whose
        `message` holds the C library's text).
      what: The output, for the message ("the metrics JSON").
      path: The path that was being written.
      flag: The flag that names the path, for the fix ("--json").
    """
    full_text = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
    text = full_text.splitlines()[0]
    number = getattr(error, "errno", None)
    if number is None:
        # TensorFlow's text names its kernel and temporary file around the
        # C library's message (a graph's on a later line); the message alone
        # is what the user can act on.
        number = next(
            (value for message, value in _ERRNO_OF_MESSAGE.items() if message in full_text), None)
        text = os.strerror(number) if number else text
    if number == errno.ENOSPC:
        fix = f"free space on that filesystem or pass another {flag}"
    elif number in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"make the directory writable or pass another {flag} on a writable filesystem"
    elif number in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
        fix = f"a file and a directory are swapped in that path: pass another {flag}"
    else:
        fix = f"pass another {flag}"
    return f"Cannot write {what} {path}: {text}; {fix}."


class OutputError(errors.FixableError):
    """An output (metrics JSON, figure, SavedModel, converted checkpoint)
    that cannot be written where it was asked for; the message names the fix."""


@contextlib.contextmanager
def output_errors(
    what: str, path: str, flag: str, also: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """Turns an OSError (or one of `also`, e.g. tf.errors.OpError) raised
    while writing `path` into an OutputError."""
    try:
        yield
    except (OSError, *also) as error:
        raise OutputError(describe_write_error(error, what, path, flag)) from error


def write_file_atomically(
    path: str, write: Callable[[IO], None], *, binary: bool, what: str, flag: str
) -> None:
    """Writes a file through a temporary file beside it and a rename.

    A crash mid-write (a full disk, an interrupt) leaves the previous file,
    if any, intact rather than a truncated one, and no temporary file.

    Args:
      path: The file to write; its directory is created if needed.
      write: Writes the contents into the open file it is given.
      binary: Open the file in binary mode (a PNG) rather than text.
      what: The output, for errors ("the metrics JSON").
      flag: The flag that names `path`, for errors ("--json").

    Raises:
      OutputError: If the file cannot be written (a full or read-only disk,
        a directory at `path`), naming the fix.
    """
    check_file_target(path, what, flag)
    if is_remote(path):
        _write_remote_file(path, write, binary=binary, what=what, flag=flag)
        return
    directory = os.path.dirname(os.path.abspath(path))
    with output_errors(what, path, flag):
        os.makedirs(directory, exist_ok=True)
        file_descriptor, temporary_path = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX)
        try:
            with os.fdopen(file_descriptor, "wb" if binary else "w") as file:
                write(file)
            os.replace(temporary_path, path)
        except BaseException:
            os.unlink(temporary_path)
            raise


def is_remote(path: str) -> bool:
    """Whether `path` names a file system of TensorFlow's (gs://, ram://, ...)
    rather than a local path."""
    return "://" in path


def _write_remote_file(
    path: str, write: Callable[[IO], None], *, binary: bool, what: str, flag: str
) -> None:
    """write_file_atomically on a TensorFlow file system, through tf.io.gfile:
    a temporary name beside `path`, then a rename."""
    # Imported here: a local path, the usual one, needs no TensorFlow.
    import tensorflow as tf

    temporary_path = f"{path}{TEMPORARY_PREFIX}{os.getpid()}"
    with output_errors(what, path, flag, also=(tf.errors.OpError,)):
        tf.io.gfile.makedirs(posixpath.dirname(path))
        try:
            with tf.io.gfile.GFile(temporary_path, "wb" if binary else "w") as file:
                write(file)
            tf.io.gfile.rename(temporary_path, path, overwrite=True)
        except BaseException:
            if tf.io.gfile.exists(temporary_path):
                tf.io.gfile.remove(temporary_path)
            raise


def write_json(
    path: str,
    payload: Any,
    *,
    indent: Optional[int] = 2,
    what: str = "the metrics JSON",
    flag: str = "--json",
) -> None:
    """Writes `payload` as JSON atomically (see write_file_atomically);
    `what` and `flag` name the file and the flag that sets it in errors."""

    def dump(file: IO) -> None:
        json.dump(payload, file, indent=indent, sort_keys=True)
        file.write("\n")

    write_file_atomically(path, dump, binary=False, what=what, flag=flag)


@contextlib.contextmanager
def directory_written_atomically(
    export_dir: str, what: str, flag: str, also: tuple[type[Exception], ...] = ()
) -> Iterator[str]:
    """Yields a fresh temporary path beside `export_dir` to write a directory
    into, and renames it to `export_dir` when the block succeeds.

    A failed write (a full disk, an error in the exporter) removes the
    temporary directory and leaves `export_dir` as it was. The target is
    checked first (see check_directory_target).

    Args:
      export_dir: The directory to end up with.
      what: The output, for errors ("the SavedModel").
      flag: The flag that names export_dir, for errors.
      also: Errors besides OSError that a failed write raises (TensorFlow's
        tf.errors.OpError), to report the same way.

    Raises:
      OutputError: If `export_dir` is a file or a non-empty directory, or the
        directory cannot be written, naming the fix.
    """
    check_directory_target(export_dir, what, flag)
    parent = os.path.dirname(os.path.abspath(export_dir))
    with output_errors(what, export_dir, flag):
        os.makedirs(parent, exist_ok=True)
        holder = tempfile.mkdtemp(dir=parent, prefix=TEMPORARY_PREFIX)
    try:
        # The writers (tf.saved_model.save, the TF1 Builder) want a path that
        # does not exist yet, so the block writes one level down.
        temporary = os.path.join(holder, "directory")
        with output_errors(what, export_dir, flag, also):
            yield temporary
            # An empty directory at the target (the one thing
            # check_directory_target lets through) is replaced by the rename.
            os.replace(temporary, export_dir)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _nearest_existing(path: str) -> str:
    """The path itself or its closest ancestor that exists."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def _check_creatable(path: str, what: str, flag: str) -> None:
    """Raises OutputError unless `path` can be created: its closest existing
    ancestor must be a writable directory."""
    ancestor = _nearest_existing(os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(ancestor):
        raise OutputError(
            f"Cannot write {what} {path}: {ancestor} is a file, not a directory; "
            f"pass another {flag}."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(
            f"Cannot write {what} {path}: {ancestor} is not writable; make it writable "
            f"or pass another {flag}."
        )


def check_file_target(path: str, what: str, flag: str) -> None:
    """Raises OutputError unless a file can be written (or replaced) at `path`.
    A remote path (is_remote) is checked when it is written."""
    if is_remote(path):
        return
    if os.path.isdir(path):
        raise OutputError(
            f"{flag}={path} is a directory; {flag} names the file to write {what} to, "
            f"e.g. {flag}={os.path.join(path, 'metrics.json')}."
        )
    _check_creatable(path, what, flag)


def check_directory_target(path: str, what: str, flag: str, *, must_be_empty: bool = True) -> None:
    """Raises OutputError unless a directory can be written at `path`.

    Args:
      path: The directory to write.
      what: The output, for the message.
      flag: The flag that names it, for the fix.
      must_be_empty: Refuse a directory that holds files (an export, which
        would mix with them); the figures' directory may hold others.
    A remote path (is_remote) is checked when it is written.
    """
    if is_remote(path):
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(
            f"{flag}={path} is a file; {flag} names a directory to write {what} into: "
            f"pass another {flag}."
        )
    if must_be_empty and os.path.isdir(path) and os.listdir(path):
        raise OutputError(
            f"{flag}={path} already exists and is not empty; {what} is never written "
            f"over another: remove it or pass another {flag}."
        )
    if os.path.isdir(path):
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputError(f"Cannot write {what} into {path}: it is not writable; "
                              f"make it writable or pass another {flag}.")
        if must_be_empty:
            # The export is renamed into place, which needs the parent too.
            _check_creatable(path, what, flag)
        return
    _check_creatable(path, what, flag)


def check_output_targets(
    json_path: Optional[str] = None,
    plots_dir: Optional[str] = None,
    export_dir: Optional[str] = None,
) -> None:
    """Checks every output a run will write, before it trains.

    A run that fails on its outputs after training has lost the training:
    call this from main before any step. It only reads the filesystem.

    Args:
      json_path: The --json file, or None.
      plots_dir: The --plots_dir directory, or None.
      export_dir: The --export_dir directory, or None.

    Raises:
      OutputError (a ValueError): One line naming the first target that
        cannot be written (a directory for --json, a file for --plots_dir,
        an existing non-empty --export_dir, a parent that is a file or not
        writable) and the fix.
    """
    if json_path:
        check_file_target(json_path, "the metrics JSON", "--json")
    if plots_dir:
        check_directory_target(plots_dir, "the figures", "--plots_dir", must_be_empty=False)
    if export_dir:
        check_directory_target(export_dir, "the SavedModel", "--export_dir")


def run_metrics(
    *,
    side: str,
    model: str,
    dataset: dict[str, Any],
    accuracy_trace: dict[int, float],
    loss_trace: list[float],
    seconds: float,
    checkpoint: Optional[str],
    weights: dict[str, Any],
    results: Optional[dict[str, Any]] = None,
    test_predictions: Optional[Any] = None,
) -> dict[str, Any]:
    """The result of one training run, the same shape on both sides.

    Args:
      side: "tf1_graph" or "tf2_eager".
      model: The model's name.
      dataset: A description of the data, with at least "name",
        "train_size" and "test_size" (Dataset.describe() for MNIST).
      accuracy_trace: {step: test accuracy}; its last step is the final one.
        Empty for a model without a test accuracy (multiply, linear
        regression), whose test_accuracy is then None.
      loss_trace: The loss of every step, before that step's update; empty
        for a model that does not train (multiply).
      seconds: Wall time of the training loop.
      checkpoint: Path of the checkpoint written, or None.
      weights: {variable name: final value}; for multiply, which has no
        variables, its output, so that parity compares it the same way.
      results: JSON-serialisable findings particular to the model (a
        confusion matrix, a gradient check), with a one-line "summary"
        that the train scripts print instead of the test accuracy.
      test_predictions: The final model's predicted class of every test
        example, int64 [n], for the figures; None for the standalone models.
    """
    return {
        "side": side,
        "model": model,
        "dataset": dataset,
        "steps": len(loss_trace),
        "test_accuracy": accuracy_trace[max(accuracy_trace)] if accuracy_trace else None,
        "accuracy_trace": accuracy_trace,
        "final_loss": loss_trace[-1] if loss_trace else None,
        "loss_trace": loss_trace,
        "seconds": seconds,
        "checkpoint": checkpoint,
        "weights": weights,
        "results": results or {},
        "test_predictions": test_predictions,
    }


def metrics_for_json(metrics: dict[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable part of a train() result (weights and
    predictions left out)."""
    serialisable = {
        key: value for key, value in metrics.items()
        if key not in ("weights", "test_predictions")
    }
    serialisable["accuracy_trace"] = {
        str(step): accuracy for step, accuracy in metrics["accuracy_trace"].items()
    }
    return serialisable


def finish_run(metrics: dict[str, Any], json_path: Optional[str]) -> None:
    """Logs the accuracy trace, prints the summary line, writes the JSON."""
    if metrics["accuracy_trace"]:
        trace = ", ".join(
            f"{step}: {accuracy:.2%}" for step, accuracy in metrics["accuracy_trace"].items()
        )
        logging.info("%s accuracy trace (step: test accuracy): %s", metrics["side"], trace)
    if "summary" in metrics["results"]:
        summary = metrics["results"]["summary"]
    else:
        summary = f"test accuracy {metrics['test_accuracy']:.2%}"
    if metrics["steps"]:
        summary += f" after {metrics['steps']} steps"
    print(
        f"{metrics['side']} {metrics['model']} on {metrics['dataset']['name']}: "
        f"{summary} ({metrics['seconds']:.1f} s)"
    )
    if json_path:
        # finish_run runs after the mains' own error handling; a disk that
        # filled during training is still one line, after the summary above.
        with exit_with_message_on(OutputError):
            write_json(json_path, metrics_for_json(metrics))


@contextlib.contextmanager
def exit_with_message_on(*error_types: type[BaseException]) -> Iterator[None]:
    """In a program's main: turns the expected errors (bad data, a bad
    configuration, a diverged loss) into one line on stderr and exit code 1,
    rather than a traceback; anything else still shows its traceback."""
    try:
        yield
    except error_types as error:
        sys.exit(f"error: {error}")
