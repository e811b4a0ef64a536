"""The document presets: one flagfile per document experiment, by name.

The `.cfg` files next to this module are installed with the package, so a
preset is named without a path from any directory: `--preset=hvass_softmax`.
A preset is also each model's default: `--model=convnet` alone trains the
convnet as DOCUMENT_PRESETS' codelab program did. This module reads the
files' text only (no absl, no TensorFlow); flags.config turns the values
into typed TrainConfig fields.
"""

import os
from typing import Union
from runtime import errors

PRESET_DIR = os.path.dirname(os.path.abspath(__file__))
_SUFFIX = ".cfg"

# The document each model reproduces when no preset or flag says otherwise.
# For the codelab's nets, its last version without dropout: a run with
# dropout draws masks that graph and eager mode draw differently, and the
# default run should match step for step on both sides.
DOCUMENT_PRESETS = {
    "softmax_regression": "hvass_softmax",
    "mlp": "keras_mlp",
    "deep_mlp": "codelab_2_1_five_layers_relu_lrdecay",
    "convnet": "codelab_3_0_convolutional",
    "multiply": "report_multiply",
    "linear_regression": "gradient_notebook_linear_regression",
    "logistic_regression": "gradient_notebook_logistic_gradient_descent",
}

# A flag's value as a flagfile spells it: text after "=", or True / False
# for a bare --name / --noname.
RawValue = Union[str, bool]


def names() -> tuple[str, ...]:
    """The shipped presets' names, sorted."""
    return tuple(
        sorted(entry[: -len(_SUFFIX)] for entry in os.listdir(PRESET_DIR) if entry.endswith(_SUFFIX))
    )


def path(name_or_path: str) -> str:
    """The file of a preset given by bare name ("hvass_softmax") or by path.

    Raises:
      ValueError: If it is neither a shipped preset nor an existing file.
    """
    if os.path.isfile(name_or_path):
        return name_or_path
    bare = name_or_path[: -len(_SUFFIX)] if name_or_path.endswith(_SUFFIX) else name_or_path
    bare = os.path.basename(bare) if bare.startswith("flags" + os.sep) else bare
    if bare in names():
        return os.path.join(PRESET_DIR, bare + _SUFFIX)
    raise errors.FixableError(
        f"No preset {name_or_path!r}: it is neither a file nor one of the shipped presets "
        f"({', '.join(names())}); `--list_presets` describes them."
    )


def read(name_or_path: str) -> dict[str, RawValue]:
    """The flags a preset sets, as {flag name: raw value}.

    The files use the flagfile syntax absl reads: one `--name=value`,
    `--name` or `--noname` per line, `#` and `//` comments.

    Raises:
      ValueError: If the file cannot be read or a line is not a flag.
    """
    file_path = path(name_or_path)
    try:
        with open(file_path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise errors.FixableError(f"Cannot read preset {file_path}: {error.strerror}.") from error
    values: dict[str, RawValue] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith(("#", "//")):
            continue
        if not text.startswith("--") or text.startswith("--flagfile"):
            raise errors.FixableError(
                f"{file_path}:{number}: {text!r} is not a flag; a preset holds one "
                "--name=value, --name or --noname per line (no --flagfile)."
            )
        name, separator, value = text[2:].partition("=")
        values[name] = value if separator else True
    return values


def describe(name: str) -> str:
    """One line for `--list_presets`: the name, its model and the first
    sentence of its leading comment."""
    file_path = path(name)
    with open(file_path, encoding="utf-8") as file:
        comment = []
        for line in file:
            if not line.startswith("#"):
                break
            comment.append(line.lstrip("# ").rstrip())
    summary = " ".join(comment).split(": ")[0].split(". ")[0]
    model = read(name).get("model", "?")
    return f"{name:<46} --model={model:<20} {summary[:90]}"
