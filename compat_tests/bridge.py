"""The checkpoint bridge, end to end: train, save, restore on the other side.

    python -m compat_tests.bridge --flagfile=flags/hvass_softmax.cfg --output_dir=/tmp/bridge

trains config.model on each side, moves each checkpoint across
(tf2_eager/checkpoints.py, tf1_graph/checkpoints.py, and the
tf2_eager.convert_checkpoint command's library function), and prints the max
|Δ| of the logits on the whole test split (the official 10,000 digits) and
of every variable after the round trip TF1 -> TF2 -> TF1. On CPU every
figure is 0.0. checkpoint_bridge_test.py runs `round_trip` on each model.
"""

import dataclasses
import os
from typing import Any, Sequence

from absl import app
import numpy as np
import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import definitions
from mnist_data import checkpoint_names
from mnist_data import reporting
from tf1_graph import checkpoints as tf1_checkpoints
from tf1_graph import classifier as tf1_classifier
from tf1_graph import train as tf1_train
from tf1_graph import weights as tf1_weights
from tf2_eager import checkpoints as tf2_checkpoints
from tf2_eager import train as tf2_train


def tf1_logits(
    config: config_lib.TrainConfig, path: str, checkpoint_format: str, images: np.ndarray
) -> np.ndarray:
    """Logits, float32 [N, 10], of config.model's TF1 inference graph restored
    from a checkpoint: with `Saver.restore` for "tf1", with
    tf1_graph.checkpoints.restore for "tf2"."""
    graph = tf.Graph()
    with graph.as_default():
        images_placeholder, _ = tf1_classifier.placeholder_inputs(config)
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [], name="keep_prob")
        logits = tf1_train.MODELS[config.model].inference(images_placeholder, config, keep_prob)
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
        return session.run(logits, feed_dict={images_placeholder: images})


def tf2_model(config: config_lib.TrainConfig, path: str, checkpoint_format: str) -> tf.Module:
    """config.model's tf2_eager model restored from a checkpoint: with
    tf.train.Checkpoint.read for "tf2", with tf2_eager.checkpoints.restore
    for "tf1"."""
    model = tf2_train.MODELS[config.model].create(config)
    if checkpoint_format == "tf2":
        # The training checkpoint also holds the optimizer, which is not restored.
        status = tf.train.Checkpoint(**{checkpoint_names.TF2_ROOT: model}).read(path)
        status.expect_partial().assert_existing_objects_matched()
    else:
        tf2_checkpoints.restore(model, config.model, path, checkpoint_format)
    return model


def _max_abs_difference(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float(np.max(np.abs(reference.astype(np.float64) - candidate.astype(np.float64))))


def round_trip(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, workdir: str
) -> dict[str, Any]:
    """Trains each side, moves its checkpoint across, and measures the result.

    Args:
      config: The run; its output_dir is replaced by directories in `workdir`.
      dataset: Training data and the test split the logits are computed on.
      workdir: Where the checkpoints are written.

    Returns:
      {"model", "test_images", "variables", and max |Δ| as floats:
       "tf1_to_tf2_logits" (the TF1 Saver checkpoint restored straight into
       the TF2 model), "tf1_to_tf2_converted_logits" (converted by the
       command's function, read back by tf.train.Checkpoint),
       "round_trip_variables" and "round_trip_logits" (TF1 -> TF2 -> TF1,
       against the original), "tf2_to_tf1_logits" (the TF2 checkpoint
       restored into the TF1 graph)}.
    """
    images = dataset.test_images

    def path(*parts: str) -> str:
        # Saver.save and the train scripts write into existing directories only.
        directory = os.path.join(workdir, *parts[:-1])
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, parts[-1])

    tf1_checkpoint = tf1_train.train(
        dataclasses.replace(config, output_dir=os.path.dirname(path("tf1", ""))), dataset)["checkpoint"]
    tf1_reference = tf1_logits(config, tf1_checkpoint, "tf1", images)
    direct = tf2_model(config, tf1_checkpoint, "tf1")(images).numpy()
    converted = tf2_checkpoints.convert(config, tf1_checkpoint, path("tf1_to_tf2", "ckpt"), "tf1")
    from_converted = tf2_model(config, converted, "tf2")(images).numpy()
    back = tf2_checkpoints.convert(config, converted, path("back_to_tf1", "model.ckpt"), "tf2")
    original_reader = tf.train.load_checkpoint(tf1_checkpoint)
    back_reader = tf.train.load_checkpoint(back)
    names = sorted(back_reader.get_variable_to_shape_map())
    round_trip_variables = max(
        _max_abs_difference(original_reader.get_tensor(name), back_reader.get_tensor(name))
        for name in names
    )
    round_trip_logits = tf1_logits(config, back, "tf1", images)

    tf2_checkpoint = tf2_train.train(
        dataclasses.replace(config, output_dir=os.path.dirname(path("tf2", ""))), dataset)["checkpoint"]
    tf2_reference = tf2_model(config, tf2_checkpoint, "tf2")(images).numpy()
    from_tf2 = tf1_logits(config, tf2_checkpoint, "tf2", images)
    return {
        "model": config.model,
        "test_images": len(images),
        "variables": names,
        "tf1_to_tf2_logits": _max_abs_difference(tf1_reference, direct),
        "tf1_to_tf2_converted_logits": _max_abs_difference(tf1_reference, from_converted),
        "round_trip_variables": round_trip_variables,
        "round_trip_logits": _max_abs_difference(tf1_reference, round_trip_logits),
        "tf2_to_tf1_logits": _max_abs_difference(tf2_reference, from_tf2),
    }


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    with reporting.exit_with_message_on(*definitions.EXPECTED_ERRORS):
        config = definitions.to_config()
        if not config.output_dir:
            raise ValueError("Pass --output_dir=DIR, where the checkpoints are written.")
        dataset = mnist_data.load_dataset(config.dataset, config.data_dir)
        result = round_trip(config, dataset, config.output_dir)
    print(
        f"{result['model']}, {len(result['variables'])} variables, logits on "
        f"{result['test_images']} test images ({dataset.describe()['name']}), max |Δ|:\n"
        f"  TF1 Saver checkpoint -> TF2 model:             {result['tf1_to_tf2_logits']}\n"
        f"  TF1 -> converted TF2 checkpoint -> TF2 model:  "
        f"{result['tf1_to_tf2_converted_logits']}\n"
        f"  TF2 checkpoint -> TF1 graph:                   {result['tf2_to_tf1_logits']}\n"
        f"  TF1 -> TF2 -> TF1 round trip, variables:       {result['round_trip_variables']}\n"
        f"  TF1 -> TF2 -> TF1 round trip, logits:          {result['round_trip_logits']}"
    )
    if definitions.JSON_PATH.value:
        reporting.write_json(definitions.JSON_PATH.value, result)


if __name__ == "__main__":
    app.run(main)
