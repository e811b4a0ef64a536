"""Tests for the speed benchmark and the two in-graph training loops.

No test asserts a time: the machine is shared, so timings only get printed.
What is tested is that every path trains the same model on the same batches:
the in-graph TF1 input and the multi-step TF2 loop give the losses of the
train scripts' own loops.
"""

import dataclasses
import json

from absl import flags as absl_flags
from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import bench
from compat_tests import flagfiles
from compat_tests import tiny_configs
from flags import bench as bench_flags
from flags import definitions
from tf1_graph import in_graph_input
from tf1_graph import train as tf1_train
from tf2_eager import train as tf2_train

# The losses of two loops over the same batches must agree as in matched mode.
LOSS_RTOL = 1e-6


@pytest.fixture(scope="module")
def dataset() -> mnist_data.Dataset:
    return mnist_data.load_dataset("mnist_embedded")


def _assert_same_losses(actual: np.ndarray, expected: list[float]) -> None:
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    tolerance = LOSS_RTOL * np.maximum(1.0, np.abs(expected))
    assert np.all(np.abs(actual - expected) <= tolerance), np.abs(actual - expected).max()


@pytest.mark.parametrize("model", sorted(tiny_configs.CONFIGS))
@pytest.mark.parametrize(
    "path, reference",
    [("tf1_in_graph", tf1_train.train), ("tf2_multi_step", tf2_train.train)],
    ids=["tf1_in_graph_vs_tf1_graph.train", "tf2_multi_step_vs_tf2_eager.train"],
)
def test_in_graph_loops_give_the_train_scripts_losses(model, path, reference, dataset):
    # 110 steps of 50 cross the epoch boundary at step 100, and two calls of
    # different lengths check that a loop resumes where it stopped.
    config = dataclasses.replace(tiny_configs.CONFIGS[model], steps=110)
    workload = bench.make_workload(config, dataset, config.steps)

    with bench.open_runner(path, workload) as run:
        losses = np.concatenate([run(40), run(70)])

    _assert_same_losses(losses, reference(config, dataset)["loss_trace"])


@pytest.mark.parametrize("model", ["mlp", "convnet"])
def test_tf2_function_at_steps_per_call_gives_the_one_step_loops_losses(model, dataset):
    # Calls of 30 steps: each run() ends with a shorter call (40 = 30 + 10,
    # 70 = 30 + 30 + 10), and the epoch boundary at step 100 falls inside one.
    config = dataclasses.replace(tiny_configs.CONFIGS[model], steps=110, steps_per_call=30)
    workload = bench.make_workload(config, dataset, config.steps)

    with bench.open_runner("tf2_function", workload) as run:
        losses = np.concatenate([run(40), run(70)])

    one_step = dataclasses.replace(config, steps_per_call=1)
    _assert_same_losses(losses, tf2_train.train(one_step, dataset)["loss_trace"])


def test_full_size_stand_in_repeats_the_training_digits_only(dataset):
    stand_in = bench.full_size_stand_in(dataset, 12_345)

    assert stand_in.train_size == 12_345
    np.testing.assert_array_equal(stand_in.train_images[5_000:10_000], dataset.train_images)
    np.testing.assert_array_equal(stand_in.train_labels[10_000:], dataset.train_labels[:2_345])
    assert stand_in.test_images is dataset.test_images
    assert "repeated to 12,345" in stand_in.source


def test_peak_memory_is_reset_to_the_resident_memory():
    hundred_megabytes = np.ones(100 * 2**20 // 8)
    del hundred_megabytes

    peak_before_reset = bench._memory_megabytes()["peak"]
    bench._reset_peak_memory()
    after_reset = bench._memory_megabytes()

    # The freed array no longer counts: the peak starts again from now.
    assert peak_before_reset >= after_reset["rss"] + 90
    assert after_reset["peak"] < peak_before_reset - 90


def test_scaling_times_each_path_and_names_the_fastest(dataset):
    rows = bench.scaling(["softmax_regression"], [dataset], [32, 64], steps=2, repeats=1)

    assert [(row["model"], row["train_size"], row["batch_size"]) for row in rows] == [
        ("softmax_regression", 5_000, 32), ("softmax_regression", 5_000, 64)]
    for row in rows:
        assert list(row["cells"]) == list(bench.SCALING_PATHS)
        times = {path: cell["ms_per_step"] for path, cell in row["cells"].items()}
        assert all(value > 0 for value in times.values())
        assert row["fastest"] == min(times, key=times.get)
        assert all(cell["peak_mb"] >= cell["growth_mb"] for cell in row["cells"].values())
    table = bench.format_scaling(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[2].startswith("| softmax_regression | 5,000 | 32 | ")


def test_scaling_batch_sizes_flag_refuses_a_batch_larger_than_the_embedded_set():
    with pytest.raises(absl_flags.IllegalFlagValueError, match="integers from 1 to 5000"):
        with flagsaver.as_parsed((bench_flags.SCALING_BATCH_SIZES, "32,6000")):
            pass


def test_preloaded_batches_follow_the_schedule_and_let_evaluation_feed_them():
    train_images = np.arange(6 * 784, dtype=np.float32).reshape(6, 784)
    train_labels = np.array([0, 1, 2, 3, 4, 5], np.int64)
    schedule = np.array([[4, 1], [0, 5]], np.int64)
    graph = tf.Graph()
    with graph.as_default():
        inputs = in_graph_input.PreloadedBatches(train_images, train_labels, schedule)
        # The data must never reach a checkpoint nor an optimizer.
        assert tf.compat.v1.global_variables() == []
        assert tf.compat.v1.trainable_variables() == []
    graph.finalize()
    with tf.compat.v1.Session(graph=graph) as session:
        inputs.initialize(session)
        first_images, first_labels = session.run([inputs.images, inputs.labels])
        fed_images, fed_labels = session.run(
            [inputs.images, inputs.labels],
            feed_dict={inputs.images: train_images[:3], inputs.labels: train_labels[:3]},
        )
        second_labels = session.run(inputs.labels)
        with pytest.raises(tf.errors.InvalidArgumentError, match="schedule holds 2 steps"):
            session.run(inputs.labels)

    np.testing.assert_array_equal(first_images, train_images[[4, 1]])
    np.testing.assert_array_equal(first_labels, [4, 1])
    np.testing.assert_array_equal(fed_images, train_images[:3])
    np.testing.assert_array_equal(fed_labels, [0, 1, 2])
    # The fed run did not advance the order: the next batch is row 1.
    np.testing.assert_array_equal(second_labels, [0, 5])


def test_preloaded_batches_refuse_labels_of_other_examples():
    with tf.Graph().as_default(), pytest.raises(ValueError, match="labels of the same examples"):
        in_graph_input.PreloadedBatches(
            np.zeros([6, 784], np.float32), np.zeros([5], np.int64), np.zeros([1, 2], np.int64)
        )


def test_multiply_adds_are_counted_from_the_layer_shapes():
    mlp = flagfiles.load("keras_mlp")
    convnet = flagfiles.load("codelab_3_1_conv_dropout")

    # 784 x 512 and 512 x 10. The step is 3x the forward pass less the
    # first layer's input gradient: 208 MFLOP at batch 128, where the
    # issue's 312 counted that gradient too.
    assert bench.layer_multiply_adds(mlp) == [401_408, 5_120]
    assert bench.step_flops(mlp) == 2 * 128 * (3 * 406_528 - 401_408)
    # Convs 28² x 6² x 1 x 6, 14² x 5² x 6 x 12, 7² x 4² x 12 x 24, then
    # dense 1176 x 200 and 200 x 10.
    assert bench.layer_multiply_adds(convnet) == [169_344, 352_800, 225_792, 235_200, 2_000]


def test_step_kernels_are_each_layers_products_at_its_shapes():
    mlp = flagfiles.load("keras_mlp")
    convnet = flagfiles.load("codelab_3_1_conv_dropout")

    mlp_kernels = {name: {operand: value.shape.as_list() for operand, value in operands.items()}
                   for name, _, operands in bench.step_kernels(mlp)}
    convnet_kernels = [name for name, _, _ in bench.step_kernels(convnet)]

    # The first layer's input is the data, so it has no input gradient.
    assert mlp_kernels == {
        "dense_0 forward": {"a": [128, 784], "b": [784, 512]},
        "dense_0 weight gradient": {"a": [128, 784], "b": [128, 512]},
        "dense_1 forward": {"a": [128, 512], "b": [512, 10]},
        "dense_1 weight gradient": {"a": [128, 512], "b": [128, 10]},
        "dense_1 input gradient": {"a": [128, 10], "b": [512, 10]},
    }
    # Three convolutions and two dense layers: 3 x 5 + 3 - 1 kernels, the
    # convnet's first dense layer taking its input gradient.
    assert len(convnet_kernels) == 14 and "conv_0 input gradient" not in convnet_kernels
    assert "dense_0 input gradient" in convnet_kernels


def test_each_gradient_kernel_gives_the_shape_of_what_it_differentiates():
    # A weight gradient has its layer's weight shape, an input gradient its
    # layer's input shape: the kernels are the backward products of the step.
    kernels = {name: (function, operands)
               for name, function, operands in bench.step_kernels(tiny_configs.CONFIGS["convnet"])}
    for name, (function, operands) in kernels.items():
        layer, kind = name.split(" ", 1)
        forward_operands = list(kernels[f"{layer} forward"][1].values())
        expected = {"forward": None, "weight gradient": forward_operands[1],
                    "input gradient": forward_operands[0]}[kind]
        output = function(**operands)
        if expected is not None:
            assert output.shape == expected.shape, name
    seconds = bench.kernel_seconds(("dense_0 forward", *kernels["dense_0 forward"]), 3, 1)
    assert seconds >= 0.0


def test_kernels_are_timed_in_every_round_beside_the_paths(dataset):
    config = tiny_configs.CONFIGS["mlp"]
    kernels = bench.step_kernels(config)
    workload = bench.make_workload(config, dataset, 3 * 2)

    timings = bench.time_paths(workload, ["tf2_multi_step"], steps=2, repeats=2, kernels=kernels)

    # The warm-up round times the kernels too, but only the two timed
    # rounds are kept, as for the paths.
    floor = timings.pop(bench.KERNEL_FLOOR_ROW)["kernel_seconds"]
    assert list(floor) == [name for name, _, _ in kernels]
    assert all(len(seconds) == 2 * bench.KERNEL_TIMINGS_PER_ROUND for seconds in floor.values())
    assert list(timings) == ["tf2_multi_step"]
    assert len(timings["tf2_multi_step"]["seconds"]) == 2


# The softmax regression's Keras row is the MLP's Sequential with no hidden layer.
@pytest.mark.parametrize("model", ["softmax_regression", "mlp"])
def test_tiny_bench_run_prints_every_row_and_writes_json(model, tmp_path, capsys):
    json_path = tmp_path / "bench.json"
    with flagsaver.flagsaver(
        (bench_flags.MODELS, [model]),
        (bench_flags.STEPS, 3),
        (bench_flags.REPEATS, 1),
        (bench_flags.MATMUL_SIZE, 128),
        (definitions.JSON_PATH, str(json_path)),
    ):
        bench.main(["bench"])

    table = capsys.readouterr().out
    record = json.loads(json_path.read_text())
    (result,) = record["models"]
    rows = {row["path"]: row for row in result["rows"]}
    assert list(rows) == [*bench.PATHS, *bench.BOUND_ROWS]
    for path, row in rows.items():
        assert f"| {path} |" in table
        assert row["ms_per_step"] > 0 and np.isfinite(row["vs_flop_bound"])
    assert rows["tf1_feed_dict"]["vs_tf1_feed_dict"] == 1.0
    assert rows["flop_bound"]["vs_flop_bound"] == 1.0
    assert rows["kernel_floor"]["vs_kernel_floor"] == 1.0
    assert rows["kernel_floor"]["ms_per_step"] == pytest.approx(sum(result["kernels_ms"].values()))
    assert len(rows["tf2_function"]["repeats_ms_per_step"]) == 1
    # Dropout is off in keras_mlp, so every matched path ends on one loss.
    matched = ["tf1_feed_dict", "tf1_in_graph", "tf2_function", "tf2_multi_step", "tf2_eager"]
    np.testing.assert_allclose(
        [rows[path]["last_loss"] for path in matched], rows["tf1_feed_dict"]["last_loss"],
        rtol=LOSS_RTOL,
    )
    # The issues set targets against the bounds and Keras on the MLP only.
    mlp_targets = {
        "fastest path / flop_bound <= 1.5",
        "fastest path / kernel_floor <= 1.3",
        "tf1_feed_dict / keras_fit <= 0.5",
        "tf2_function / keras_fit <= 0.5",
    }
    assert {target["target"] for target in record["targets"]} == {
        "tf2_function / tf1_feed_dict <= 1.0", *(mlp_targets if model == "mlp" else ())}


def test_convnet_has_no_keras_row_and_unknown_paths_are_refused(dataset):
    config = tiny_configs.CONFIGS["convnet"]
    workload = bench.make_workload(config, dataset, 1)

    assert "keras_fit" not in bench.paths_for("convnet")
    with pytest.raises(ValueError, match="expected one of tf1_feed_dict"):
        with bench.open_runner("keras_fit", workload):
            pass


def test_models_flag_refuses_an_unknown_model():
    with pytest.raises(absl_flags.IllegalFlagValueError, match="--models takes comma-separated names"):
        with flagsaver.as_parsed((bench_flags.MODELS, "mlp,resnet")):
            pass
