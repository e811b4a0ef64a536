"""The console scripts that setup.cfg installs: quiet, short help, early checks.

    tf1to2-train-tf2 --preset=hvass_softmax --steps=300

Each command imports only its flag modules first (they import no
TensorFlow), so absl refuses a bad flag and the training settings are
checked in well under a second. Only then is TensorFlow imported, with its
C++ start-up lines (oneDNN, CUDA drivers, absl::InitializeLog) sent to
/dev/null: TF_CPP_MIN_LOG_LEVEL no longer silences them in TensorFlow 2.21,
because they are written before TensorFlow's logging is set up. Progress
lines lose absl's prefix. `--verbosity=N` (absl's own flag) keeps all of it.
`python -m PROGRAM` still works, with TensorFlow's lines.
"""

import contextlib
import dataclasses
import functools
import importlib
import logging
import os
import re
import sys
import textwrap
from typing import Callable, Iterator, Optional, Sequence

from absl import app
from absl import flags as absl_flags
from absl import logging as absl_logging

# Flags listed in --helpshort, by group; --helpfull lists every flag.
FlagGroups = tuple[tuple[str, tuple[str, ...]], ...]

_TRAINING_GROUPS: FlagGroups = (
    ("What to train", ("preset", "list_presets", "model", "dataset", "data_dir")),
    ("Training", (
        "steps", "batch_size", "learning_rate", "optimizer", "seed", "eval_at", "rng",
        "optimizer_semantics",
    )),
    ("Model settings (defaults: the model's document; --helpfull describes them)", (
        "hidden_sizes", "activation", "dropout_keep", "conv_channels", "conv_kernels",
        "conv_strides", "dense_units", "weight_init", "init_stddev", "init_limit", "bias_init",
        "loss", "momentum", "learning_rate_decay", "min_learning_rate", "decay_steps",
    )),
    ("Outputs", (
        "output_dir", "resume", "overwrite", "checkpoint_every", "export_dir", "plots_dir",
        "json", "quiet",
    )),
    ("Where", ("strategy", "num_replicas", "device")),
)
# Groups whose flags are listed by name on wrapped lines, not one per line.
_NAMES_ONLY = "Model settings"


@dataclasses.dataclass(frozen=True)
class Command:
    """One console script.

    Attributes:
      program: The module whose `main(argv)` the command runs.
      summary: What the command does, for --helpshort.
      flag_modules: Modules that define the command's flags; none may
        import TensorFlow.
      groups: The flags --helpshort lists, by group.
      trains: Whether the flags describe a training run, checked (through
        flags.definitions.to_config) before TensorFlow is imported.
      flags_parser: "module:function" of a flags parser for app.run, or None.
      usage: The synopsis line of --helpshort.
    """

    program: str
    summary: str
    flag_modules: tuple[str, ...]
    groups: FlagGroups
    trains: bool = False
    flags_parser: Optional[str] = None
    usage: str = "[--preset=NAME | --model=NAME] [--flag=value ...]"


_TRAIN_FLAG_MODULES = ("flags.definitions", "flags.distribute")

COMMANDS = {
    "tf1to2-train-tf1": Command(
        "tf1_graph.train",
        "Trains an MNIST model in TF1 graph style (tf.compat.v1: placeholders, Session.run).",
        _TRAIN_FLAG_MODULES, _TRAINING_GROUPS, trains=True),
    "tf1to2-train-tf2": Command(
        "tf2_eager.train",
        "Trains an MNIST model the TF2 way (tf.Module, GradientTape, tf.function).",
        _TRAIN_FLAG_MODULES, _TRAINING_GROUPS, trains=True),
    "tf1to2-parity": Command(
        "compat_tests.parity",
        "Trains a model on both sides and reports whether they agree (exit 1 if not).",
        (*_TRAIN_FLAG_MODULES, "flags.parity"),
        (("Parity", ("mode",)), *_TRAINING_GROUPS), trains=True),
    "tf1to2-check": Command(
        "compat_tests.check",
        "Runs the parity ladder on your own TF1 graph and its TF2 port.",
        ("flags.check",),
        (("Your pair", (
            "tf1", "tf2", "tf1_legacy", "tf1_meta", "tf1_checkpoint", "tf1_saved_model",
            "tf1_graph_def", "tf1_names", "variable_map")),
         ("Data and verdicts", (
             "npz", "labels", "dataset", "steps", "batch_size", "seed", "tolerance",
             "noise_factor", "check_initial_values", "device", "json"))),
        usage="--tf1=MODULE:FUNCTION --tf2=MODULE:FACTORY [--flag=value ...]"),
    "tf1to2-bridge": Command(
        "compat_tests.bridge",
        "Trains a TF1 model, saves a tf.compat.v1 checkpoint and restores it in TF2.",
        ("flags.definitions",), _TRAINING_GROUPS[:3], trains=True),
    "tf1to2-convert-checkpoint": Command(
        "tf2_eager.convert_checkpoint",
        "Converts a TF1 Saver checkpoint of a model to a TF2 tf.train.Checkpoint.",
        ("flags.convert", "flags.definitions"),
        (("Conversion", ("from", "port", "preset", "model")), _TRAINING_GROUPS[2]),
        usage="--from=tf1|tf2 [--preset=NAME | --model=NAME | --port=MODULE] IN OUT"),
    "tf1to2-report": Command(
        "tf2_eager.migration_report",
        "Reports the TF1 idioms in Python files, notebooks or directories and their TF2 forms.",
        ("flags.migration_report",), (("Report", ("format", "output", "fail_on")),),
        flags_parser="tf2_eager.migration_report:_parse_flags",
        usage="PATH [PATH ...] [--format=text|json|sarif] [--output=FILE]"),
    "tf1to2-bench": Command(
        "compat_tests.bench",
        "Times a training step on each path (TF1 feed_dict, TF2 tf.function, Keras fit).",
        ("flags.bench", "flags.definitions"),
        (("Bench", ("models", "bench_steps", "repeats", "matmul_size", "json")),),
        usage="[--flag=value ...]"),
}

_HELP_FLAGS = ("--help", "--helpshort", "-h", "-?")
_CHOICES = re.compile(r"^<[^>]*>: ")
# A sentence or clause ends at ". " or "; ", but not inside "e.g. ".
_CLAUSE_END = re.compile(r"(?<!e\.g)[.;] ")
_DOCUMENT_NOTE = " (default: the model's document, see --list_presets)."


def short_help(name: str, command: Command) -> str:
    """--helpshort: the command's flags, grouped, one line each."""
    lines = [f"usage: {name} {command.usage}", command.summary, ""]
    known = absl_flags.FLAGS._flags()  # pylint: disable=protected-access
    for title, names in command.groups:
        present = [flag_name for flag_name in names if flag_name in known]
        if not present:
            continue
        lines.append(f"{title}:")
        if title.startswith(_NAMES_ONLY):
            text = " ".join(f"--{flag_name}" for flag_name in present)
            lines.extend(textwrap.wrap(text, 96, initial_indent="  ", subsequent_indent="  "))
            continue
        for flag_name in present:
            lines.append(_flag_line(known[flag_name]))
    lines.append("--helpfull lists every flag (TensorFlow's too); --verbosity=0 shows TensorFlow's logs.")
    return "\n".join(lines)


def _flag_line(flag: absl_flags.Flag) -> str:
    """`  --name=DEFAULT   the help's first clause`, for --helpshort."""
    unset = flag.default is None or flag.default is False or flag.default in ([], "")
    default = "" if unset else "=" + flag.default_as_str.strip("'")
    # absl prefixes an enum's help with its choices, "<a|b>: ", which
    # --helpshort keeps when they fit.
    text = (flag.help or "").replace(_DOCUMENT_NOTE, "")
    choices = _CHOICES.match(text)
    first = _CLAUSE_END.split(_CHOICES.sub("", text), maxsplit=1)[0]
    if choices and len(choices.group(0)) + len(first) <= 70:
        first = choices.group(0) + first
    return f"  --{flag.name + default:<30} {first[:70]}"


def _verbose(argv: Sequence[str]) -> bool:
    return any(arg.startswith(("--verbosity", "-v=", "--v=")) or arg == "-v" for arg in argv[1:])


@contextlib.contextmanager
def _stderr_silenced(enabled: bool) -> Iterator[None]:
    """Sends file descriptor 2 to /dev/null, where C++ writes its start-up
    lines; Python's exceptions are printed after it is restored."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _PlainFormatter(logging.Formatter):
    """Progress lines as a person reads them: the message, and the level
    only when it is not INFO."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return message if record.levelno == logging.INFO else f"{record.levelname.lower()}: {message}"


def _import_tensorflow(quiet: bool) -> None:
    with _stderr_silenced(quiet):
        tensorflow = importlib.import_module("tensorflow")
        # The first device query loads CUDA's stubs and prints cuInit's
        # error on a machine without a GPU; it belongs to the start-up lines.
        tensorflow.config.list_physical_devices()


def _check_training_flags() -> bool:
    """Lists the presets, or builds the training configuration, which
    validates it, before TensorFlow is imported; a bad combination ends in
    one line. Returns whether the command has more to do."""
    # Imported here: flags.definitions is one of the command's flag modules.
    from flags import definitions
    from runtime import reporting

    if definitions.LIST_PRESETS.value:
        definitions.list_presets()
        return False
    with reporting.exit_with_message_on(*definitions.EXPECTED_ERRORS):
        definitions.to_config(announce=False)
    return True


def _resolve(reference: str) -> Callable:
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def run(name: str) -> None:
    """Runs console script `name` of COMMANDS on sys.argv."""
    command = COMMANDS[name]
    quiet = not _verbose(sys.argv)
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for module in command.flag_modules:
        importlib.import_module(module)
    if any(arg in _HELP_FLAGS for arg in sys.argv[1:]):
        print(short_help(name, command))
        return

    def main(argv: Sequence[str]) -> None:
        if quiet:
            absl_logging.get_absl_handler().setFormatter(_PlainFormatter())
        if command.trains and not _check_training_flags():
            return
        _import_tensorflow(quiet)
        importlib.import_module(command.program).main(argv)

    parser = {"flags_parser": _resolve(command.flags_parser)} if command.flags_parser else {}
    app.run(main, **parser)


# The console scripts' entry points (setup.cfg), one per command.
train_tf1 = functools.partial(run, "tf1to2-train-tf1")
train_tf2 = functools.partial(run, "tf1to2-train-tf2")
parity = functools.partial(run, "tf1to2-parity")
check = functools.partial(run, "tf1to2-check")
bridge = functools.partial(run, "tf1to2-bridge")
convert_checkpoint = functools.partial(run, "tf1to2-convert-checkpoint")
report = functools.partial(run, "tf1to2-report")
bench = functools.partial(run, "tf1to2-bench")
