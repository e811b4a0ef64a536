"""The output directory of a training run: refuse, replace, lock and resume it.

Each side writes into its own subdirectory, OUTPUT_DIR/SIDE (checkpoints,
TensorBoard events and the run state below), so the two sides can share one
--output_dir and TensorBoard overlays them. Both sides' loops hold it with

    with run_directory.open_run(output_dir, side, resume, overwrite) as side_dir:
        latest = run_directory.resume_point(side_dir, config)   # None: step 0

which refuses an existing run unless --resume or --overwrite says what to do
with it, locks the directory while the run lives, starts a replaced run from
an empty directory, removes the temporaries of interrupted writes, and
checks what a resume continues: the checkpoint state file, the checkpoint's
data and the settings the run was trained with.

A run that loses nothing needs two things besides the checkpoint: the
checkpoint files must never be read half-written, and the losses and
accuracies recorded before the checkpoint must survive with it. TensorFlow
takes care of the first: both tf.compat.v1.train.Saver and
tf.train.CheckpointManager write the data and index files first and then
replace the small "checkpoint" state file, which names the latest complete
checkpoint, by a rename; a crash mid-write leaves the state file naming the
previous checkpoint. For the second, `write_state` records the traces of
step N in run_state-N.json (atomically) *before* checkpoint N is written, so
every checkpoint the state file can name has its traces; `prune_states`
deletes a step's run state once its checkpoint is deleted.

Files go through tf.io.gfile, the only TensorFlow this module uses, so a run
directory may be on any filesystem TensorFlow reads (ram://, gs://). The
lock is an fcntl.flock, which the kernel releases when its process ends
(a dead run cannot leave a stale lock); it holds on local filesystems only,
and a remote run directory is not locked.
"""

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shlex
import signal
import socket
import sys
import threading
from typing import Any, Iterator, Optional, Sequence

from absl import logging
import tensorflow as tf
from runtime import errors

_STATE_FILE = "run_state-{step}.json"
_STATE_FILE_STEP = re.compile(r"^run_state-(\d+)\.json$")
_CHECKPOINT_STEP = re.compile(r"-(\d+)$")
LOCK_FILE = "run.lock"
SETTINGS_FILE = "settings.json"
CHECKPOINT_STATE_FILE = "checkpoint"
# What interrupted writes leave: reporting.write_json's ".tmp-*.json",
# this module's "*.tmp", tf.io.gfile's atomic "*.tmp<hex>" and the Saver's
# and CheckpointManager's "*_temp*" directories of a checkpoint being written.
_TEMPORARY = re.compile(r"(^\.tmp-.*\.json$|\.tmp[0-9a-f]*$|_temp)")
# The TrainConfig fields that change what a run computes; a resume compares
# them with the ones the run was started with. Steps may grow (a longer
# run); data_dir, output flags and the TF2 steps_per_call do not change
# the numbers.
RESULT_SETTINGS = (
    "model", "dataset", "batch_size", "learning_rate", "optimizer", "momentum",
    "optimizer_semantics", "learning_rate_decay", "min_learning_rate", "decay_steps", "loss",
    "hidden_sizes", "activation", "dropout_keep", "bias_init", "uniform_biases",
    "conv_channels", "conv_kernels", "conv_strides", "dense_units", "weight_init",
    "init_stddev", "init_limit", "seed", "rng",
)


class InterruptedRun(SystemExit):
    """A run stopped by SIGINT or SIGTERM after saving its current step.

    A SystemExit, as the KeyboardInterrupt it replaces is no Exception: the
    program ends with the one-line message (exit code 1) rather than a
    traceback, and `except Exception` blocks let it through.
    """


def _is_local(path: str) -> bool:
    return "://" not in path


def _run_files(side_dir: str) -> list[str]:
    """The directory's files, but the lock (which outlives every run)."""
    if not tf.io.gfile.isdir(side_dir):
        return []
    return [name for name in tf.io.gfile.listdir(side_dir) if name.rstrip("/") != LOCK_FILE]


def prepare(output_dir: str, side: str, resume: bool, overwrite: bool) -> str:
    """Checks that a run may start in OUTPUT_DIR/SIDE; returns that path.

    Changes nothing, so a launcher can call it before starting any process:
    `open_run` (in the process that trains) checks again under the lock and
    replaces or keeps the directory.

    Raises:
      ValueError: If both `resume` and `overwrite` are set, OUTPUT_DIR/SIDE
        holds a run and neither is, or another live run holds it.
    """
    if resume and overwrite:
        raise errors.FixableError(
            "--resume continues the run in --output_dir and --overwrite replaces it; "
            "pass one of the two."
        )
    side_dir = os.path.join(output_dir, side)
    for path in (output_dir, side_dir):
        if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
            raise errors.FixableError(
                f"--output_dir: {path} is a file, not a directory; pass another --output_dir."
            )
    _refuse_unasked(side_dir, resume, overwrite)
    lock_path = os.path.join(side_dir, LOCK_FILE)
    if _is_local(side_dir) and os.path.exists(lock_path):
        with _locked(lock_path):
            pass
    return side_dir


def _refuse_unasked(side_dir: str, resume: bool, overwrite: bool) -> None:
    files = _run_files(side_dir)
    if files and not (resume or overwrite):
        raise errors.FixableError(
            f"{side_dir} already holds a run ({len(files)} files); pass --resume to "
            "continue it from its last checkpoint, --overwrite to replace it, or another "
            "--output_dir."
        )


@contextlib.contextmanager
def _locked(lock_path: str) -> Iterator[None]:
    """Holds an exclusive flock on lock_path, naming this process in it.

    Raises:
      ValueError: Naming the holder, if another process holds the lock.
    """
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
            raise errors.FixableError(
                f"{os.path.dirname(lock_path)} is in use by another run "
                f"({holder or 'starting up'}); wait for it to end or stop it, or pass "
                "another --output_dir."
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        # Closing the descriptor releases the lock; the file stays, since
        # removing it would let a third run lock a new file beside a holder.
        os.close(descriptor)


@contextlib.contextmanager
def open_run(output_dir: str, side: str, resume: bool, overwrite: bool) -> Iterator[str]:
    """Holds OUTPUT_DIR/SIDE for a run while the block runs; yields its path.

    With `overwrite`, every file of the old run is deleted first (under the
    lock, so no live run loses its files); with `resume` they are kept;
    with neither, an existing run is refused. Temporaries of interrupted
    writes are removed. The lock is released however the block ends.

    Raises:
      ValueError: As `prepare`, also when another run takes the directory first.
    """
    side_dir = prepare(output_dir, side, resume, overwrite)
    tf.io.gfile.makedirs(side_dir)
    lock = _locked(os.path.join(side_dir, LOCK_FILE)) if _is_local(side_dir) else contextlib.nullcontext()
    with lock:
        # Checked again under the lock: a run may have started meanwhile.
        _refuse_unasked(side_dir, resume, overwrite)
        for name in _run_files(side_dir):
            if overwrite or _TEMPORARY.search(name.rstrip("/")):
                _remove(os.path.join(side_dir, name.rstrip("/")))
        yield side_dir


def _remove(path: str) -> None:
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    else:
        tf.io.gfile.remove(path)


def checkpoint_step(checkpoint_path: str) -> int:
    """The step a checkpoint was saved at, from its name ("…/model.ckpt-40")."""
    match = _CHECKPOINT_STEP.search(checkpoint_path)
    if not match:
        raise errors.FixableError(
            f"Checkpoint {checkpoint_path!r} does not end in -STEP; it was not written "
            "by a train script of this project."
        )
    return int(match.group(1))


def _damaged(path: str, what: str) -> ValueError:
    return ValueError(
        f"Cannot resume: {path} is damaged ({what}); restore it from a copy, or pass "
        "--overwrite to start the run again. Nothing was changed."
    )


def kept_checkpoints(side_dir: str) -> list[str]:
    """The checkpoints the state file of side_dir lists, oldest first, each
    in side_dir itself; [] without a state file.

    The state file may name them by absolute path (a TF1 Saver's, or a run
    copied from elsewhere); only the name counts, so a copied or moved run
    reads its own files.

    Raises:
      ValueError: If the state file is garbled or names no checkpoint.
    """
    state_path = os.path.join(side_dir, CHECKPOINT_STATE_FILE)
    if not tf.io.gfile.exists(state_path):
        return []
    try:
        state = tf.train.get_checkpoint_state(side_dir)
    except (ValueError, UnicodeDecodeError, tf.errors.OpError) as error:
        raise _damaged(state_path, str(error).splitlines()[0]) from error
    if state is None or not state.model_checkpoint_path:
        raise _damaged(state_path, "it names no checkpoint")
    names = [os.path.basename(path) for path in state.all_model_checkpoint_paths]
    latest = os.path.basename(state.model_checkpoint_path)
    return [os.path.join(side_dir, name) for name in names if name != latest] + [
        os.path.join(side_dir, latest)
    ]


def check_checkpoint_files(checkpoint_path: str) -> None:
    """Raises ValueError if the checkpoint is missing or its data unreadable.

    TensorFlow would fail deep inside the restore; this names the fix. Every
    tensor is read once, so a checksum error is found before any variable
    changes.
    """
    if not tf.io.gfile.exists(checkpoint_path + ".index"):
        raise errors.FixableError(
            f"Cannot resume: the 'checkpoint' file names {checkpoint_path}, whose files "
            "are missing; restore them, or pass --overwrite to start the run again."
        )
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(checkpoint_path)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, ValueError) as error:
        raise _damaged(checkpoint_path + ".*", str(error).splitlines()[0]) from error


def settings_of(config: Any) -> dict[str, Any]:
    """The config's RESULT_SETTINGS, as JSON holds them (tuples as lists)."""
    return json.loads(json.dumps({name: getattr(config, name) for name in RESULT_SETTINGS}))


def resume_point(side_dir: str, config: Any) -> Optional[str]:
    """The checkpoint a run continues from, or None to start at step 0.

    Without config.resume (or before a first checkpoint), the run starts
    afresh and its settings are saved. With it, the state file, the
    checkpoint's data, its run state and the saved settings are checked
    first; a changed setting is refused unless config.allow_changed_settings
    says the user means it, and the new value is then saved.

    Raises:
      ValueError: Naming the damaged file, each changed setting (old -> new),
        or a config.steps below the checkpoint's step, with the fix.
    """
    latest = kept_checkpoints(side_dir)[-1:] if config.resume else []
    if not latest:
        if config.resume:
            logging.info("%s holds no checkpoint yet; the run starts at step 0.", side_dir)
        _write_json(os.path.join(side_dir, SETTINGS_FILE), settings_of(config))
        return None
    check_checkpoint_files(latest[0])
    step = checkpoint_step(latest[0])
    if config.steps < step:
        raise errors.FixableError(
            f"--steps={config.steps} is below step {step} of the checkpoint to resume, "
            f"{latest[0]}; pass --steps={step} or more, or --overwrite to start again."
        )
    read_state(side_dir, step)
    _check_settings(side_dir, config)
    return latest[0]


def _check_settings(side_dir: str, config: Any) -> None:
    path = os.path.join(side_dir, SETTINGS_FILE)
    # The temporary bridge until --allow_changed_settings is a TrainConfig field.
    allowed = config.allow_changed_settings
    current = settings_of(config)
    if not tf.io.gfile.exists(path):
        if not allowed:
            raise errors.FixableError(
                f"Cannot resume: {path} is missing, so the run's settings cannot be "
                "checked; restore it, pass --allow_changed_settings to resume with the "
                "current flags, or --overwrite to start again."
            )
        saved = current
    else:
        saved = _read_json(path)
    changes = [f"{name} {saved.get(name)!r} -> {value!r}"
               for name, value in current.items() if saved.get(name) != value]
    if changes and not allowed:
        raise errors.FixableError(
            f"Cannot resume {side_dir} with other settings than it was trained with: "
            f"{', '.join(changes)}; pass the old values, --allow_changed_settings to train "
            "on with the new ones, or --overwrite to start again."
        )
    if changes:
        logging.warning("Resuming %s with changed settings: %s", side_dir, ", ".join(changes))
    _write_json(path, current)


def _write_json(path: str, payload: Any) -> None:
    """Writes JSON atomically on any filesystem: a temporary, then a rename."""
    temporary = path + ".tmp"
    with tf.io.gfile.GFile(temporary, "w") as file:
        file.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tf.io.gfile.rename(temporary, path, overwrite=True)


def _read_json(path: str) -> Any:
    try:
        with tf.io.gfile.GFile(path, "rb") as file:
            return json.loads(file.read().decode())
    except (tf.errors.OpError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _damaged(path, str(error).splitlines()[0]) from error


def write_state(
    side_dir: str, step: int, loss_trace: list[float], accuracy_trace: dict[int, float]
) -> None:
    """Records the traces up to `step`; call before writing checkpoint `step`."""
    _write_json(
        os.path.join(side_dir, _STATE_FILE.format(step=step)),
        {"step": step, "loss_trace": loss_trace[:step],
         "accuracy_trace": {str(k): v for k, v in accuracy_trace.items()}},
    )


def read_state(side_dir: str, step: int) -> tuple[list[float], dict[int, float]]:
    """The loss and accuracy traces recorded with checkpoint `step`.

    Raises:
      ValueError: If the state file of that step is missing, garbled or
        does not match it, naming the file and the fix.
    """
    path = os.path.join(side_dir, _STATE_FILE.format(step=step))
    if not tf.io.gfile.exists(path):
        raise errors.FixableError(
            f"Cannot resume: the run state of step {step}, {path}, is missing; restore it, "
            "or pass --overwrite to start the run again."
        )
    state = _read_json(path)
    if (not isinstance(state, dict) or state.get("step") != step
            or len(state.get("loss_trace", ())) != step):
        raise _damaged(path, f"it does not describe step {step}")
    return state["loss_trace"], {int(k): v for k, v in state["accuracy_trace"].items()}


def prune_states(side_dir: str, kept_checkpoints: Sequence[str]) -> None:
    """Deletes the run state of every step whose checkpoint is gone (the
    Saver's and CheckpointManager's max_to_keep), so disk use stays bounded."""
    kept = {checkpoint_step(path) for path in kept_checkpoints}
    for name in tf.io.gfile.listdir(side_dir):
        match = _STATE_FILE_STEP.match(name)
        if match and int(match.group(1)) not in kept:
            tf.io.gfile.remove(os.path.join(side_dir, name))


def should_checkpoint(step: int, total_steps: int, every: Optional[int]) -> bool:
    """Whether to checkpoint after `step` updates: every `every` steps (if
    set, > 0) and always after the last one."""
    return step == total_steps or bool(every) and step % every == 0


@dataclasses.dataclass
class StopRequest:
    """Set by SIGINT or SIGTERM while `stop_on_signals` is active.

    Attributes:
      signal_name: "SIGINT" or "SIGTERM" once one arrived, else None.
    """

    signal_name: Optional[str] = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Turns SIGINT (Ctrl-C) and SIGTERM into a request the loop reads
    between steps, so it stops at a step boundary and can checkpoint it.

    A second signal acts at once, as it would without this. In a thread
    other than the main one (where Python cannot install handlers) the
    request is never set.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {}

    def handle(number: int, frame: Any) -> None:
        del frame  # Unused.
        request.signal_name = signal.Signals(number).name
        signal.signal(number, previous[number])

    for number in (signal.SIGINT, signal.SIGTERM):
        previous[number] = signal.signal(number, handle)
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def interrupted(side: str, signal_name: str, step: int, checkpoint: Optional[str]) -> InterruptedRun:
    """The one-line exit of a run stopped by `signal_name` after `step`."""
    if not checkpoint:
        return InterruptedRun(
            f"{side} stopped by {signal_name} after step {step}; nothing was saved "
            "(pass --output_dir to keep a run)."
        )
    main = sys.modules.get("__main__")
    program = getattr(getattr(main, "__spec__", None), "name", None) or f"{side}.train"
    arguments = [argument for argument in sys.argv[1:] if argument not in ("--overwrite", "--resume")]
    command = " ".join(["python", "-m", program, *map(shlex.quote, arguments), "--resume"])
    return InterruptedRun(
        f"{side} stopped by {signal_name} after step {step}, saved in {checkpoint}; "
        f"continue with: {command}"
    )
