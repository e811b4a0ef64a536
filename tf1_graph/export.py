"""Exports a tf1_graph model as a SavedModel with the TF1 builder APIs.

The exported graph is the model's inference graph alone, built in a fresh
tf.Graph with the trained values loaded into it: the training graph is
finalised and carries the loss, the optimizer and the labels placeholder,
none of which serving needs. The TF2 twin is tf2_eager/export.py; both give
the signature of runtime/serving.py.
"""

from typing import Mapping

import numpy as np
import tensorflow as tf

from flags import model_configs
from runtime import reporting
from runtime import serving
from tf1_graph import classifier
from tf1_graph import weights


def export_saved_model(
    inference: classifier.Inference,
    model_config: model_configs.ModelConfig,
    values: Mapping[str, np.ndarray],
    export_dir: str,
) -> str:
    """Writes a SavedModel whose serving_default maps images to predictions.

    Args:
      inference: The model's inference(images, model_config, keep_prob)
        function, e.g. tf1_graph.mlp.inference.
      model_config: The model config it was built with (layer sizes).
      values: {variable name: value} of every model variable, e.g. the
        "weights" of tf1_graph.train.train's result.
      export_dir: Directory to create; it must not exist yet, or be empty.
        The SavedModel is written beside it and renamed into place, so a
        failed export leaves nothing half-written.

    Returns:
      export_dir. Its serving_default takes "images", float32 [None, 784],
      and returns "probabilities", float32 [None, 10], and "classes", int64
      [None], with dropout off.

    Raises:
      ValueError: If `values` misses, adds or mis-shapes a variable.
      runtime.reporting.OutputError: If export_dir is a file or a
        non-empty directory, or cannot be written.
    """
    # TensorFlow's file system reports a full or read-only disk as an OpError.
    with reporting.directory_written_atomically(
        export_dir, "the SavedModel", "--export_dir", also=(tf.errors.OpError,)
    ) as temporary_dir:
        _build_and_save(inference, model_config, values, temporary_dir)
    return export_dir


def _build_and_save(
    inference: classifier.Inference,
    model_config: model_configs.ModelConfig,
    values: Mapping[str, np.ndarray],
    export_dir: str,
) -> None:
    """export_saved_model's graph and Builder, writing into export_dir."""
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(
            tf.float32, [None, classifier.IMAGE_PIXELS], name=serving.INPUT_KEY)
        # keep_prob stays at 1.0: serving never drops units.
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [], name="keep_prob")
        logits = inference(images, model_config, keep_prob)
        probabilities = tf.nn.softmax(logits, name=serving.PROBABILITIES_KEY)
        classes = tf.argmax(logits, axis=1, name=serving.CLASSES_KEY)  # int64 [batch]
        loader = weights.Loader(tf.compat.v1.trainable_variables())
        initializer = tf.compat.v1.global_variables_initializer()
        signature = tf.compat.v1.saved_model.predict_signature_def(
            inputs={serving.INPUT_KEY: images},
            outputs={serving.PROBABILITIES_KEY: probabilities, serving.CLASSES_KEY: classes},
        )
        builder = tf.compat.v1.saved_model.Builder(export_dir)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(initializer)
            loader.load(session, values)
            builder.add_meta_graph_and_variables(
                session,
                [tf.saved_model.SERVING],
                signature_def_map={serving.SIGNATURE_KEY: signature},
            )
        builder.save()
