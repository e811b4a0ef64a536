"""Times every way of training each model, side by side in one process.

    python -m compat_tests.bench --json=bench.json
    python -m compat_tests.bench --models=mlp --bench_steps=100 --repeats=7
    python -m compat_tests.bench --steps_per_call=10 --scaling

Each model trains with its document's shipped flagfile (FLAGFILES), on the
embedded MNIST set, through every path of PATHS: the same steps with the
same batch size, from the same numpy initial values, in the same batch
order. The paths run interleaved, one repeat of each in turn, so a change
of load on the machine falls on all of them alike. The first round is a
warm-up (tracing, graph optimisation, caches) and is not timed. The table
gives the median ms/step over the timed repeats, and its ratio to the TF1
feed_dict loop, to the FLOP bound (the step's floating-point operations,
counted from the layer shapes, at the float32 matmul throughput measured in
the same run) and to the kernel floor (the step's matmuls and convolutions,
forward and backward, each timed alone at its own shapes, summed). The
kernels are timed in the paths' own rounds, so that the floor sees the
same load on the machine as the paths. A path near the kernel floor spends
its time in those kernels; a path far above it spends it in the framework
or in the other ops.

The tf2_function path is tf2_eager.train's loop at the preset's
--steps_per_call (the shared flag's default, or its value when given):
one step per call from Python, or that many steps per call of
multi_step's in-graph loop. With --scaling the bench then times the two
default loops and the in-graph ones alone, at each of
--scaling_batch_sizes, on the embedded set and on a full-size one, with
the process's peak resident memory (format_scaling).
"""

import contextlib
import dataclasses
import functools
import itertools
import os
import statistics
import sys
import time
from typing import Any, Callable, Iterator, Optional, Sequence

from absl import app
from absl import flags as absl_flags
from absl import logging
import numpy as np
import tensorflow as tf

import mnist_data
from compat_tests import flagfiles
from flags import bench as bench_flags
from flags import config as config_lib
from flags import definitions
from mnist_data import checks
from runtime import reporting
from tf1_graph import classifier as tf1_classifier
from tf1_graph import in_graph_input
from tf1_graph import train as tf1_train
from tf1_graph import weights as tf1_weights
from tf2_eager import classifier as tf2_classifier
from tf2_eager import mlp as tf2_mlp
from tf2_eager import multi_step
from tf2_eager import optimizers as tf2_optimizers
from tf2_eager import steps as tf2_steps
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights
from runtime import errors

# Each model's preset: the document whose model it is.
FLAGFILES = {
    "softmax_regression": "hvass_softmax",
    "mlp": "keras_mlp",
    "deep_mlp": "codelab_2_1_five_layers_relu",
    "convnet": "codelab_3_1_conv_dropout",
}
# The timed paths, in table order.
PATHS = {
    "tf1_feed_dict": "TF1 Session.run, feed_dict (tf1_graph.train)",
    "tf1_in_graph": "TF1 Session.run, batches gathered in the graph",
    "tf2_function": "TF2 tf.function, tf2_eager.train's loop at its --steps_per_call",
    "tf2_multi_step": "TF2 tf.function, all steps in one call",
    "tf2_eager": "TF2 GradientTape, no tf.function",
    "keras_fit": "Keras Sequential, model.fit",
}
REFERENCE_PATH = "tf1_feed_dict"
FLOP_BOUND_ROW = "flop_bound"
KERNEL_FLOOR_ROW = "kernel_floor"
# The rows that are bounds rather than paths, with what each one is.
BOUND_ROWS = {
    FLOP_BOUND_ROW: "step FLOPs / measured matmul FLOP/s",
    KERNEL_FLOOR_ROW: "the step's matmuls and convolutions, each timed alone (step_kernels)",
}
# Calls of each kernel in the function that times it (kernel_timer).
KERNEL_COPIES = 11
# Timings of each kernel in each round of time_paths.
KERNEL_TIMINGS_PER_ROUND = 3
# tf2_eager.mlp.keras_sequential expresses these as a Keras Sequential (the
# softmax regression with no hidden layer); the project has no Keras convnet.
KERAS_MODELS = ("softmax_regression", "mlp", "deep_mlp")
# The scaling table's paths: the two default loops, then the in-graph ones,
# one of which is the fastest path of every model in the main table.
SCALING_PATHS = ("tf1_feed_dict", "tf2_function", "tf1_in_graph", "tf2_multi_step")
# Full MNIST's training digits, which the embedded set stands in for when
# no full set is given (full_size_stand_in).
FULL_TRAIN_SIZE = 60_000
# Runs the next `count` steps of a path and returns the losses it reports:
# each step's loss, except model.fit's, which reports the mean of the call.
Runner = Callable[[int], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Workload:
    """What every path of one model trains on.

    Attributes:
      config: The model's TrainConfig.
      dataset: The training data.
      train_labels: dataset's training labels as config's loss takes them.
      schedule: int64 [total steps, batch_size], row i the example indices
        of step i (mnist_data.batch_schedule), for the paths that take
        their batches inside the graph.
    """

    config: config_lib.TrainConfig
    dataset: mnist_data.Dataset
    train_labels: np.ndarray
    schedule: np.ndarray


def make_workload(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, total_steps: int
) -> Workload:
    """The workload of `total_steps` steps of config's model on dataset."""
    config.check_fits(dataset.train_size)
    train_labels, _ = dataset.encoded_labels(not config.integer_labels)
    schedule = mnist_data.batch_schedule(
        config.seed, 0, total_steps, config.batch_size, dataset.train_size
    )
    return Workload(config, dataset, train_labels, schedule)


@dataclasses.dataclass(frozen=True)
class ConvShape:
    """One "SAME" convolution of the convnet: input [batch, side, side,
    in_channels], filter [kernel, kernel, in_channels, out_channels]."""

    side: int
    kernel: int
    in_channels: int
    out_channels: int
    stride: int

    @property
    def out_side(self) -> int:
        return -(-self.side // self.stride)  # "SAME" padding: ceil(side / stride).


def layer_shapes(config: config_lib.TrainConfig) -> tuple[list[ConvShape], list[int]]:
    """The convolutions of config's model (none but the convnet's), then the
    widths of its dense layers' inputs and outputs, [784, ..., 10]."""
    convolutions, side, in_channels = [], checks.IMAGE_SIDE, 1
    if config.model == "convnet":
        for channels, kernel, stride in zip(
            config.conv_channels, config.conv_kernels, config.conv_strides
        ):
            convolutions.append(ConvShape(side, kernel, in_channels, channels, stride))
            side, in_channels = convolutions[-1].out_side, channels
        return convolutions, [side * side * in_channels, config.dense_units, mnist_data.NUM_CLASSES]
    if config.model == "softmax_regression":
        return convolutions, [mnist_data.IMAGE_PIXELS, mnist_data.NUM_CLASSES]
    return convolutions, [mnist_data.IMAGE_PIXELS, *config.hidden_sizes, mnist_data.NUM_CLASSES]


def layer_multiply_adds(config: config_lib.TrainConfig) -> list[int]:
    """Multiply-adds of one example's forward pass, layer by layer, from the
    layer shapes.

    Dense layers cost fan_in × fan_out; a "SAME" conv layer costs
    out_side² × kernel² × in_channels × out_channels. Biases, activations
    and the loss are left out: they are linear in the layer outputs.
    """
    convolutions, widths = layer_shapes(config)
    return [
        conv.out_side**2 * conv.kernel**2 * conv.in_channels * conv.out_channels
        for conv in convolutions
    ] + [fan_in * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:])]


def step_flops(config: config_lib.TrainConfig) -> int:
    """Floating-point operations of one training step, 2 per multiply-add.

    The forward pass, then the backward pass: each layer's weight gradient
    costs as much as its forward product, and so does each layer's input
    gradient except the first's, whose input is the data. That is 3× the
    forward pass less the first layer.
    """
    layers = layer_multiply_adds(config)
    return 2 * config.batch_size * (3 * sum(layers) - layers[0])


def matmul_flops_per_second(size: int, repeats: int) -> float:
    """float32 FLOP/s of tf.matmul on two [size, size] matrices, median of
    `repeats` products after one warm-up product."""
    left = tf.random.stateless_uniform([size, size], seed=[0, 1])
    right = tf.random.stateless_uniform([size, size], seed=[0, 2])
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        # Reading one element waits for the product without copying it out.
        tf.matmul(left, right)[0, 0].numpy()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times[1:])


# A kernel of the step: (name, function, operands), the function called as
# function(**operands).
Kernel = tuple[str, Callable[..., tf.Tensor], dict[str, tf.Tensor]]


def step_kernels(config: config_lib.TrainConfig) -> list[Kernel]:
    """Every matmul and convolution of one training step, at its own shapes.

    Each layer has its forward product and its weight gradient; every layer
    but the first also has its input gradient (the first's input is the
    data, which needs none). These are the ops tf.GradientTape and TF1's
    tf.gradients both emit for tf.matmul and tf.nn.conv2d. Operands are
    random: the kernels' speed does not depend on the values.
    """
    batch = config.batch_size
    seeds = iter(range(1, 1000))

    def operand(shape: list[int]) -> tf.Tensor:
        return tf.random.stateless_uniform(shape, seed=[0, next(seeds)])

    convolutions, widths = layer_shapes(config)
    kernels = []
    for index, conv in enumerate(convolutions):
        inputs = operand([batch, conv.side, conv.side, conv.in_channels])
        filters = operand([conv.kernel, conv.kernel, conv.in_channels, conv.out_channels])
        output_gradient = operand([batch, conv.out_side, conv.out_side, conv.out_channels])
        strides = [1, conv.stride, conv.stride, 1]
        kernels.append((f"conv_{index} forward", functools.partial(
            tf.nn.conv2d, strides=strides, padding="SAME"),
            {"input": inputs, "filters": filters}))
        kernels.append((f"conv_{index} weight gradient", functools.partial(
            tf.raw_ops.Conv2DBackpropFilter, filter_sizes=filters.shape.as_list(),
            strides=strides, padding="SAME"),
            {"input": inputs, "out_backprop": output_gradient}))
        if index:
            kernels.append((f"conv_{index} input gradient", functools.partial(
                tf.raw_ops.Conv2DBackpropInput, input_sizes=inputs.shape.as_list(),
                strides=strides, padding="SAME"),
                {"filter": filters, "out_backprop": output_gradient}))
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        inputs, dense_weights = operand([batch, fan_in]), operand([fan_in, fan_out])
        output_gradient = operand([batch, fan_out])
        kernels.append((f"dense_{index} forward", tf.matmul, {"a": inputs, "b": dense_weights}))
        kernels.append((f"dense_{index} weight gradient", functools.partial(
            tf.matmul, transpose_a=True), {"a": inputs, "b": output_gradient}))
        # The convnet's first dense layer takes the convolutions' output,
        # which does need its gradient.
        if index or convolutions:
            kernels.append((f"dense_{index} input gradient", functools.partial(
                tf.matmul, transpose_b=True), {"a": output_gradient, "b": dense_weights}))
    return kernels


def kernel_timer(kernel: Kernel, copies: int) -> Callable[[], float]:
    """Returns a function that times one call of the kernel alone, in
    seconds, inside a tf.function.

    One tf.function runs `copies` calls one after the other (each waits for
    the previous through a control dependency, so they do not share the
    cores), another runs one; each timing runs the two back to back and
    returns the difference over copies - 1, which leaves out the cost of
    calling the function. The two are timed as a pair so that both see the
    same load on the machine. Each call gets operands of its own, as
    function arguments, so that Grappler neither merges the calls nor
    computes them ahead of time. Both are run once here, untimed, to trace
    and warm them.
    """
    _, function, operands = kernel

    @tf.function
    def run(operand_sets: list[dict[str, tf.Tensor]]) -> list[tf.Tensor]:
        outputs = []
        for arguments in operand_sets:
            with tf.control_dependencies(outputs[-1:]):
                outputs.append(function(**arguments))
        # Every output is returned: Grappler would prune a call whose output
        # only a control dependency used.
        return outputs

    def copies_of_operands(count: int) -> list[dict[str, tf.Tensor]]:
        return [{name: tf.identity(value) for name, value in operands.items()} for _ in range(count)]

    def seconds(operand_sets: list[dict[str, tf.Tensor]]) -> float:
        start = time.perf_counter()
        # Reading one element of the last output waits for all calls.
        run(operand_sets)[-1].numpy().flat[0]
        return time.perf_counter() - start

    many, one = copies_of_operands(copies), copies_of_operands(1)
    for operand_sets in (many, one):
        seconds(operand_sets)  # Traces and warms the function.

    def time_one_call() -> float:
        return (seconds(many) - seconds(one)) / (copies - 1)

    return time_one_call


def kernel_seconds(kernel: Kernel, copies: int, repeats: int) -> float:
    """Seconds of one call of the kernel alone: the median of `repeats`
    timings of kernel_timer, after its warm-up; 0 if that is negative."""
    time_one_call = kernel_timer(kernel, copies)
    return max(0.0, statistics.median(time_one_call() for _ in range(repeats)))


def _numpy_batch_runner(
    workload: Workload, train_step: Callable[[np.ndarray, np.ndarray], Any]
) -> Runner:
    """The documents' loop: each step's batch built in numpy, passed in, and
    its loss brought back to Python, as both train scripts do."""
    config, dataset = workload.config, workload.dataset
    next_step = 0

    def run(count: int) -> np.ndarray:
        nonlocal next_step
        losses = []
        for step in range(next_step, next_step + count):
            batch = mnist_data.batch_indices(
                config.seed, step, config.batch_size, dataset.train_size
            )
            losses.append(
                float(train_step(dataset.train_images[batch], workload.train_labels[batch]))
            )
        next_step += count
        return np.array(losses)

    return run


@contextlib.contextmanager
def _tf1_session(
    workload: Workload, preloaded: bool
) -> Iterator[tuple[tf.compat.v1.Session, dict[str, Any], tf.Tensor, tf.Tensor]]:
    """Builds config's TF1 training graph in its own tf.Graph and opens a
    Session on it with the matched initial values loaded.

    Args:
      workload: The model and data.
      preloaded: Take the batches inside the graph (PreloadedBatches over
        workload.schedule) instead of from placeholders.

    Yields:
      (session, the build() endpoints, images tensor, labels tensor).
    """
    config = workload.config
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(config.seed)
        if preloaded:
            batches = in_graph_input.PreloadedBatches(
                workload.dataset.train_images, workload.train_labels, workload.schedule
            )
            images, labels = batches.images, batches.labels
        else:
            images, labels = tf1_classifier.placeholder_inputs(config.integer_labels)
        endpoints = tf1_train.MODELS[config.model].build(
            images, labels, config.model_config, config.loss, config.optimizer_config
        )
        trainable = tf.compat.v1.trainable_variables()
        loader = tf1_weights.Loader(trainable)
        initializer = tf.compat.v1.global_variables_initializer()
    graph.finalize()
    # contextlib.closing rather than `with session`: entering a Session makes
    # its graph the default one, and the TF2 paths running meanwhile would
    # then build graph ops instead of running.
    with contextlib.closing(tf.compat.v1.Session(graph=graph)) as session:
        session.run(initializer)
        if preloaded:
            batches.initialize(session)
        loader.load(
            session,
            config.draw_initial_values(
                {tf1_weights.variable_name(v): v.shape.as_list() for v in trainable}
            ),
        )
        yield session, endpoints, images, labels


@contextlib.contextmanager
def _tf1_feed_dict(workload: Workload) -> Iterator[Runner]:
    """tf1_graph.train's loop: placeholders fed each step's numpy batch."""
    with _tf1_session(workload, preloaded=False) as (session, endpoints, images, labels):
        fetches = [endpoints["loss"], endpoints["train_op"]]

        def train_step(batch_images: np.ndarray, batch_labels: np.ndarray) -> float:
            feed_dict = {
                images: batch_images,
                labels: batch_labels,
                endpoints["keep_prob"]: workload.config.dropout_keep,
            }
            return session.run(fetches, feed_dict=feed_dict)[0]

        yield _numpy_batch_runner(workload, train_step)


@contextlib.contextmanager
def _tf1_in_graph(workload: Workload) -> Iterator[Runner]:
    """Session.run with no batch fed: in_graph_input.PreloadedBatches."""
    with _tf1_session(workload, preloaded=True) as (session, endpoints, _, _):
        fetches = [endpoints["loss"], endpoints["train_op"]]
        # keep_prob defaults to 1.0; only dropout needs a (scalar) feed.
        feed_dict = (
            {endpoints["keep_prob"]: workload.config.dropout_keep}
            if workload.config.dropout_keep < 1
            else None
        )

        def run(count: int) -> np.ndarray:
            return np.array(
                [session.run(fetches, feed_dict=feed_dict)[0] for _ in range(count)]
            )

        yield run


def _tf2_parts(
    config: config_lib.TrainConfig,
) -> tuple[tf.Module, tf2_steps.LossFunction, Any]:
    """(model with the matched initial values, loss_fn, optimizer), as
    tf2_eager.train builds them."""
    model = tf2_train.MODELS[config.model].create(config.model_config, config.seed)
    tf2_weights.assign(
        model.trainable_variables,
        config.draw_initial_values(
            {tf2_weights.variable_name(v): v.shape.as_list() for v in model.trainable_variables}
        ),
    )
    loss_fn = tf2_classifier.keras_loss(config.loss)
    return model, loss_fn, tf2_optimizers.create(config.optimizer_config)


def _in_graph_runner(workload: Workload, steps_per_call: Optional[int]) -> Runner:
    """tf2_eager.train's loop with steps_per_call > 1: multi_step's
    in-graph loop called on the schedule of up to `steps_per_call` steps
    at a time (all the steps asked for in one call if None), the schedule
    drawn per call and the losses brought back to Python, as the loop does."""
    config, dataset = workload.config, workload.dataset
    train_steps = multi_step.make_multi_step(
        *_tf2_parts(config), training=config.dropout_keep < 1
    )
    # Converted once: the data then stays in the runtime between calls.
    images = tf.constant(dataset.train_images)
    labels = tf.constant(workload.train_labels)
    next_step = 0

    def run(count: int) -> np.ndarray:
        nonlocal next_step
        end, losses = next_step + count, []
        while next_step < end:
            stop = min(end, next_step + (steps_per_call or count))
            schedule = mnist_data.batch_schedule(
                config.seed, next_step, stop - next_step, config.batch_size, dataset.train_size
            )
            losses.extend(float(loss) for loss in train_steps(images, labels, schedule).numpy())
            next_step = stop
        return np.array(losses)

    return run


@contextlib.contextmanager
def _tf2_function(workload: Workload) -> Iterator[Runner]:
    """tf2_eager.train's loop as config.steps_per_call sets it: the
    tf.function step called per numpy batch, or (steps_per_call > 1)
    that many steps per call of the in-graph loop."""
    config = workload.config
    if config.steps_per_function_call > 1:
        yield _in_graph_runner(workload, config.steps_per_function_call)
        return
    train_step = tf2_steps.make_train_step(
        *_tf2_parts(config), training=config.dropout_keep < 1
    )
    yield _numpy_batch_runner(workload, train_step)


@contextlib.contextmanager
def _tf2_eager(workload: Workload) -> Iterator[Runner]:
    """The same step run eagerly, as the gradient-learning notebook wrote it."""
    config = workload.config
    train_step = tf2_steps.make_train_step(
        *_tf2_parts(config), training=config.dropout_keep < 1
    )
    # The function tf.function wraps, run op by op: what the step is
    # without tf.function.
    yield _numpy_batch_runner(workload, train_step.python_function)


@contextlib.contextmanager
def _tf2_multi_step(workload: Workload) -> Iterator[Runner]:
    """multi_step.make_multi_step: each call runs all its steps in the graph."""
    yield _in_graph_runner(workload, None)


@contextlib.contextmanager
def _keras_fit(workload: Workload) -> Iterator[Runner]:
    """The Keras notebook's Sequential, compiled as it was, trained by fit."""
    config = workload.config
    if config.model == "softmax_regression":
        # A Sequential with no hidden layer is the softmax regression: the
        # MLP's builder with its settings and no hidden widths.
        config = dataclasses.replace(config, model="mlp", hidden_sizes=())
    model = tf2_mlp.keras_sequential(config.model_config, config.optimizer_config)
    next_step = 0

    def run(count: int) -> np.ndarray:
        nonlocal next_step
        # The scheduled batches laid end to end, fit in order: model.fit
        # then takes exactly `count` steps of batch_size.
        rows = workload.schedule[next_step : next_step + count].ravel()
        next_step += count
        history = model.fit(
            workload.dataset.train_images[rows],
            workload.dataset.train_labels[rows],
            batch_size=config.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        return np.array(history.history["loss"])

    yield run


RUNNERS = {
    "tf1_feed_dict": _tf1_feed_dict,
    "tf1_in_graph": _tf1_in_graph,
    "tf2_function": _tf2_function,
    "tf2_multi_step": _tf2_multi_step,
    "tf2_eager": _tf2_eager,
    "keras_fit": _keras_fit,
}


def paths_for(model: str) -> tuple[str, ...]:
    """The paths of PATHS that can train `model`."""
    return tuple(path for path in PATHS if path != "keras_fit" or model in KERAS_MODELS)


@contextlib.contextmanager
def open_runner(path: str, workload: Workload) -> Iterator[Runner]:
    """Builds path's model, optimizer and input for workload; yields its Runner.

    Raises:
      ValueError: If `path` is not one of paths_for(workload's model).
    """
    if path not in paths_for(workload.config.model):
        raise errors.FixableError(
            f"Unknown path {path!r} for {workload.config.model}; expected one of "
            f"{', '.join(paths_for(workload.config.model))}."
        )
    with RUNNERS[path](workload) as runner:
        yield runner


def time_paths(
    workload: Workload,
    paths: Sequence[str],
    steps: int,
    repeats: int,
    kernels: Sequence[Kernel] = (),
) -> dict[str, dict[str, Any]]:
    """Times `steps` steps of each path `repeats` times, after a warm-up.

    The workload's schedule must hold (repeats + 1) × steps rows. Every
    round runs each path once, starting with a different path each round.
    With `kernels` (step_kernels), every round also times each kernel alone
    KERNEL_TIMINGS_PER_ROUND times (kernel_timer), taking its turn in the
    rotation as a path does: the kernel floor then sees the same load on
    the machine as the paths it is set against.

    Returns:
      {path: {"seconds": [seconds of each timed repeat], "losses": every
       loss the path reported, float64 [n]}}, and with kernels
      {KERNEL_FLOOR_ROW: {"kernel_seconds": {kernel name: [every timing of
      the timed rounds]}}}.
    """
    needed = (repeats + 1) * steps
    if len(workload.schedule) < needed:
        raise errors.FixableError(
            f"The schedule holds {len(workload.schedule)} steps; {repeats} repeats of "
            f"{steps} after a warm-up need {needed}; build it with make_workload."
        )
    results = {path: {"seconds": [], "losses": []} for path in paths}
    timers = {kernel[0]: kernel_timer(kernel, KERNEL_COPIES) for kernel in kernels}
    turns = [*paths, *([KERNEL_FLOOR_ROW] if timers else [])]
    if timers:
        results[KERNEL_FLOOR_ROW] = {"kernel_seconds": {name: [] for name in timers}}
    with contextlib.ExitStack() as stack:
        runners = {path: stack.enter_context(open_runner(path, workload)) for path in paths}
        for round_index in range(repeats + 1):
            shift = round_index % len(turns)
            for turn in [*turns[shift:], *turns[:shift]]:
                if turn == KERNEL_FLOOR_ROW:
                    for name, timings in _time_kernels(timers).items():
                        if round_index:
                            results[turn]["kernel_seconds"][name].extend(timings)
                    continue
                start = time.perf_counter()
                losses = runners[turn](steps)
                seconds = time.perf_counter() - start
                if round_index:
                    results[turn]["seconds"].append(seconds)
                results[turn]["losses"].extend(losses.tolist())
            logging.info(
                "%s: %s %d of %d done",
                workload.config.model,
                "round" if round_index else "warm-up",
                round_index,
                repeats,
            )
    return results


def _time_kernels(timers: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """KERNEL_TIMINGS_PER_ROUND timings, in seconds, of each kernel_timer of
    `timers`, by kernel name."""
    return {
        name: [time_one_call() for _ in range(KERNEL_TIMINGS_PER_ROUND)]
        for name, time_one_call in timers.items()
    }


def benchmark_model(
    config: config_lib.TrainConfig,
    dataset: mnist_data.Dataset,
    steps: int,
    repeats: int,
    matmul_size: int,
) -> dict[str, Any]:
    """Times every path of config's model and sets them against the
    TF1 feed_dict loop, the FLOP bound and the kernel floor.

    The matmul throughput is measured just before the model's paths, so
    that the FLOP bound sees about the same load on the machine as they
    do; the step's kernels are timed in the paths' own rounds
    (time_paths), each kernel's time the median of its timings.

    Returns:
      {"model", "flagfile", "batch_size", "optimizer", "step_flops",
       "matmul_gflops", "kernels_ms": {kernel name: ms}, "rows": [{"path",
       "description", "ms_per_step" (median), "repeats_ms_per_step",
       "vs_tf1_feed_dict", "vs_flop_bound", "vs_kernel_floor",
       "last_loss"}]}, the FLOP bound and the kernel floor the last rows.
    """
    paths = paths_for(config.model)
    flops_per_second = matmul_flops_per_second(matmul_size, repeats)
    workload = make_workload(config, dataset, (repeats + 1) * steps)
    timings = time_paths(workload, paths, steps, repeats, step_kernels(config))
    kernels_ms = {
        name: 1000 * max(0.0, statistics.median(seconds))
        for name, seconds in timings.pop(KERNEL_FLOOR_ROW)["kernel_seconds"].items()
    }
    bound_ms = 1000 * step_flops(config) / flops_per_second
    milliseconds = {
        path: [1000 * seconds / steps for seconds in timing["seconds"]]
        for path, timing in timings.items()
    }
    medians = {path: statistics.median(values) for path, values in milliseconds.items()}
    medians[FLOP_BOUND_ROW] = bound_ms
    medians[KERNEL_FLOOR_ROW] = sum(kernels_ms.values())
    rows = [_row(path, medians, milliseconds.get(path, []), timings) for path in (*paths, *BOUND_ROWS)]
    return {
        "model": config.model,
        "flagfile": FLAGFILES[config.model],
        "batch_size": config.batch_size,
        "optimizer": config.optimizer,
        "steps_per_call": config.steps_per_function_call,
        "step_flops": step_flops(config),
        "matmul_gflops": flops_per_second / 1e9,
        "kernels_ms": kernels_ms,
        "rows": rows,
    }


def _row(
    path: str, medians: dict[str, float], repeats_ms: list[float], timings: dict[str, Any]
) -> dict[str, Any]:
    """One row of benchmark_model's table: a path or a bound, against the
    TF1 feed_dict loop, the FLOP bound and the kernel floor."""
    return {
        "path": path,
        "description": PATHS.get(path, BOUND_ROWS.get(path)),
        "ms_per_step": medians[path],
        "repeats_ms_per_step": repeats_ms,
        "vs_tf1_feed_dict": medians[path] / medians[REFERENCE_PATH],
        "vs_flop_bound": medians[path] / medians[FLOP_BOUND_ROW],
        "vs_kernel_floor": medians[path] / medians[KERNEL_FLOOR_ROW],
        "last_loss": timings[path]["losses"][-1] if path in timings else None,
    }


def target_ratios(models: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ratios issues 5 and 20 set targets on, from benchmark_model results.

    Returns:
      [{"target", "model", "ratio", "met"}]: tf2_function over
      tf1_feed_dict (<= 1.0) for every model; the fastest path over the
      FLOP bound (<= 1.5) and over the kernel floor (<= 1.3) for every
      model but the softmax regression; the train scripts' loops over
      keras_fit (<= 0.5) for the MLP.
    """
    targets = []
    for result in models:
        ms = {row["path"]: row["ms_per_step"] for row in result["rows"]}
        model = result["model"]
        ratio = ms["tf2_function"] / ms[REFERENCE_PATH]
        targets.append(
            {"target": "tf2_function / tf1_feed_dict <= 1.0", "model": model,
             "ratio": ratio, "met": ratio <= 1.0}
        )
        if model != "softmax_regression":
            fastest = min(ms[path] for path in ms if path not in BOUND_ROWS)
            for bound, limit in ((FLOP_BOUND_ROW, 1.5), (KERNEL_FLOOR_ROW, 1.3)):
                ratio = fastest / ms[bound]
                targets.append(
                    {"target": f"fastest path / {bound} <= {limit}", "model": model,
                     "ratio": ratio, "met": ratio <= limit}
                )
        if model == "mlp":
            for path in (REFERENCE_PATH, "tf2_function"):
                ratio = ms[path] / ms["keras_fit"]
                targets.append(
                    {"target": f"{path} / keras_fit <= 0.5", "model": model,
                     "ratio": ratio, "met": ratio <= 0.5}
                )
    return targets


def format_table(record: dict[str, Any]) -> str:
    """The benchmark record as a Markdown table, then the target ratios."""
    lines = [
        f"{record['steps_per_repeat']} steps per repeat, median of {record['repeats']} "
        f"repeats after a warm-up; {record['machine']['cpu_count']} CPUs, "
        f"load average {record['machine']['load_average_before'][0]:.2f} before, "
        f"{record['machine']['load_average_after'][0]:.2f} after.",
        *(
            f"{result['model']}: tf2_function {result['steps_per_call']} step(s) per call; "
            f"{result['step_flops'] / 1e6:.1f} MFLOP/step; matmul "
            f"{record['matmul_size']}² float32 {result['matmul_gflops']:.1f} GFLOP/s; "
            f"{len(result['kernels_ms'])} kernels alone "
            f"{sum(result['kernels_ms'].values()):.2f} ms."
            for result in record["models"]
        ),
        "",
        "| model (flagfile, batch) | path | ms/step | × TF1 feed_dict | × FLOP bound "
        "| × kernel floor | last loss |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in record["models"]:
        label = f"{result['model']} ({result['flagfile']}, {result['batch_size']})"
        for row in result["rows"]:
            loss = "" if row["last_loss"] is None else f"{row['last_loss']:.4g}"
            lines.append(
                f"| {label} | {row['path']} | {row['ms_per_step']:.2f} | "
                f"{row['vs_tf1_feed_dict']:.2f} | {row['vs_flop_bound']:.2f} | "
                f"{row['vs_kernel_floor']:.2f} | {loss} |"
            )
            label = ""
    lines.append("")
    for target in record["targets"]:
        lines.append(
            f"{target['model']}: {target['target']}: {target['ratio']:.2f} "
            f"({'met' if target['met'] else 'not met'})"
        )
    return "\n".join(lines)


def full_size_stand_in(dataset: mnist_data.Dataset, train_size: int) -> mnist_data.Dataset:
    """`dataset` with its training digits repeated to `train_size` rows.

    Offline there is no 60,000-digit training split; a step's time and the
    memory of the paths that hold the whole set in the graph depend on how
    many rows there are, not on what they hold, so the embedded digits
    repeated stand in for full MNIST's size.
    """
    repeats = -(-train_size // dataset.train_size)
    return dataclasses.replace(
        dataset,
        source=f"{dataset.source}, training digits repeated to {train_size:,}",
        train_images=np.tile(dataset.train_images, (repeats, 1))[:train_size],
        train_labels=np.tile(dataset.train_labels, repeats)[:train_size],
    )


def _memory_megabytes() -> dict[str, float]:
    """{"rss", "peak"}: this process's resident set now and its high-water
    mark (VmRSS, VmHWM of /proc/self/status), in MB."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {
        name: int(fields[key].split()[0]) / 1024
        for name, key in (("rss", "VmRSS"), ("peak", "VmHWM"))
    }


def _reset_peak_memory() -> None:
    """Sets VmHWM back to the current VmRSS (Linux 4.0+: "5" into
    /proc/self/clear_refs), so the next reading is the peak of what follows."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure_cell(
    config: config_lib.TrainConfig, dataset: mnist_data.Dataset, path: str, steps: int, repeats: int
) -> dict[str, float]:
    """One path alone on config and dataset: its median ms/step over
    `repeats` repeats of `steps` steps after a warm-up, and the process's
    peak resident memory from building the path to its last step.

    Returns:
      {"ms_per_step", "peak_mb" (the whole process's, TensorFlow's runtime
       included), "growth_mb" (that peak less the resident memory just
       before the path was built)}.
    """
    workload = make_workload(config, dataset, (repeats + 1) * steps)
    _reset_peak_memory()
    before = _memory_megabytes()["rss"]
    seconds = time_paths(workload, [path], steps, repeats)[path]["seconds"]
    peak = _memory_megabytes()["peak"]
    return {
        "ms_per_step": 1000 * statistics.median(seconds) / steps,
        "peak_mb": peak,
        "growth_mb": peak - before,
    }


def scaling(
    models: Sequence[str],
    datasets: Sequence[mnist_data.Dataset],
    batch_sizes: Sequence[int],
    steps: int,
    repeats: int,
    steps_per_call: Optional[int] = None,
) -> list[dict[str, Any]]:
    """Every SCALING_PATHS path of each model's preset, at each batch size,
    on each dataset, one path at a time (measure_cell).

    Returns:
      [{"model", "train_size", "dataset", "batch_size", "cells": {path:
       measure_cell's dict}, "fastest": the path of least ms/step}].
    """
    overrides = {"steps_per_call": steps_per_call} if steps_per_call else {}
    rows = []
    for model, dataset, batch_size in itertools.product(models, datasets, batch_sizes):
        config = flagfiles.load(FLAGFILES[model], batch_size=batch_size, **overrides)
        logging.info("Scaling: %s, %d digits, batch %d", model, dataset.train_size, batch_size)
        cells = {path: measure_cell(config, dataset, path, steps, repeats) for path in SCALING_PATHS}
        rows.append({
            "model": model,
            "train_size": dataset.train_size,
            "dataset": dataset.source,
            "batch_size": batch_size,
            "cells": cells,
            "fastest": min(cells, key=lambda path: cells[path]["ms_per_step"]),
        })
    return rows


def format_scaling(rows: Sequence[dict[str, Any]]) -> str:
    """scaling()'s rows as a Markdown table: ms/step, then the peak
    resident MB of the process and, in brackets, its growth over the
    memory held before the path was built."""

    def cell(measured: dict[str, float]) -> str:
        return (f"{measured['ms_per_step']:.2f} ms, {measured['peak_mb']:.0f} MB "
                f"({measured['growth_mb']:+.0f})")

    lines = [
        "| model | training digits | batch | tf1_feed_dict | tf2_function | fastest path | fastest |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in rows:
        cells = row["cells"]
        lines.append(
            f"| {row['model']} | {row['train_size']:,} | {row['batch_size']} | "
            f"{cell(cells['tf1_feed_dict'])} | {cell(cells['tf2_function'])} | "
            f"{row['fastest']} | {cell(cells[row['fastest']])} |"
        )
    return "\n".join(lines)


def run_benchmark(
    models: Sequence[str],
    dataset: mnist_data.Dataset,
    steps: int,
    repeats: int,
    matmul_size: int,
    batch_size: Optional[int] = None,
    steps_per_call: Optional[int] = None,
) -> dict[str, Any]:
    """Benchmarks `models`, each with its FLAGFILES preset.

    Args:
      models: Names from FLAGFILES.
      dataset: The training data.
      steps: Steps per timed repeat.
      repeats: Timed repeats after the warm-up.
      matmul_size: Side of the matrices that measure the matmul throughput.
      batch_size: Replaces every preset's batch size, if given.
      steps_per_call: Replaces every preset's steps_per_call (the
        tf2_function path's), if given.

    Returns:
      The JSON record: the run's settings, "machine", "models"
      (benchmark_model results) and "targets" (target_ratios).
    """
    unknown = [model for model in models if model not in FLAGFILES]
    if unknown:
        raise errors.FixableError(f"No preset for {unknown}; expected models from {', '.join(FLAGFILES)}.")
    load_before = os.getloadavg()
    overrides = {
        name: value
        for name, value in (("batch_size", batch_size), ("steps_per_call", steps_per_call))
        if value
    }
    results = []
    for model in models:
        config = flagfiles.load(FLAGFILES[model], **overrides)
        logging.info("Benchmarking %s (flags/%s.cfg)", model, FLAGFILES[model])
        results.append(benchmark_model(config, dataset, steps, repeats, matmul_size))
    return {
        "command": " ".join(sys.argv),
        "tensorflow": tf.__version__,
        "dataset": dataset.describe(),
        "steps_per_repeat": steps,
        "repeats": repeats,
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "matmul_size": matmul_size,
        "models": results,
        "targets": target_ratios(results),
    }


def _shared_flag(name: str) -> Any:
    """flags.definitions' --name if given on the command line, else None."""
    flag = absl_flags.FLAGS[name]
    return flag.value if flag.present else None


def _full_size_dataset(embedded: mnist_data.Dataset) -> mnist_data.Dataset:
    """The scaling table's full-size set: --dataset (from --data_dir or
    Keras' loader) if given, else the embedded digits repeated to 60,000."""
    name = _shared_flag("dataset")
    if name and name != "mnist_embedded":
        return mnist_data.load_dataset(name, _shared_flag("data_dir"))
    return full_size_stand_in(embedded, FULL_TRAIN_SIZE)


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    with reporting.exit_with_message_on(*definitions.EXPECTED_ERRORS):
        embedded = mnist_data.load_dataset("mnist_embedded")
        steps_per_call = _shared_flag("steps_per_call")
        record = run_benchmark(
            bench_flags.MODELS.value,
            embedded,
            bench_flags.STEPS.value,
            bench_flags.REPEATS.value,
            bench_flags.MATMUL_SIZE.value,
            batch_size=_shared_flag("batch_size"),
            steps_per_call=steps_per_call,
        )
        print(format_table(record))
        if bench_flags.SCALING.value:
            load_before = os.getloadavg()
            record["scaling"] = scaling(
                bench_flags.MODELS.value,
                [embedded, _full_size_dataset(embedded)],
                [int(value) for value in bench_flags.SCALING_BATCH_SIZES.value],
                bench_flags.SCALING_STEPS.value,
                bench_flags.SCALING_REPEATS.value,
                steps_per_call=steps_per_call,
            )
            print(f"\nScaling: median of {bench_flags.SCALING_REPEATS.value} repeats of "
                  f"{bench_flags.SCALING_STEPS.value} steps per cell; load average "
                  f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after.\n")
            print(format_scaling(record["scaling"]))
    if definitions.JSON_PATH.value:
        reporting.write_json(definitions.JSON_PATH.value, record)


if __name__ == "__main__":
    app.run(main)
