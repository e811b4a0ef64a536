"""In-graph replication, the TF1 multi-GPU tutorials' way: one tower per device.

    towers.train(config, dataset, num_towers=2)

The model is built once per device under tf.device, every tower on its own
slice of the fed batch; the towers share one set of variables, kept on the
CPU as cifar10_multi_gpu_train.py kept them. Each tower's gradients are
computed separately, summed (flags/replication.py explains the loss
weights that make the sum the single-device gradient), and applied once.
The devices are the GPUs when TensorFlow sees enough of them, otherwise N
CPU devices made by the Session's ConfigProto(device_count={"CPU": N}).
The TF2 form is tf.distribute.MirroredStrategy (tf2_eager/distributed.py).
"""

import itertools
from typing import Any, Callable, Iterator, Sequence

import tensorflow as tf

import mnist_data
from flags import config as config_lib
from flags import replication
from tf1_graph import classifier
from tf1_graph import optimizers
from tf1_graph import session_loop
from tf1_graph import training_graph
from runtime import errors

# Where the shared variables live, as in the multi-GPU tutorial: every tower
# reads them from host memory and the one update writes them there.
VARIABLE_DEVICE = "/cpu:0"

GradientsAndVariables = list[tuple[tf.Tensor | None, tf.Variable]]


def tower_devices(num_towers: int) -> tuple[list[str], tf.compat.v1.ConfigProto]:
    """The devices for `num_towers` towers and the session config that has them.

    Raises:
      ValueError: If there are GPUs but fewer than num_towers.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        replication.check_enough_devices(
            num_towers, [f"/gpu:{index}" for index in range(len(gpus))],
            "run on a machine with more GPUs",
        )
        return [f"/gpu:{index}" for index in range(num_towers)], tf.compat.v1.ConfigProto()
    # Without a GPU the Session makes as many CPU devices as it is told to;
    # they share the machine's cores, so they prove the arithmetic, not speed.
    return (
        [f"/cpu:{index}" for index in range(num_towers)],
        tf.compat.v1.ConfigProto(device_count={"CPU": num_towers}),
    )


def sum_gradients(tower_gradients: Sequence[GradientsAndVariables]) -> GradientsAndVariables:
    """Adds the towers' gradients variable by variable.

    The tutorial's average_gradients averaged the towers' gradients of their
    mean losses; summing the gradients of losses already weighted by
    replication.loss_weight is the same for a mean and also right for the
    notebook's summed loss.

    Args:
      tower_gradients: One compute_gradients() list per tower, all over the
        same variables in the same order.

    Returns:
      [(summed gradient or None, variable)], in the towers' variable order.
    """
    summed = []
    for pairs in zip(*tower_gradients):
        variable = pairs[0][1]
        if any(other is not variable for _, other in pairs):
            raise errors.FixableError(
                "Towers computed gradients for different variables; every tower "
                "must reuse the variables of tower 0 (build them with build())."
            )
        gradients = [gradient for gradient, _ in pairs if gradient is not None]
        summed.append((tf.add_n(gradients) if gradients else None, variable))
    return summed


def build(
    inference: classifier.Inference,
    images: tf.Tensor,
    labels: tf.Tensor,
    config: config_lib.TrainConfig,
    devices: Sequence[str],
) -> dict[str, tf.Tensor | tf.Operation]:
    """Builds the replicated training graph, with classifier.build's endpoints.

    Args:
      inference: A model's inference(images, model_config, keep_prob) -> logits.
      images: Images placeholder, float32 [batch, 784]; split over the towers.
      labels: Labels placeholder, split the same way.
      config: The run's configuration.
      devices: One device per tower.

    Returns:
      {"outputs": logits of every fed image, "loss": the fed batch's loss
       (the single-device loss), "train_op", "correct", "learning_rate",
       "keep_prob"}.
    """
    keep_prob = tf.compat.v1.placeholder_with_default(1.0, [], name="keep_prob")
    global_step = tf.compat.v1.train.get_or_create_global_step()
    learning_rate = classifier.scheduled_learning_rate(global_step, config.optimizer_config)
    optimizer = optimizers.create(config.optimizer, learning_rate, config.momentum)
    loss_weight = replication.loss_weight(config.loss, len(devices))
    with tf.device(VARIABLE_DEVICE):
        image_shards = _split(images, len(devices))
        label_shards = _split(labels, len(devices))
    shared_variables = []
    logits, losses, gradients, correct = [], [], [], []
    for tower, device in enumerate(devices):
        with (
            tf.device(device),
            tf.compat.v1.name_scope(f"tower_{tower}"),
            _reuse_variables(shared_variables, tower),
        ):
            tower_logits = inference(image_shards[tower], config.model_config, keep_prob)
            weighted_loss = classifier.loss(tower_logits, label_shards[tower], config.loss) * loss_weight
            gradients.append(optimizer.compute_gradients(weighted_loss))
            correct.append(classifier.count_correct(tower_logits, label_shards[tower]))
        logits.append(tower_logits)
        losses.append(weighted_loss)
    with tf.device(VARIABLE_DEVICE):
        train_op = optimizer.apply_gradients(sum_gradients(gradients), global_step=global_step)
        return {
            "outputs": tf.concat(logits, axis=0),
            "loss": tf.add_n(losses),
            "train_op": train_op,
            "correct": tf.add_n(correct),
            "learning_rate": learning_rate,
            "keep_prob": keep_prob,
        }


class Towers(training_graph.Placement):
    """One tower per device in one Session; the variables on VARIABLE_DEVICE."""

    def __init__(self, num_towers: int):
        self._devices, self._session_config = tower_devices(num_towers)
        self.label = f"tf1_graph towers x{num_towers}"

    def build_model(
        self, model: Any, images: tf.Tensor, labels: tf.Tensor, config: config_lib.TrainConfig
    ) -> dict[str, tf.Tensor | tf.Operation]:
        return build(model.inference, images, labels, config, self._devices)

    def session_config(self) -> tf.compat.v1.ConfigProto:
        return self._session_config


def train(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, num_towers: int
) -> dict[str, Any]:
    """Trains config.model with one tower per device; metrics as tf1_graph.train.train.

    Each step feeds the global batch of config.batch_size examples that a
    single device would take (mnist_data.batch_indices), split evenly over
    the towers. Every flag of the one-device run applies: outputs go to
    OUTPUT_DIR/tf1_graph, --resume continues from its last checkpoint.

    Raises:
      ValueError: If the batch does not divide over the towers, there are
        fewer GPUs than towers, config.device pins one device, or config.rng
        is not "numpy".
    """
    replication.check_batch_split(config.batch_size, num_towers)
    replication.check_numpy_rng(config, "In-graph replication")
    if config.device:
        raise errors.FixableError(
            f"Towers place themselves on {num_towers} devices; --device={config.device} "
            "pins a run to one. Drop --device."
        )
    return session_loop.train(config, dataset, Towers(num_towers))


def _split(tensor: tf.Tensor, parts: int) -> list[tf.Tensor]:
    """Splits the rows into `parts` consecutive slices, as replication.shard does.

    Training batches divide evenly (train() checks it); the test split need
    not, so the last slice takes the remainder.
    """
    rows = tf.shape(tensor)[0]
    size = rows // parts
    sizes = tf.concat([tf.fill([parts - 1], size), [rows - size * (parts - 1)]], axis=0)
    return tf.split(tensor, sizes, num=parts)


def _reuse_variables(shared: list[tf.Variable], tower: int) -> Any:
    """A variable creator scope: tower 0 creates, the others reuse.

    The models create their variables with tf.Variable, not get_variable, so
    variable_scope(reuse=True) cannot share them. Instead tower 0 creates
    each variable on VARIABLE_DEVICE, outside the tower's name scope (so it
    keeps the single-device name, "softmax_regression/weights"), and every
    later tower gets the variables back in the order it asks for them.
    """
    position: Iterator[int] = itertools.count()
    prefix = f"tower_{tower}/"

    def creator(next_creator: Callable[..., tf.Variable], **kwargs: Any) -> tf.Variable:
        if tower > 0:
            return shared[next(position)]
        scope = tf.compat.v1.get_default_graph().get_name_scope() + "/"
        # A scope name ending in "/" is entered as an absolute name.
        with tf.device(VARIABLE_DEVICE), tf.compat.v1.name_scope(scope.removeprefix(prefix)):
            variable = next_creator(**kwargs)
        shared.append(variable)
        return variable

    return tf.compat.v1.variable_creator_scope(creator)
