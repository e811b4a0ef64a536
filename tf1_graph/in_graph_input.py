"""Training batches taken inside the TF1 graph instead of fed through feed_dict.

The documents' loop builds each batch in numpy and feeds it:
`session.run([loss, train_op], feed_dict={images: ..., labels: ...})`. Every
step then copies the batch from Python into the runtime. TF1's own faster
alternative was to preload the data into the graph (the "preloaded data"
pattern of tutorials/mnist/fully_connected_preloaded.py): the training set
and the batch order live in variables, and each `session.run` gathers the
next batch itself.

    inputs = in_graph_input.PreloadedBatches(train_images, train_labels, schedule)
    endpoints = model.build(
        inputs.images, inputs.labels, config.model_config, config.loss, config.optimizer_config
    )
    ...
    inputs.initialize(session)
    loss_value, _ = session.run([endpoints["loss"], endpoints["train_op"]])

The schedule is `mnist_data.batch_schedule(...)`, so the batches are those a
feed_dict loop over `mnist_data.batch_indices` sees, in the same order, and
the losses are the same. Evaluation feeds `inputs.images` and
`inputs.labels` like placeholders, which leaves the batch order untouched.
"""

import numpy as np
import tensorflow as tf
from runtime import errors


class PreloadedBatches:
    """The training set and the batch order in the graph; each run of
    `images` or `labels` takes the next scheduled batch.

    The variables are kept out of every collection (`collections=[]`), as in
    fully_connected_preloaded.py: global_variables_initializer leaves them to
    `initialize`, a Saver does not write the data into checkpoints, and
    `tf.compat.v1.trainable_variables()` lists the model's variables only.

    Attributes:
      images: float32 [batch, 784], the step's images; feedable with any
        [N, 784] rows (a test set), which then skips the gather.
      labels: The step's labels, of train_labels' dtype and row shape
        (int64 [batch] class ids or float32 [batch, 10] one-hot rows);
        feedable like `images`.
      initializer: The op that loads the data; run it through `initialize`,
        which feeds the arrays.
    """

    def __init__(
        self, train_images: np.ndarray, train_labels: np.ndarray, schedule: np.ndarray
    ):
        """Adds the variables and the gather to the default graph.

        Only the shapes and dtypes of the arrays go into the graph; their
        values are fed once, by `initialize`.

        Args:
          train_images: float32 [N, 784].
          train_labels: int64 [N] class ids or float32 [N, 10] one-hot rows.
          schedule: int64 [steps, batch], row i the example indices of the
            i-th run (mnist_data.batch_schedule).

        Raises:
          ValueError: If the arrays' leading sizes or the schedule's rank
            do not fit together.
        """
        _check_arrays(train_images, train_labels, schedule)
        self._arrays = (train_images, train_labels, schedule.astype(np.int64, copy=False))
        self._placeholders = tuple(
            tf.compat.v1.placeholder(tf.as_dtype(array.dtype), array.shape)
            for array in self._arrays
        )
        with tf.compat.v1.name_scope("preloaded_batches"):
            image_data, label_data, batch_order = (
                tf.compat.v1.Variable(placeholder, trainable=False, collections=[], name=name)
                for placeholder, name in zip(self._placeholders, ("images", "labels", "schedule"))
            )
            cursor = tf.compat.v1.Variable(
                tf.constant(0, tf.int64), trainable=False, collections=[], name="cursor"
            )
            self.initializer = tf.group(
                image_data.initializer,
                label_data.initializer,
                batch_order.initializer,
                cursor.initializer,
            )
            indices = _next_indices(cursor, batch_order, len(schedule))  # int64 [batch]
            # tf.gather on a resource variable reads only the gathered rows.
            batch_images = tf.gather(image_data, indices)  # [batch, 784]
            batch_labels = tf.gather(label_data, indices)  # [batch] or [batch, 10]
        # placeholder_with_default keeps the names and the [None, ...] shapes
        # of classifier.placeholder_inputs, so an evaluation feeds these as
        # it fed the placeholders.
        self.images = tf.compat.v1.placeholder_with_default(
            batch_images, [None, *train_images.shape[1:]], name="images"
        )
        self.labels = tf.compat.v1.placeholder_with_default(
            batch_labels, [None, *train_labels.shape[1:]], name="labels"
        )

    def initialize(self, session: tf.compat.v1.Session) -> None:
        """Loads the data and the schedule and points at its first row."""
        session.run(self.initializer, feed_dict=dict(zip(self._placeholders, self._arrays)))


def _check_arrays(
    train_images: np.ndarray, train_labels: np.ndarray, schedule: np.ndarray
) -> None:
    """Raises PreloadedBatches' ValueErrors, each naming the fix."""
    if len(train_labels) != len(train_images):
        raise errors.FixableError(
            f"train_labels has {len(train_labels)} rows for {len(train_images)} "
            "train_images; pass the labels of the same examples."
        )
    if schedule.ndim != 2 or not np.issubdtype(schedule.dtype, np.integer):
        raise errors.FixableError(
            f"schedule must be integer [steps, batch], got {schedule.dtype} "
            f"{list(schedule.shape)}; build it with mnist_data.batch_schedule."
        )


def _next_indices(cursor: tf.Variable, batch_order: tf.Variable, num_steps: int) -> tf.Tensor:
    """The row of the schedule `batch_order` (int64 [num_steps, batch]) at the
    cursor, advancing the cursor; fails once every row is used."""
    # assign_add runs once per session.run, however many fetches read
    # the batch, so every run advances the order by exactly one step.
    step = cursor.assign_add(1) - 1
    in_schedule = tf.debugging.assert_less(
        step,
        tf.constant(num_steps, tf.int64),
        message=(
            f"The batch schedule holds {num_steps} steps and is used up; "
            "build PreloadedBatches with a schedule of every step to run."
        ),
    )
    with tf.control_dependencies([in_schedule]):
        return tf.gather(batch_order, step)
