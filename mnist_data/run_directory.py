"""The output directory of a training run: refuse, replace or resume it.

Framework-neutral like the rest of mnist_data. Each side writes into its own
subdirectory, OUTPUT_DIR/SIDE (checkpoints, TensorBoard events and the run
state below), so the two sides can share one --output_dir and TensorBoard
overlays them.

A run that loses nothing needs two things besides the checkpoint: the
checkpoint files must never be read half-written, and the losses and
accuracies recorded before the checkpoint must survive with it. TensorFlow
takes care of the first: both tf.compat.v1.train.Saver and
tf.train.CheckpointManager write the data and index files first and then
replace the small "checkpoint" state file, which names the latest complete
checkpoint, by a rename; a crash mid-write leaves the state file naming the
previous checkpoint. For the second, `write_state` records the traces of
step N in run_state-N.json (atomically) *before* checkpoint N is written, so
every checkpoint the state file can name has its traces.
"""

import json
import os
import re
import shutil
from typing import Optional

from mnist_data import reporting

_STATE_FILE = "run_state-{step}.json"
_CHECKPOINT_STEP = re.compile(r"-(\d+)$")


def prepare(output_dir: str, side: str, resume: bool, overwrite: bool) -> str:
    """Returns OUTPUT_DIR/SIDE, ready for this run.

    An existing, non-empty OUTPUT_DIR/SIDE is never overwritten silently:
    with `resume` it is kept (the caller continues from its last
    checkpoint), with `overwrite` it is deleted first, and with neither the
    run is refused.

    Raises:
      ValueError: If both `resume` and `overwrite` are set, or the
        directory holds a run and neither is.
    """
    if resume and overwrite:
        raise ValueError(
            "--resume continues the run in --output_dir and --overwrite replaces it; "
            "pass one of the two."
        )
    side_dir = os.path.join(output_dir, side)
    if os.path.isdir(side_dir) and os.listdir(side_dir) and not resume:
        if not overwrite:
            raise ValueError(
                f"{side_dir} already holds a run ({len(os.listdir(side_dir))} files); pass "
                "--resume to continue it from its last checkpoint, --overwrite to replace "
                "it, or another --output_dir."
            )
        shutil.rmtree(side_dir)
    os.makedirs(side_dir, exist_ok=True)
    return side_dir


def checkpoint_step(checkpoint_path: str) -> int:
    """The step a checkpoint was saved at, from its name ("…/model.ckpt-40")."""
    match = _CHECKPOINT_STEP.search(checkpoint_path)
    if not match:
        raise ValueError(
            f"Checkpoint {checkpoint_path!r} does not end in -STEP; it was not written "
            "by a train script of this project."
        )
    return int(match.group(1))


def check_checkpoint_files(checkpoint_path: str) -> None:
    """Raises ValueError if the checkpoint the state file names is gone.

    TensorFlow would fail deep inside the restore; this names the fix.
    """
    if not os.path.exists(checkpoint_path + ".index"):
        raise ValueError(
            f"Cannot resume: the 'checkpoint' file names {checkpoint_path}, whose files "
            "are missing; restore them, or pass --overwrite to start the run again."
        )


def write_state(
    side_dir: str, step: int, loss_trace: list[float], accuracy_trace: dict[int, float]
) -> None:
    """Records the traces up to `step`; call before writing checkpoint `step`."""
    reporting.write_json(
        os.path.join(side_dir, _STATE_FILE.format(step=step)),
        {"step": step, "loss_trace": loss_trace[:step],
         "accuracy_trace": {str(k): v for k, v in accuracy_trace.items()}},
    )


def read_state(side_dir: str, step: int) -> tuple[list[float], dict[int, float]]:
    """The loss and accuracy traces recorded with checkpoint `step`.

    Raises:
      ValueError: If the state file of that step is missing or does not
        match it, which means the directory was not written by this
        project's train scripts (or was edited by hand).
    """
    path = os.path.join(side_dir, _STATE_FILE.format(step=step))
    try:
        with open(path) as file:
            state = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(
            f"Cannot resume: the run state of step {step}, {path}, is unreadable ({error}); "
            "pass --overwrite to start the run again."
        ) from error
    if state.get("step") != step or len(state.get("loss_trace", ())) != step:
        raise ValueError(
            f"Cannot resume: {path} does not describe step {step}; pass --overwrite to "
            "start the run again."
        )
    return state["loss_trace"], {int(k): v for k, v in state["accuracy_trace"].items()}


def should_checkpoint(step: int, total_steps: int, every: Optional[int]) -> bool:
    """Whether to checkpoint after `step` updates: every `every` steps (if
    set, > 0) and always after the last one."""
    return step == total_steps or bool(every) and step % every == 0
