"""Check your own migration: the parity ladder on any TF1/TF2 pair.

    python -m compat_tests.check --tf1=legacy.model:build --tf2=migrated.model:make_side \\
        --steps=20 --json=ladder.json

The TF1 side may instead be a legacy builder Keras 3 cannot run, run in a child
process (--tf1_legacy=legacy.model:build), or files a legacy training wrote:
--tf1_meta=model.ckpt-N.meta, --tf1_saved_model=DIR or --tf1_graph_def=frozen.pb
(compat_tests.tf1_sources), with --tf1_names to override the guessed names.

Prints the ladder as a table (rung, status, verdict: identical, within noise or
systematic, the gap, the noise floor measured in the run and their factor,
where) and the measured causes of the first failure; exits 1 when a rung fails. See the
README's "Check your own migration" for the contract of the two import paths.
"""

import importlib
import json
import sys
from typing import Any, Callable, Optional, Sequence

from absl import app
from absl import flags as absl_flags
import numpy as np

import mnist_data
from compat_tests import ladder
from compat_tests import tf1_sources
from flags import check as check_flags
from flags import definitions
from mnist_data import checks
from runtime import reporting
from runtime import errors

# --helpshort lists the main module's key flags: this command's own and the
# shared ones it reads, not the forty training flags of flags.definitions.
absl_flags.adopt_module_key_flags(check_flags)
for _shared in ("dataset", "data_dir", "steps", "batch_size", "seed", "device", "json",
                "allow_nonfinite"):
    absl_flags.declare_key_flag(_shared)
# A user's check is a few steps, not the tutorials' thousand: the defaults
# of --steps and --batch_size here (the training flags' are the model's).
DEFAULT_STEPS = 10
DEFAULT_BATCH_SIZE = 100


def load_object(import_path: str) -> Any:
    """Returns the object `module:attribute` names, with a clear error."""
    module_name, _, attribute_path = import_path.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError as error:
        raise errors.FixableError(
            f"Cannot import {module_name!r} from {import_path!r}: {error}. Run from the "
            "directory that holds it, or add that directory to PYTHONPATH."
        ) from error
    for attribute in attribute_path.split("."):
        if not hasattr(target, attribute):
            raise errors.FixableError(f"{module_name!r} has no attribute path {attribute_path!r}.")
        target = getattr(target, attribute)
    if not callable(target):
        raise errors.FixableError(f"{import_path!r} is not callable.")
    return target


def tf1_side() -> Callable:
    """The TF1 side the flags name: a builder, or a compat_tests.tf1_sources source."""
    names = check_flags.parse_names(check_flags.TF1_NAMES.value)
    if check_flags.TF1_LEGACY.value:
        return tf1_sources.legacy(check_flags.TF1_LEGACY.value,
                                  timeout=check_flags.TF1_LEGACY_TIMEOUT.value,
                                  python=check_flags.TF1_LEGACY_PYTHON.value)
    if check_flags.TF1_META.value:
        return tf1_sources.from_meta_graph(check_flags.TF1_META.value,
                                           check_flags.TF1_CHECKPOINT.value, **names)
    if check_flags.TF1_SAVED_MODEL.value:
        return tf1_sources.from_saved_model(
            check_flags.TF1_SAVED_MODEL.value, tags=check_flags.TF1_SAVED_MODEL_TAGS.value,
            signature=check_flags.TF1_SIGNATURE.value, **names)
    if check_flags.TF1_GRAPH_DEF.value:
        return tf1_sources.from_graph_def(check_flags.TF1_GRAPH_DEF.value, **names)
    return load_object(check_flags.TF1.value)


def load_data(
    npz_path: Optional[str], dataset_name: str, data_dir: Optional[str], label_format: str
) -> tuple[tuple[np.ndarray, np.ndarray], Optional[tuple[np.ndarray, np.ndarray]]]:
    """The training arrays and the optional held-out arrays.

    Raises:
      ValueError: If the .npz lacks an array, or holds images that are not
        float32 or hold NaN or infinite values (nothing is converted).
    """
    if not npz_path:
        dataset = mnist_data.load_dataset(dataset_name, data_dir)
        encode: Callable[[np.ndarray], np.ndarray] = (
            mnist_data.one_hot if label_format == "one_hot" else np.asarray
        )
        return (
            (dataset.train_images, encode(dataset.train_labels)),
            (dataset.test_images, encode(dataset.test_labels)),
        )
    with np.load(npz_path) as arrays:
        missing = [k for k in ("images", "labels") if k not in arrays]
        if missing:
            raise errors.FixableError(
                f"{npz_path} lacks arrays {missing}; it holds {sorted(arrays.files)}. "
                "Save it with np.savez(path, images=..., labels=...)."
            )
        held_out_names = ("eval_images", "eval_labels")
        names = ["images", "labels"] + (
            list(held_out_names) if all(k in arrays for k in held_out_names) else [])
        loaded = {name: arrays[name] for name in names}
    for name, values in loaded.items():
        if name.endswith("images"):
            checks.check_float32_images(values, f"The {name} of {npz_path}")
        checks.check_finite_array(
            values, f"The {name} array of {npz_path}",
            "the ladder would compare NaN with NaN: drop or repair those rows "
            "(np.isfinite(x).all(axis=1) finds them) and save the .npz again")
    train = (loaded["images"], loaded["labels"])
    held_out = (loaded["eval_images"], loaded["eval_labels"]) if "eval_images" in loaded else None
    return train, held_out


def _or_default(value: Optional[int], default: int) -> int:
    return default if value is None else value


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # Checked here rather than with mark_flags_as_required, which would make
    # every process that imports this module (a test run) require them too.
    sources = (check_flags.TF1, check_flags.TF1_LEGACY, check_flags.TF1_META,
               check_flags.TF1_SAVED_MODEL, check_flags.TF1_GRAPH_DEF)
    if not (any(source.value for source in sources) and check_flags.TF2.value):
        raise app.UsageError(
            "Both --tf1=module:function and --tf2=module:factory are required (or, instead "
            "of --tf1, a TF1 side --tf1_legacy, --tf1_meta, --tf1_saved_model or "
            "--tf1_graph_def).")
    flag_values = absl_flags.FLAGS
    with reporting.exit_with_message_on(errors.FixableError, OSError, mnist_data.DataUnavailableError,
                                        tf1_sources.LegacyProcessError):
        reporting.check_output_targets(definitions.JSON_PATH.value)
        build_tf1 = tf1_side()
        make_tf2 = load_object(check_flags.TF2.value)
        train_data, eval_data = load_data(
            check_flags.NPZ.value, flag_values.dataset, flag_values.data_dir,
            check_flags.LABELS.value,
        )
        variable_map = None
        if check_flags.VARIABLE_MAP.value:
            with open(check_flags.VARIABLE_MAP.value) as file:
                variable_map = json.load(file)
        tolerances = {
            rung: ladder.Tolerance(atol, rtol)
            for rung, (atol, rtol) in check_flags.parse_tolerances(
                check_flags.TOLERANCES.value
            ).items()
        }
        report = ladder.run_ladder(
            build_tf1,
            make_tf2,
            train_data,
            batch_size=_or_default(flag_values.batch_size, DEFAULT_BATCH_SIZE),
            steps=_or_default(flag_values.steps, DEFAULT_STEPS),
            variable_map=variable_map,
            eval_data=eval_data,
            tolerances=tolerances,
            noise_factor=check_flags.NOISE_FACTOR.value,
            seed=flag_values.seed,
            device=flag_values.device,
            check_initial_values=check_flags.CHECK_INITIAL_VALUES.value,
        )
    # Checked before the table is printed: a table of NaN rungs would read
    # "PASSED", since the two sides agree on every NaN.
    with reporting.exit_with_message_on(checks.NonFiniteLossError):
        checks.check_finite_losses({"TF1": report.tf1_losses, "TF2": report.tf2_losses},
                                   flag_values.allow_nonfinite)
    print(report.format())
    if definitions.JSON_PATH.value:
        with reporting.exit_with_message_on(reporting.OutputError):
            reporting.write_json(definitions.JSON_PATH.value, report.to_dict())
    if not report.passed:
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
