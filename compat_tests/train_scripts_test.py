"""Both train scripts: a real tiny training, the metrics file, checkpoints,
and the bad inputs the foundation promises clear errors for."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import events
from compat_tests import flagfiles
from flags import config as config_lib
from flags import model_configs
from runtime import reporting
from tf1_graph import classifier as tf1_classifier
from tf1_graph import softmax_regression as tf1_softmax
from tf1_graph import train as tf1_train
from tf2_eager import classifier as tf2_classifier
from tf2_eager import mlp as tf2_mlp
from tf2_eager import optimizers as tf2_optimizers
from tf2_eager import softmax_regression as tf2_softmax
from tf2_eager import train as tf2_train
from tf2_eager import weights as tf2_weights

SIDES = {"tf1_graph": tf1_train, "tf2_eager": tf2_train}
REPOSITORY = os.path.dirname(flagfiles.FLAGFILE_DIR)


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


@pytest.mark.parametrize("side", SIDES)
def test_zero_initialised_model_scores_9_80_percent_before_training(side, embedded):
    config = config_lib.TrainConfig(steps=1, eval_at=(0,))
    metrics = SIDES[side].train(config, embedded)
    # With all-zero logits argmax answers 0, and 980 of the official 10,000
    # test digits are zeros.
    assert metrics["accuracy_trace"][0] == pytest.approx(0.0980, abs=1e-12)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("rng", config_lib.RNG_SOURCES)
def test_tiny_training_learns_and_checkpoints(side, rng, embedded, tmp_path):
    config = flagfiles.load(
        "codelab_softmax", steps=30, eval_at=(0, 30), rng=rng, output_dir=str(tmp_path)
    )
    metrics = SIDES[side].train(config, embedded)
    assert metrics["side"] == side
    assert len(metrics["loss_trace"]) == 30
    assert metrics["accuracy_trace"][30] > metrics["accuracy_trace"][0] + 0.2
    checkpoint_dir = os.path.dirname(metrics["checkpoint"])
    assert checkpoint_dir == str(tmp_path / side)
    assert any(
        name.startswith(os.path.basename(metrics["checkpoint"]))
        for name in os.listdir(checkpoint_dir)
    )


def test_numpy_rng_gives_the_same_run_in_two_separate_scripts(embedded):
    config = flagfiles.load("codelab_softmax", steps=40, eval_at=(0,))
    tf1 = tf1_train.train(config, embedded)
    tf2 = tf2_train.train(config, embedded)
    assert tf1["loss_trace"] == tf2["loss_trace"]
    for name, value in tf1["weights"].items():
        np.testing.assert_array_equal(value, tf2["weights"][name])


@pytest.mark.parametrize("side", SIDES)
def test_script_writes_metrics_json(side, tmp_path):
    json_path = tmp_path / "metrics.json"
    completed = subprocess.run(
        [
            sys.executable, "-m", f"{side}.train",
            f"--flagfile={flagfiles.path('hvass_softmax')}",
            "--steps=20", "--eval_at=0,1,10",
            f"--json={json_path}",
        ],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "test accuracy" in completed.stdout
    assert "mnist_embedded" in completed.stderr  # The data source is logged.
    metrics = json.loads(json_path.read_text())
    assert metrics["model"] == "softmax_regression"
    assert metrics["dataset"]["name"] == "mnist_embedded"
    assert metrics["dataset"]["train_size"] == 5000
    assert metrics["steps"] == 20
    assert set(metrics["accuracy_trace"]) == {"0", "1", "10", "20"}
    assert metrics["accuracy_trace"]["0"] == pytest.approx(0.098)
    assert metrics["test_accuracy"] == metrics["accuracy_trace"]["20"]
    assert metrics["seconds"] > 0


def test_tf1_graph_rejects_unflattened_images_at_build_time():
    with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, 28, 28])
        with pytest.raises(ValueError, match=r"\[batch, 784\].*reshape\(-1, 784\)"):
            tf1_softmax.inference(images, model_configs.SoftmaxRegressionConfig(), keep_prob=None)


def test_tf2_eager_rejects_unflattened_images_at_call_time():
    model = tf2_softmax.SoftmaxRegression()
    with pytest.raises(ValueError, match=r"\[batch, 784\].*reshape\(-1, 784\)"):
        model(np.zeros([5, 28, 28], np.float32))


def test_convnets_take_flat_rows_and_name_the_fix_for_nhwc_images():
    # The convnets reshape [batch, 784] rows to NHWC inside; NHWC images
    # given directly are refused with the flattening to do.
    config = flagfiles.load("codelab_3_0_convolutional")
    with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1])
        with pytest.raises(ValueError, match=r"\[batch, 784\], got \[None, 28, 28, 1\].*reshape"):
            tf1_train.MODELS["convnet"].inference(images, config.model_config, keep_prob=None)
    model = tf2_train.MODELS["convnet"].create(config.model_config, config.seed)
    with pytest.raises(ValueError, match=r"\[batch, 784\], got \[2, 28, 28, 1\].*reshape"):
        model(np.zeros([2, 28, 28, 1], np.float32))


@pytest.mark.parametrize("side", SIDES)
def test_batch_larger_than_the_training_set_is_refused(side, embedded):
    config = config_lib.TrainConfig(batch_size=5001, steps=1)
    with pytest.raises(ValueError, match="larger than the training set"):
        SIDES[side].train(config, embedded)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("steps", 0, "steps must be a positive integer"),
        ("batch_size", -1, "batch_size must be a positive integer"),
        ("model", "resnet", "Unknown model 'resnet'"),
        ("loss", "hinge", "Unknown loss 'hinge'"),
        ("learning_rate", 0.0, "learning_rate must be > 0"),
        ("eval_at", (2000,), r"eval_at steps \[2000\] are outside"),
        ("uniform_biases", True, "needs --model=softmax_regression and --weight_init=uniform"),
        ("model", "linear_regression", None),
    ],
)
def test_config_rejects_bad_values(field, value, message):
    if message is None:  # A valid value: the config is built without error.
        assert getattr(config_lib.TrainConfig(**{field: value}), field) == value
        return
    with pytest.raises(ValueError, match=message):
        config_lib.TrainConfig(**{field: value})


def test_standalone_models_refuse_an_optimizer_their_document_did_not_use():
    with pytest.raises(ValueError, match="--model=logistic_regression trains with "
                                         "gradient_descent or momentum.*--optimizer=adam"):
        config_lib.TrainConfig(model="logistic_regression", optimizer="adam")
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, 500\].*--batch_size=500"):
        tf1_train.EXPERIMENTS["logistic_regression"](
            config_lib.TrainConfig(model="logistic_regression", batch_size=600, steps=1)
        )


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    "flagfile, expected_output",
    [("report_multiply", "X_1 * X_2 = [4.0, 10.0, 18.0]"),
     ("gradient_notebook_linear_regression", "gradient check max |Δ|"),
     ("gradient_notebook_logistic_momentum", "confusion matrix [[16, 1], [0, 52]]")],
)
def test_script_runs_each_standalone_model(side, flagfile, expected_output, tmp_path):
    json_path = tmp_path / "metrics.json"
    completed = subprocess.run(
        [sys.executable, "-m", f"{side}.train", f"--flagfile={flagfiles.path(flagfile)}",
         f"--json={json_path}"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert expected_output in completed.stdout
    metrics = json.loads(json_path.read_text())
    assert metrics["model"] == flagfiles.model_of(flagfile)
    assert metrics["side"] == side
    assert all(metrics["results"].get("checks", {}).values()), metrics["results"]


def test_notebook_softmax_starts_from_uniform_weights_and_biases(embedded):
    config = flagfiles.load("gradient_notebook_softmax_momentum")
    values = config.draw_initial_values({"softmax_regression/weights": [784, 10],
                                         "softmax_regression/biases": [10]})
    for name, value in values.items():
        assert np.abs(value).max() <= 1.0 and np.abs(value).max() > 0.5, name
        assert len(np.unique(value)) == value.size, name  # Drawn, not a constant.
    # TensorFlow's own draws (--rng=tensorflow) on both sides: one step at a
    # vanishing learning rate leaves them as drawn.
    config = dataclasses.replace(config, rng="tensorflow", steps=1, eval_at=(), learning_rate=1e-9)
    for side in SIDES.values():
        biases = side.train(config, embedded)["weights"]["softmax_regression/biases"]
        assert np.abs(biases).max() <= 1.0 + 1e-6 and len(np.unique(biases)) == 10


def test_assign_momentum_takes_the_momentum_optimizers_steps(embedded):
    # The notebook's vel.assign(m * vel - lr * grad); w.assign_add(vel) is
    # MomentumOptimizer's update written by hand: the two TF1 runs agree to
    # float32 rounding, and the assign form agrees exactly between sides.
    config = flagfiles.load("gradient_notebook_softmax_momentum", steps=50, eval_at=())
    optimizer_run = tf1_train.train(config, embedded)
    assign_config = dataclasses.replace(config, optimizer="momentum_assign")
    assign_run = tf1_train.train(assign_config, embedded)
    np.testing.assert_allclose(assign_run["loss_trace"], optimizer_run["loss_trace"], rtol=1e-5)
    assert assign_run["loss_trace"][-1] < assign_run["loss_trace"][0]
    assert tf2_train.train(assign_config, embedded)["loss_trace"] == assign_run["loss_trace"]


@pytest.mark.parametrize("side", SIDES)
def test_naive_loss_divergence_stops_at_its_step_with_the_fix(side, embedded):
    config = flagfiles.load("notebook_softmax", steps=3, eval_at=(), allow_nonfinite=False)
    with pytest.raises(FloatingPointError, match=r"nan at step 1: --loss=naive_sum.*softmax_cross_entropy"):
        SIDES[side].train(config, embedded)


@pytest.mark.parametrize("side", SIDES)
def test_allow_nonfinite_trains_on_and_keeps_the_nan_on_record(side, embedded):
    config = flagfiles.load("notebook_softmax", steps=3, eval_at=(0, 1))
    metrics = SIDES[side].train(config, embedded)
    assert np.isfinite(metrics["loss_trace"][0])
    assert np.isnan(metrics["loss_trace"][1:]).all()
    # The diverged weights are NaN, so every prediction is class 0: 9.80 %.
    assert metrics["test_accuracy"] == pytest.approx(0.098)


@pytest.mark.parametrize("side", SIDES)
def test_script_reports_a_missing_data_dir_in_one_line(side, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", f"{side}.train", "--dataset=mnist",
         f"--data_dir={tmp_path / 'absent'}", "--steps=1"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert "error:" in completed.stderr and "absent" in completed.stderr


def test_numpy_initial_values_honour_bias_init_and_weight_init():
    config = config_lib.TrainConfig(weight_init="glorot_uniform", bias_init=0.1, seed=3)
    values = config.draw_initial_values({"mlp/hidden_0/weights": [784, 512],
                                         "mlp/hidden_0/biases": [512]})
    np.testing.assert_array_equal(values["mlp/hidden_0/biases"], np.full([512], 0.1, np.float32))
    limit = np.sqrt(6.0 / (784 + 512))
    weights = values["mlp/hidden_0/weights"]
    assert np.abs(weights).max() <= limit and np.abs(weights).max() > 0.9 * limit


@pytest.mark.parametrize("weight_init", config_lib.WEIGHT_INITIALIZERS)
def test_every_weight_initializer_is_honoured_by_both_sides_of_softmax(weight_init, embedded):
    config = config_lib.TrainConfig(
        weight_init=weight_init, init_limit=0.05, rng="tensorflow", steps=1, eval_at=(0,)
    )
    limits = {"zeros": 0.0, "truncated_normal": 0.2, "uniform": 0.05,
              "glorot_uniform": np.sqrt(6.0 / (784 + 10))}
    for side in SIDES.values():
        trained = side.train(dataclasses.replace(config, learning_rate=1e-9), embedded)
        weights = trained["weights"]["softmax_regression/weights"]
        # One step at lr 1e-9 leaves the initial values as they were drawn.
        assert np.abs(weights).max() <= limits[weight_init] + 1e-6
        if weight_init != "zeros":
            assert np.abs(weights).max() > 0.8 * limits[weight_init]


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_tf1_semantics_optimizer_state_survives_a_checkpoint(optimizer, embedded, tmp_path):
    config = flagfiles.load("keras_mlp", steps=3, eval_at=(), optimizer=optimizer,
                            output_dir=str(tmp_path))
    metrics = tf2_train.train(config, embedded)
    restored_model = tf2_mlp.create(config.model_config, config.seed)
    restored_optimizer = tf2_optimizers.create(config.optimizer_config)
    # Slots exist only after a first update, so build them before restoring.
    restored_optimizer.apply_gradients(
        [(tf.zeros_like(v), v) for v in restored_model.trainable_variables])
    tf.train.Checkpoint(model=restored_model, optimizer=restored_optimizer).read(
        metrics["checkpoint"]).assert_existing_objects_matched()
    assert int(restored_optimizer.iterations) == 3
    restored = {tf2_weights.variable_name(v): v.numpy() for v in restored_model.trainable_variables}
    assert set(restored) == set(metrics["weights"])
    for name, value in metrics["weights"].items():
        np.testing.assert_array_equal(restored[name], value)


def test_both_sides_decay_the_learning_rate_as_the_codelab_computed_it():
    config = flagfiles.load("codelab_2_1_five_layers_relu_lrdecay")
    steps = [0, 1, 500, 2000, 9999]
    expected = [np.float32(config.optimizer_config.learning_rate_at(step)) for step in steps]
    # TF1: the learning-rate tensor of the training graph, read at each global_step.
    graph = tf.Graph()
    with graph.as_default():
        images, labels = tf1_classifier.placeholder_inputs(config.integer_labels)
        endpoints = tf1_train.MODELS[config.model].build(
            images, labels, config.model_config, config.loss, config.optimizer_config
        )
        global_step = tf.compat.v1.train.get_global_step()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf1_rates = []
            for step in steps:
                global_step.load(step, session)
                tf1_rates.append(session.run(endpoints["learning_rate"]))
    # TF2: the Keras schedule the optimizer calls with its iteration count.
    schedule = tf2_optimizers.create(config.optimizer_config).learning_rate
    tf2_rates = [schedule(tf.constant(step, tf.int64)).numpy() for step in steps]
    np.testing.assert_array_equal(tf1_rates, expected)
    np.testing.assert_array_equal(tf2_rates, expected)
    assert expected[0] == np.float32(0.003) and expected[-1] < np.float32(0.0002)


def test_output_dir_summaries_overlay_and_export_dir_serves_the_same_model(embedded, tmp_path):
    # Both sides write TensorBoard scalars with the same tags into
    # OUTPUT_DIR/SIDE and export a SavedModel; in matched mode the scalars
    # are equal and the two SavedModels answer alike.
    config = flagfiles.load("codelab_2_1_five_layers_relu_lrdecay", steps=20, eval_at=(0, 10),
                            output_dir=str(tmp_path / "out"))
    outputs = {}
    for name, side in SIDES.items():
        metrics = side.train(
            dataclasses.replace(config, export_dir=str(tmp_path / f"export_{name}")), embedded)
        assert metrics["test_predictions"].shape == (embedded.test_size,)
        outputs[name] = tf.saved_model.load(str(tmp_path / f"export_{name}")).signatures[
            "serving_default"](images=tf.constant(embedded.test_images[:500]))
        np.testing.assert_array_equal(
            outputs[name]["classes"].numpy(), metrics["test_predictions"][:500])
    np.testing.assert_array_equal(outputs["tf1_graph"]["classes"], outputs["tf2_eager"]["classes"])
    np.testing.assert_allclose(outputs["tf1_graph"]["probabilities"],
                               outputs["tf2_eager"]["probabilities"], rtol=0, atol=1e-6)
    scalars = {name: events.read_scalars(str(tmp_path / "out" / name)) for name in SIDES}
    assert scalars["tf1_graph"] == scalars["tf2_eager"]
    assert [step for step, _ in scalars["tf1_graph"][reporting.TEST_ACCURACY_TAG]] == [0, 10, 20]
    assert len(scalars["tf1_graph"][reporting.LOSS_TAG]) == 20


def test_scripts_write_figures_and_refuse_them_for_standalone_models(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "tf2_eager.train", f"--flagfile={flagfiles.path('hvass_softmax')}",
         "--steps=20", "--eval_at=0", f"--plots_dir={tmp_path / 'plots'}", "--quiet"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    written = sorted(os.listdir(tmp_path / "plots"))
    assert written == [f"tf2_eager_{kind}.png" for kind in (
        "confusion_matrix", "curves", "digits", "errors", "weights")]
    for name in written:
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "step 20/20" not in completed.stderr  # --quiet: no progress lines.
    refused = subprocess.run(
        [sys.executable, "-m", "tf1_graph.train", "--model=multiply",
         f"--plots_dir={tmp_path / 'other'}"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert refused.returncode != 0
    assert "--plots_dir and --export_dir are for the MNIST classifiers" in refused.stderr
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    "loss, labels_shape, message",
    [("sparse_softmax_cross_entropy", [None, 10], r"class ids of shape \[batch\].*np.argmax"),
     ("softmax_cross_entropy", [None], r"one-hot rows of shape \[batch, 10\].*mnist_data.one_hot")],
)
def test_labels_in_the_wrong_encoding_are_named_with_the_fix(side, loss, labels_shape, message):
    logits_shape = [None, 10]
    if side == "tf1_graph":
        with tf.Graph().as_default():
            labels = tf.compat.v1.placeholder(tf.float32, labels_shape)
            with pytest.raises(ValueError, match=message):
                tf1_classifier.loss(tf.compat.v1.placeholder(tf.float32, logits_shape), labels, loss)
    else:
        labels = tf.zeros([4] + labels_shape[1:])
        with pytest.raises(ValueError, match=message):
            tf2_classifier.loss(tf.zeros([4, 10]), labels, loss)


@pytest.mark.parametrize(
    "field, value, message",
    [("train_images", 255.0, r"pixels scaled to \[0, 1\].*divide 0..255 pixels by 255"),
     ("train_labels", 10, r"class ids in 0..9"),
     ("test_images", np.float64, r"test_images must be float32 \[N, 784\], got float64")],
)
def test_datasets_refuse_unscaled_pixels_bad_ids_and_wrong_dtypes(embedded, field, value, message):
    array = getattr(embedded, field)[:100].copy()
    if isinstance(value, type):
        array = array.astype(value)
    else:
        array[0] = array[0] * 0 + value
    arrays = {name: getattr(embedded, name)[:100] for name in (
        "train_images", "train_labels", "test_images", "test_labels")}
    with pytest.raises(ValueError, match=message):
        mnist_data.Dataset(name="mnist_embedded", source="test", **{**arrays, field: array})


@pytest.mark.parametrize(
    "side, fast_path",
    [("tf1_graph", {"input_pipeline": "in_graph"}), ("tf2_eager", {"steps_per_call": 7})],
)
def test_the_fast_input_paths_train_exactly_as_the_reference_loop(side, fast_path, embedded, tmp_path):
    # The documents' loop (feed_dict; one tf.function call per step) is the
    # reference; each side's faster path must take the same steps, evaluate
    # and checkpoint at the same points and write the same summaries.
    config = flagfiles.load("codelab_2_1_five_layers_relu_lrdecay", steps=30, eval_at=(0, 10, 25),
                            checkpoint_every=20, optimizer="adam", output_dir=str(tmp_path))
    runs = {}
    for name, overrides in (("reference", {}), ("fast", fast_path)):
        runs[name] = SIDES[side].train(dataclasses.replace(
            config, output_dir=str(tmp_path / name), **overrides), embedded)
    assert runs["fast"]["loss_trace"] == runs["reference"]["loss_trace"]
    assert runs["fast"]["accuracy_trace"] == runs["reference"]["accuracy_trace"]
    for key, value in runs["reference"]["weights"].items():
        np.testing.assert_array_equal(runs["fast"]["weights"][key], value)
    scalars = {name: events.read_scalars(str(tmp_path / name / side)) for name in runs}
    assert scalars["fast"] == scalars["reference"]
    assert sorted(name for name in os.listdir(tmp_path / "fast" / side) if name.startswith("run_state")) == [
        "run_state-20.json", "run_state-30.json"]


def test_fast_input_paths_need_the_numpy_batch_schedule():
    for fast_path in ({"input_pipeline": "in_graph"}, {"steps_per_call": 5}):
        with pytest.raises(ValueError, match="--rng=numpy"):
            dataclasses.replace(config_lib.TrainConfig(), rng="tensorflow", **fast_path)
