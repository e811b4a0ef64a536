"""Runs a model on both sides and reports whether they agree.

    python -m compat_tests.parity --flagfile=flags/hvass_softmax.cfg --json=out.json

matched (default): both sides start from the same numpy initial values and
consume the same batches; the run goes through the parity ladder
(compat_tests.ladder): variables, forward, gradients, one update, every
step's loss and the final weights, and test accuracy, each judged identical,
within the float32 noise floor measured in the same run, or systematic; two
sides that sit at chance fail.
independent: each side trains with its own TensorFlow randomness through its
own train script; McNemar's exact test on the two sides' per-image correctness
must not tell them apart at alpha 0.001 (compat_tests.statistics), and the
run fails when both sides sit at chance. Add --optimizer_semantics=keras to
give the TF2 side Keras' optimizers as they come.
Exits non-zero when parity fails.
"""

import dataclasses
import functools
import sys
from typing import Any, Callable, Optional, Sequence

from absl import app
import numpy as np

import mnist_data
from compat_tests import ladder
from compat_tests import noise
from compat_tests import statistics
from compat_tests import training_noise
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from flags import parity as parity_flags
from mnist_data import checks
from runtime import reporting
from tf1_graph import train as tf1_train
from tf2_eager import classifier as tf2_classifier
from tf2_eager import optimizers as tf2_optimizers
from tf2_eager import train as tf2_train
from runtime import errors

INDEPENDENT_ACCURACY_TOLERANCE_PP = 1.0
# The standalone models are float64 programs whose two sides run the same
# kernels (multiply's float32 product must match exactly), so their losses
# and weights are held to a float64 rounding tolerance, and their accuracy
# (69 test rows) to 0.1 pp.
STANDALONE_TOLERANCE = ladder.Tolerance(atol=1e-12, rtol=1e-12)
STANDALONE_ACCURACY_TOLERANCE_PP = 0.1
# What the record keeps of each side's run.
SIDE_KEYS = ("test_accuracy", "final_loss", "seconds", "loss_trace", "accuracy_trace")


def ladder_sides(config: config_lib.TrainConfig):
    """The project's own pair in the harness' contract: (build_tf1, make_tf2)."""
    tf1_model = tf1_train.MODELS[config.model]
    tf2_model = tf2_train.MODELS[config.model]

    def make_tf2() -> ladder.Tf2Side:
        return ladder.Tf2Side(
            model=tf2_model.create(config.model_config, config.seed),
            loss_fn=tf2_classifier.keras_loss(config.loss),
            optimizer=tf2_optimizers.create(config.optimizer_config),
        )

    build_tf1 = functools.partial(
        tf1_model.build, model_config=config.model_config, loss_form=config.loss,
        optimizer_config=config.optimizer_config,
    )
    return build_tf1, make_tf2


def run_matched(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    sides: Optional[tuple[Callable, Callable]] = None,
) -> dict[str, Any]:
    """Runs the ladder on config's model; returns the parity record.

    `sides` replaces the project's (build_tf1, make_tf2) pair, e.g. by a
    variant with a planted mistake. Matched mode always runs the TF2 side
    with TF1's optimizer semantics, and with dropout off: graph and eager
    mode draw different dropout masks from the same seed.
    """
    config = dataclasses.replace(config, optimizer_semantics="tf1", dropout_keep=1.0)
    config.check_fits(dataset.train_size)
    build_tf1, make_tf2 = sides or ladder_sides(config)
    train_labels, test_labels = dataset.encoded_labels(not config.integer_labels)
    report = ladder.run_ladder(
        build_tf1,
        make_tf2,
        (dataset.train_images, train_labels),
        batch_size=config.batch_size,
        steps=config.steps,
        initial_values=config.draw_initial_values,
        eval_data=(dataset.test_images, test_labels),
        seed=config.seed,
        device=config.device,
    )

    def side(losses, metric, seconds) -> dict[str, Any]:
        accuracy = None if metric is None else metric / 100.0
        return {
            "test_accuracy": accuracy,
            "final_loss": losses[-1] if losses else None,
            "seconds": seconds,
            "loss_trace": list(losses),
            # The ladder evaluates once, after the last step.
            "accuracy_trace": {} if accuracy is None else {config.steps: accuracy},
        }

    accuracy_diff = (
        None if report.tf1_metric is None else abs(report.tf1_metric - report.tf2_metric)
    )
    return {
        "model": config.model,
        "dataset": dataset.describe(),
        "mode": "matched",
        "device": report.device,
        "steps": config.steps,
        "tf1": side(report.tf1_losses, report.tf1_metric, report.tf1_seconds),
        "tf2": side(report.tf2_losses, report.tf2_metric, report.tf2_seconds),
        "max_abs_loss_diff": report.max_abs_loss_diff,
        "max_abs_weight_diff": report.max_abs_weight_diff,
        "accuracy_diff_pp": accuracy_diff,
        "passed": report.passed,
        "ladder": report.to_dict(),
        "report": report.format(),
    }


def run_independent(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset
) -> dict[str, Any]:
    """Trains each side with its own TensorFlow randomness (initial values,
    shuffling, dropout masks); compares them on the same test images. With
    config.optimizer_semantics == "keras" the TF2 side also uses Keras'
    optimizers as they come.

    Parity passes when McNemar's exact test on per-image correctness does
    not find the sides' accuracies different at statistics.DEFAULT_ALPHA
    (the false-failure rate of one comparison of equally accurate sides),
    and not both sides sit at chance: two models that learned nothing agree
    without proving anything.
    """
    config = dataclasses.replace(config, rng="tensorflow")
    tf1 = tf1_train.train(config, dataset)
    tf2 = tf2_train.train(config, dataset)
    mcnemar = statistics.mcnemar(
        tf1["test_predictions"] == dataset.test_labels,
        tf2["test_predictions"] == dataset.test_labels,
    )
    tf1_chance = statistics.chance_check(tf1["test_predictions"], dataset.test_labels)
    tf2_chance = statistics.chance_check(tf2["test_predictions"], dataset.test_labels)
    chance_message = statistics.both_at_chance_message(tf1_chance, tf2_chance)
    lines = [mcnemar.describe()] + ([chance_message] if chance_message else [])
    return {
        "model": config.model,
        "dataset": dataset.describe(),
        "mode": "independent",
        "device": config.device or "default placement",
        "steps": config.steps,
        **_side_by_side(tf1, tf2),
        "accuracy_diff_pp": abs(tf1["test_accuracy"] - tf2["test_accuracy"]) * 100.0,
        "mcnemar": dataclasses.asdict(mcnemar),
        "chance": {"tf1": dataclasses.asdict(tf1_chance), "tf2": dataclasses.asdict(tf2_chance)},
        "passed": not mcnemar.significant and chance_message is None,
        "report": "\n".join(lines),
    }


def run_standalone(config: config_lib.TrainConfig, mode: str) -> dict[str, Any]:
    """Runs a standalone model's experiment on both sides; returns the record.

    matched: per-step losses and final weights (multiply: the product)
    within the float64 tolerance, test accuracy (logistic regression) within
    0.1 pp, and each experiment's own checks (the gradient check, the line
    recovered, the report's product) passed on both sides. independent: the
    only random draw these programs make is logistic regression's minibatch
    order, so the TF2 side shuffles with seed + 1; then only accuracy (1 pp)
    and the checks are judged.
    """
    if config.model not in tf1_train.EXPERIMENTS:
        raise errors.FixableError(
            f"{config.model} is an MNIST classifier; use run_matched or run_independent."
        )
    tf2_config = config
    if mode == "independent" and config.model == "logistic_regression":
        tf2_config = dataclasses.replace(config, seed=config.seed + 1)
    tf1 = tf1_train.EXPERIMENTS[config.model](config)
    tf2 = tf2_train.EXPERIMENTS[tf2_config.model](tf2_config)
    failures = []
    if mode == "matched":
        for name, reference, candidate in [("loss", tf1["loss_trace"], tf2["loss_trace"])] + [
            (name, tf1["weights"][name], tf2["weights"][name]) for name in tf1["weights"]
        ]:
            difference = ladder.abs_difference(reference, candidate)
            if np.any(difference > ladder.allowed_difference(STANDALONE_TOLERANCE, reference)):
                failures.append(
                    f"{name}: max |Δ| {np.max(difference):.3g} exceeds {STANDALONE_TOLERANCE}"
                )
    accuracy_diff = None
    if tf1["test_accuracy"] is not None:
        tolerance_pp = (
            STANDALONE_ACCURACY_TOLERANCE_PP
            if mode == "matched" else INDEPENDENT_ACCURACY_TOLERANCE_PP
        )
        accuracy_diff = abs(tf1["test_accuracy"] - tf2["test_accuracy"]) * 100.0
        if accuracy_diff > tolerance_pp:
            failures.append(f"test accuracy: |Δ| {accuracy_diff:.3g} pp exceeds {tolerance_pp} pp")
    for side, metrics in (("tf1_graph", tf1), ("tf2_eager", tf2)):
        failures += [
            f"{side}: check {name} failed"
            for name, passed in metrics["results"].get("checks", {}).items() if not passed
        ]
    lines = [f"tf1_graph: {tf1['results']['summary']}", f"tf2_eager: {tf2['results']['summary']}"]
    if tf2_config is not config and config.batch_size < tf1["dataset"]["train_size"]:
        lines.append(f"independent: the TF2 side shuffled its minibatches with seed {tf2_config.seed}.")
    lines += failures or ["every comparison and check passed"]
    return {
        "model": config.model,
        "dataset": tf1["dataset"],
        "mode": mode,
        "device": config.device or "default placement",
        "steps": tf1["steps"],
        **_side_by_side(tf1, tf2),
        "accuracy_diff_pp": accuracy_diff,
        "passed": not failures,
        "results": {"tf1": tf1["results"], "tf2": tf2["results"]},
        "report": "\n".join(lines),
    }


def run_replicated(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, num_replicas: int
) -> dict[str, Any]:
    """TF1 towers and TF2 MirroredStrategy over num_replicas devices, each
    against the one-device TF1 run, and against each other.

    The replicas sum their partial gradients in another order than one
    device does, so each step's loss and each final variable is judged
    against a control: the one-device run again from initial values and
    training images moved one ulp (compat_tests.training_noise). Any systematic difference fails.
    Call tf2_eager.distributed.configure_devices(num_replicas) before any
    TensorFlow op has run.
    """
    # Imported here: both build on the train modules this one imports.
    from tf1_graph import towers
    from tf2_eager import distributed

    single = tf1_train.train(config, dataset)
    control = tf1_train.train(
        training_noise.perturbed(config), training_noise.perturbed_dataset(dataset))
    tf1 = towers.train(config, dataset, num_replicas)
    tf2 = distributed.train_mirrored(config, dataset, num_replicas)
    failures, lines = [], []
    for name, run, reference in (
        ("TF1 towers vs one device", tf1, single),
        ("TF2 MirroredStrategy vs one device", tf2, single),
        ("TF1 towers vs TF2 MirroredStrategy", tf2, tf1),
    ):
        judgements = training_noise.judge_runs(reference, run, [control])
        loss_diff = ladder.abs_difference(reference["loss_trace"], run["loss_trace"])
        line = (f"{name}: max |Δloss| {np.max(loss_diff):.3g}, max |Δweights| "
                f"{_max_weight_difference(reference, run):.3g}; "
                f"{training_noise.describe_worst(judgements)}")
        lines.append(line)
        if noise.verdict_of(judgements) == noise.SYSTEMATIC:
            failures.append(f"{name} differs systematically")
    lines += failures or ["every replicated run equals the one-device run within float32 noise"]
    return {
        "model": config.model,
        "dataset": dataset.describe(),
        "mode": f"matched, {num_replicas} replicas",
        "device": f"{num_replicas} devices",
        "steps": config.steps,
        **_side_by_side(tf1, tf2),
        "accuracy_diff_pp": abs(tf1["test_accuracy"] - tf2["test_accuracy"]) * 100.0,
        "passed": not failures,
        "report": "\n".join(lines),
    }


def _max_weight_difference(reference: dict[str, Any], candidate: dict[str, Any]) -> float:
    """max |Δ| over every final weight of two runs' metrics."""
    return max(
        float(np.max(ladder.abs_difference(value, candidate["weights"][name])))
        for name, value in reference["weights"].items()
    )


def _side_by_side(tf1: dict[str, Any], tf2: dict[str, Any]) -> dict[str, Any]:
    """The record's fields that put two runs' metrics side by side: each
    side's SIDE_KEYS, max |Δloss| over the steps (None without steps) and
    max |Δweights| at the end."""
    loss_diff = ladder.abs_difference(tf1["loss_trace"], tf2["loss_trace"])
    return {
        "tf1": {key: tf1[key] for key in SIDE_KEYS},
        "tf2": {key: tf2[key] for key in SIDE_KEYS},
        "max_abs_loss_diff": float(np.max(loss_diff)) if len(loss_diff) else None,
        "max_abs_weight_diff": _max_weight_difference(tf1, tf2),
    }


def format_summary(record: dict[str, Any]) -> str:
    """The side-by-side table the command prints."""

    def number(value, spec):
        return "-" if value is None else format(value, spec)

    tf1, tf2 = record["tf1"], record["tf2"]
    rows = [
        ("", "tf1_graph", "tf2_eager"),
        ("test accuracy", number(tf1["test_accuracy"], ".2%"), number(tf2["test_accuracy"], ".2%")),
        ("final loss", number(tf1["final_loss"], ".6g"), number(tf2["final_loss"], ".6g")),
        ("seconds", number(tf1["seconds"], ".2f"), number(tf2["seconds"], ".2f")),
    ]
    lines = [
        f"{record['model']} on {record['dataset']['name']} "
        f"({record['dataset']['train_size']} train / {record['dataset']['test_size']} test), "
        f"{record['steps']} steps, {record['mode']} mode, {record['device']}",
    ]
    lines += [f"  {a:<15}{b:>12}{c:>12}" for a, b, c in rows]
    lines += [
        f"  max |Δloss| per step:   {number(record['max_abs_loss_diff'], '.3g')}",
        f"  max |Δweights| at end:  {number(record['max_abs_weight_diff'], '.3g')}",
        f"  |Δaccuracy|:            {number(record['accuracy_diff_pp'], '.3g')} pp",
        "",
        record["report"],
        "PARITY PASSED" if record["passed"] else "PARITY FAILED",
    ]
    return "\n".join(lines)


def _write_outputs(
    record: dict[str, Any], plots_dir: Optional[str], json_path: Optional[str]
) -> None:
    """The parity figure and the JSON record, when asked for."""
    if plots_dir:
        # Imported here: matplotlib is only needed for figures.
        from runtime import figures

        figures.write_parity_figures(
            plots_dir,
            {"model": record["model"], **record["tf1"]},
            {"model": record["model"], **record["tf2"]},
        )
    if json_path:
        reporting.write_json(json_path, record)


def load_finite_dataset(config: config_lib.TrainConfig) -> mnist_data.Dataset:
    """config.dataset, refused when an image holds NaN or infinite values."""
    dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
    for split, images in (("training", dataset.train_images), ("test", dataset.test_images)):
        checks.check_finite_array(
            images, f"The {split} images of --dataset={config.dataset}",
            "parity on them would compare NaN with NaN: repair the files --data_dir reads")
    return dataset


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    mode = parity_flags.MODE.value
    strategy = distribute_flags.STRATEGY.value
    with reporting.exit_with_message_on(*definitions.EXPECTED_ERRORS):
        config = definitions.to_config()
        reporting.check_output_targets(definitions.JSON_PATH.value, definitions.PLOTS_DIR.value)
        if strategy == "multi_worker":
            raise errors.FixableError(
                "The parity command compares replicated runs in one process "
                "(--strategy=mirrored); run the workers with `python -m "
                "tf2_eager.distributed --strategy=multi_worker`, which checks "
                "that every worker ends with the same weights."
            )
        if strategy == "mirrored":
            from tf2_eager import distributed  # See run_replicated.

            # The CPU is split into logical devices before any op runs.
            distributed.configure_devices(distribute_flags.NUM_REPLICAS.value)
            record = run_replicated(
                config, load_finite_dataset(config), distribute_flags.NUM_REPLICAS.value)
        elif config.model in tf1_train.EXPERIMENTS:
            record = run_standalone(config, mode)
        else:
            run = run_matched if mode == "matched" else run_independent
            record = run(config, load_finite_dataset(config))
        # Two sides that both diverge agree on every NaN; the record would
        # read PASSED.
        checks.check_finite_losses(
            {"TF1": record["tf1"]["loss_trace"], "TF2": record["tf2"]["loss_trace"]},
            config.allow_nonfinite)
    print(format_summary(record))
    with reporting.exit_with_message_on(reporting.OutputError):
        _write_outputs(record, definitions.PLOTS_DIR.value, definitions.JSON_PATH.value)
    if not record["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
