"""The checkpoint bridge, end to end: train, save, restore on the other side.

    python -m compat_tests.bridge --flagfile=flags/hvass_softmax.cfg --output_dir=/tmp/bridge

trains config.model on each side, moves each checkpoint across
(tf2_eager/checkpoints.py, tf1_graph/checkpoints.py, and the
tf2_eager.convert_checkpoint command's library function), and prints the max
|Δ| of the logits on the whole test split (the official 10,000 digits) and
of every variable after the round trip TF1 -> TF2 -> TF1.

The round trip is a property of the code: it copies values, and the same
TF1 graph runs on them, so both of its figures are 0.0. Logits across sides
come from different kernels (under oneDNN, graph mode fuses MatMul+BiasAdd
and eager mode does not), so each is judged against a noise floor measured
in the same run (compat_tests/noise.py): the reference side rerun with its
weights and images moved one ulp. The command prints the verdict next to
each |Δ|. With TF_ENABLE_ONEDNN_OPTS=0 and op determinism
(compat_tests/deterministic.py) every figure is 0.0 on CPU.
checkpoint_bridge_test.py runs `round_trip` on each model.
"""

import dataclasses
import os
from typing import Any, Optional, Sequence

from absl import app
import numpy as np
import tensorflow as tf

import mnist_data
from compat_tests import noise
from flags import config as config_lib
from flags import definitions
from flags import distribute as distribute_flags
from runtime import checkpoint_names
from runtime import reporting
from tf1_graph import checkpoints as tf1_checkpoints
from tf1_graph import classifier as tf1_classifier
from tf1_graph import train as tf1_train
from tf1_graph import weights as tf1_weights
from tf2_eager import checkpoints as tf2_checkpoints
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights
from runtime import errors

# The seed of the one-ulp perturbation whose logits are the noise floor.
CONTROL_SEED = 1
# The cross-side logits, each judged against its reference side's floor.
CROSS_SIDE_MEASURES = ("tf1_to_tf2_logits", "tf1_to_tf2_converted_logits", "tf2_to_tf1_logits")
# The round trip's figures, a copy of values read by the same graph: 0.0.
ROUND_TRIP_MEASURES = ("round_trip_variables", "round_trip_logits")


def tf1_logits(
    config: config_lib.TrainConfig,
    path: str,
    checkpoint_format: str,
    images: np.ndarray,
    perturbation_seed: Optional[int] = None,
) -> np.ndarray:
    """Logits, float32 [N, 10], of config.model's TF1 inference graph restored
    from a checkpoint: with `Saver.restore` for "tf1", with
    tf1_graph.checkpoints.restore for "tf2". With `perturbation_seed`, every
    restored value and every image is first moved one ulp (the noise floor's
    control)."""
    graph = tf.Graph()
    with graph.as_default():
        # The restore overwrites every initial value, but under op
        # determinism TensorFlow refuses to build an unseeded random op.
        tf.compat.v1.set_random_seed(config.seed)
        images_placeholder, _ = tf1_classifier.placeholder_inputs(config.integer_labels)
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [], name="keep_prob")
        logits = tf1_train.MODELS[config.model].inference(images_placeholder, config.model_config, keep_prob)
        variables = tf.compat.v1.trainable_variables()
        loader = tf1_weights.Loader(variables)
        # The inference graph has no global_step or slots, so the Saver is
        # told which variables to restore; the checkpoint's others are ignored.
        saver = tf.compat.v1.train.Saver(var_list=variables)
    graph.finalize()
    with tf.compat.v1.Session(graph=graph) as session:
        if checkpoint_format == "tf1":
            saver.restore(session, path)
        else:
            tf1_checkpoints.restore(session, loader, config.model, path, checkpoint_format)
        if perturbation_seed is not None:
            loader.load(session, noise.perturb_all(tf1_weights.read(session, variables),
                                                   perturbation_seed))
            images = noise.perturb_last_bit(images, perturbation_seed)
        return session.run(logits, feed_dict={images_placeholder: images})


def tf2_model(config: config_lib.TrainConfig, path: str, checkpoint_format: str) -> tf.Module:
    """config.model's tf2_eager model restored from a checkpoint: with
    tf.train.Checkpoint.read for "tf2", with tf2_eager.checkpoints.restore
    for "tf1"."""
    model = tf2_train.MODELS[config.model].create(config.model_config, config.seed)
    if checkpoint_format == "tf2":
        # The training checkpoint also holds the optimizer, which is not restored.
        status = tf.train.Checkpoint(**{checkpoint_names.TF2_ROOT: model}).read(path)
        status.expect_partial().assert_existing_objects_matched()
    else:
        tf2_checkpoints.restore(model, config.model, path, checkpoint_format)
    return model


def tf2_logits(
    config: config_lib.TrainConfig,
    path: str,
    checkpoint_format: str,
    images: np.ndarray,
    perturbation_seed: Optional[int] = None,
) -> np.ndarray:
    """Logits, float32 [N, 10], of tf2_model(config, path, checkpoint_format);
    with `perturbation_seed`, of its weights and the images moved one ulp."""
    model = tf2_model(config, path, checkpoint_format)
    if perturbation_seed is not None:
        tf2_weights.assign(model.trainable_variables, noise.perturb_all(
            tf2_weights.read(model.trainable_variables), perturbation_seed))
        images = noise.perturb_last_bit(images, perturbation_seed)
    return model(images).numpy()


def round_trip(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, workdir: str
) -> dict[str, Any]:
    """Trains each side, moves its checkpoint across, and measures the result.

    Args:
      config: The run; its output_dir is replaced by directories in `workdir`.
      dataset: Training data and the test split the logits are computed on.
      workdir: Where the checkpoints are written.

    Returns:
      {"model", "test_images", "variables", max |Δ| as floats:
       "tf1_to_tf2_logits" (the TF1 Saver checkpoint restored straight into
       the TF2 model), "tf1_to_tf2_converted_logits" (converted by the
       command's function, read back by tf.train.Checkpoint),
       "tf2_to_tf1_logits" (the TF2 checkpoint restored into the TF1 graph),
       "round_trip_variables" and "round_trip_logits" (TF1 -> TF2 -> TF1,
       against the original); and "judgements": {cross-side measure:
       noise.Judgement}, each against the floor of its reference side (the
       TF1 graph, or the TF2 model) rerun with its weights and images moved
       one ulp}.
    """
    images = dataset.test_images
    tf1_checkpoint = tf1_train.train(
        dataclasses.replace(config, output_dir=_directory(workdir, "tf1")), dataset)["checkpoint"]
    tf1_reference = tf1_logits(config, tf1_checkpoint, "tf1", images)
    tf1_control = tf1_logits(config, tf1_checkpoint, "tf1", images, CONTROL_SEED)
    round_trip_measures, converted = _tf1_round_trip(config, tf1_checkpoint, workdir, tf1_reference, images)
    tf2_checkpoint = tf2_train.train(
        dataclasses.replace(config, output_dir=_directory(workdir, "tf2")), dataset)["checkpoint"]
    tf2_reference = tf2_logits(config, tf2_checkpoint, "tf2", images)
    tf2_control = tf2_logits(config, tf2_checkpoint, "tf2", images, CONTROL_SEED)
    # (reference, candidate, control) of each cross-side measure.
    cross_side = {
        "tf1_to_tf2_logits": (
            tf1_reference, tf2_logits(config, tf1_checkpoint, "tf1", images), tf1_control),
        "tf1_to_tf2_converted_logits": (
            tf1_reference, tf2_logits(config, converted, "tf2", images), tf1_control),
        "tf2_to_tf1_logits": (
            tf2_reference, tf1_logits(config, tf2_checkpoint, "tf2", images), tf2_control),
    }
    return {
        "model": config.model,
        "test_images": len(images),
        **round_trip_measures,
        **{measure: noise.max_abs_difference(reference, candidate)
           for measure, (reference, candidate, _) in cross_side.items()},
        "judgements": {
            measure: noise.judge_arrays(reference, candidate, controls=(control,))
            for measure, (reference, candidate, control) in cross_side.items()
        },
    }


def _directory(workdir: str, *parts: str) -> str:
    """WORKDIR/PARTS, created: Saver.save and the train scripts write into
    existing directories only."""
    directory = os.path.join(workdir, *parts)
    os.makedirs(directory, exist_ok=True)
    return directory


def _tf1_round_trip(
    config: config_lib.TrainConfig, tf1_checkpoint: str, workdir: str,
    tf1_reference: np.ndarray, images: np.ndarray,
) -> tuple[dict[str, Any], str]:
    """Converts the TF1 checkpoint to TF2 and back; returns the measures of
    the trip ("variables", "round_trip_variables", "round_trip_logits") and
    the converted TF2 checkpoint."""
    # The converted checkpoints of an earlier bridge run in workdir are
    # replaced only with --overwrite, as its training runs are.
    converted = tf2_checkpoints.convert(
        config, tf1_checkpoint, os.path.join(_directory(workdir, "tf1_to_tf2"), "ckpt"), "tf1",
        config.overwrite)
    back = tf2_checkpoints.convert(
        config, converted, os.path.join(_directory(workdir, "back_to_tf1"), "model.ckpt"), "tf2",
        config.overwrite)
    original_reader = tf.train.load_checkpoint(tf1_checkpoint)
    back_reader = tf.train.load_checkpoint(back)
    names = sorted(back_reader.get_variable_to_shape_map())
    measures = {
        "variables": names,
        "round_trip_variables": max(
            noise.max_abs_difference(original_reader.get_tensor(name), back_reader.get_tensor(name))
            for name in names
        ),
        "round_trip_logits": noise.max_abs_difference(
            tf1_reference, tf1_logits(config, back, "tf1", images)),
    }
    return measures, converted


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    with reporting.exit_with_message_on(*definitions.EXPECTED_ERRORS):
        config = definitions.to_config()
        if not config.output_dir:
            raise errors.FixableError("Pass --output_dir=DIR, where the checkpoints are written.")
        if distribute_flags.STRATEGY.value != "none":
            raise errors.FixableError(
                f"The bridge trains each side on one device; --strategy="
                f"{distribute_flags.STRATEGY.value} would be ignored. Drop it: a replicated "
                "run's checkpoint holds the same variables and converts the same way.")
        reporting.check_output_targets(definitions.JSON_PATH.value)
        dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
        result = round_trip(config, dataset, config.output_dir)
    judgements = result["judgements"]
    print(
        f"{result['model']}, {len(result['variables'])} variables, logits on "
        f"{result['test_images']} test images ({dataset.describe()['name']}), max |Δ|:\n"
        f"  TF1 Saver checkpoint -> TF2 model:             {result['tf1_to_tf2_logits']:.3g}  "
        f"({judgements['tf1_to_tf2_logits'].describe()})\n"
        f"  TF1 -> converted TF2 checkpoint -> TF2 model:  "
        f"{result['tf1_to_tf2_converted_logits']:.3g}  "
        f"({judgements['tf1_to_tf2_converted_logits'].describe()})\n"
        f"  TF2 checkpoint -> TF1 graph:                   {result['tf2_to_tf1_logits']:.3g}  "
        f"({judgements['tf2_to_tf1_logits'].describe()})\n"
        f"  TF1 -> TF2 -> TF1 round trip, variables:       {result['round_trip_variables']:.3g}  "
        f"(a copy: 0 expected)\n"
        f"  TF1 -> TF2 -> TF1 round trip, logits:          {result['round_trip_logits']:.3g}  "
        f"(the same graph on the same values: 0 expected)"
    )
    if definitions.JSON_PATH.value:
        with reporting.exit_with_message_on(reporting.OutputError):
            _write_json(definitions.JSON_PATH.value, result)


def _write_json(json_path: str, result: dict[str, Any]) -> None:
    """The round trip's result as JSON, its judgements as dictionaries."""
    reporting.write_json(json_path, {
        **result,
        "judgements": {measure: dataclasses.asdict(judgement)
                       for measure, judgement in result["judgements"].items()},
    })


if __name__ == "__main__":
    app.run(main)
