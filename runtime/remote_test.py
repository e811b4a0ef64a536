"""A run whose outputs all go to a TensorFlow file system (ram:// here, gs://
in a cluster): checkpoints, run state, metrics JSON and figures."""

import json
import os

from absl import flags as absl_flags
from absl.testing import flagsaver
import tensorflow as tf

from tf1_graph import train as tf1_train
from tf2_eager import train as tf2_train


def _run(main, root: str) -> None:
    with flagsaver.flagsaver():
        absl_flags.FLAGS.unparse_flags()
        absl_flags.FLAGS([
            "train", "--preset=hvass_softmax", "--steps=5", f"--output_dir={root}/run",
            f"--json={root}/metrics.json", f"--plots_dir={root}/plots", "--quiet"])
        main(["train"])


def test_every_output_of_both_sides_goes_to_a_remote_file_system(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for side, main in (("tf1_graph", tf1_train.main), ("tf2_eager", tf2_train.main)):
        root = f"ram://remote_test/{side}"
        _run(main, root)
        with tf.io.gfile.GFile(f"{root}/metrics.json") as file:
            metrics = json.load(file)
        assert (metrics["side"], metrics["steps"]) == (side, 5)
        assert tf.io.gfile.glob(f"{root}/plots/{side}_*.png")
        assert tf.io.gfile.exists(f"{root}/run/{side}/checkpoint")
        # Nothing of the run is written to the local directory.
        assert os.listdir(tmp_path) == []
