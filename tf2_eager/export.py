"""Exports a tf2_eager model as a SavedModel with tf.saved_model.save.

The TF2 twin of tf1_graph/export.py: a tf.function with a fixed input
signature becomes serving_default, with the names of runtime/serving.py.
"""

import tensorflow as tf

from mnist_data import checks
from runtime import reporting
from runtime import serving


def serving_function(model: tf.Module) -> tf.types.experimental.ConcreteFunction:
    """The concrete function exported as serving_default.

    Args:
      model: A tf2_eager classifier: model(images) gives logits, float32
        [batch, 10], for images float32 [batch, 784].

    Returns:
      A function of "images", float32 [None, 784], returning
      {"probabilities": float32 [None, 10], "classes": int64 [None]}, with
      dropout off (the model is called with training=False).
    """

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, checks.IMAGE_PIXELS], tf.float32, name=serving.INPUT_KEY)
        ]
    )
    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        logits = model(images, training=False)
        return {
            serving.PROBABILITIES_KEY: tf.nn.softmax(logits),
            serving.CLASSES_KEY: tf.argmax(logits, axis=1),  # int64 [batch]
        }

    return serve.get_concrete_function()


def export_saved_model(model: tf.Module, export_dir: str) -> str:
    """Writes `model` and its serving_default (see serving_function).

    The SavedModel is written beside export_dir and renamed into place, so a
    failed export leaves nothing half-written.

    Returns:
      export_dir.

    Raises:
      runtime.reporting.OutputError: If export_dir is a file or a
        non-empty directory (an export is never written over another), or
        cannot be written.
    """
    # TensorFlow's file system reports a full or read-only disk as an OpError.
    with reporting.directory_written_atomically(
        export_dir, "the SavedModel", "--export_dir", also=(tf.errors.OpError,)
    ) as temporary_dir:
        tf.saved_model.save(
            model, temporary_dir, signatures={serving.SIGNATURE_KEY: serving_function(model)}
        )
    return export_dir
