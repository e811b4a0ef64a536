"""Turns the shipped flagfiles into TrainConfigs, for tests and notebooks."""

import dataclasses
import os
from typing import Any

from absl import flags as absl_flags
from absl.testing import flagsaver

from flags import config as config_lib
from flags import definitions
from runtime import errors

FLAGFILE_DIR = os.path.dirname(os.path.abspath(definitions.__file__))
SOFTMAX_FLAGFILES = ("hvass_softmax", "notebook_softmax", "codelab_softmax")
# Every document's experiment shipped in flags/, by name.
ALL = tuple(sorted(name[:-4] for name in os.listdir(FLAGFILE_DIR) if name.endswith(".cfg")))


def path(name: str) -> str:
    """Returns the path of flags/NAME.cfg, checking it exists."""
    file_path = os.path.join(FLAGFILE_DIR, f"{name}.cfg")
    if not os.path.exists(file_path):
        shipped = sorted(f[:-4] for f in os.listdir(FLAGFILE_DIR) if f.endswith(".cfg"))
        raise errors.FixableError(f"No flagfile {name!r}; the shipped ones are {shipped}.")
    return file_path


def model_of(name: str) -> str:
    """The --model that flags/NAME.cfg sets, read from the file's text."""
    with open(path(name)) as file:
        for line in file:
            if line.startswith("--model="):
                return line.strip().split("=", 1)[1]
    raise errors.FixableError(f"flags/{name}.cfg sets no --model; every shipped flagfile must.")


def load(name: str, *extra_args: str, **overrides: Any) -> config_lib.TrainConfig:
    """Parses flags/NAME.cfg (plus command-line style `extra_args`) as the
    scripts would, then applies `overrides` to the resulting TrainConfig.

    The process's flag values are restored afterwards.
    """
    with flagsaver.flagsaver():
        absl_flags.FLAGS.unparse_flags()
        absl_flags.FLAGS(["flagfiles", f"--flagfile={path(name)}", *extra_args])
        config = definitions.to_config()
    return dataclasses.replace(config, **overrides)
