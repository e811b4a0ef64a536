"""Data-parallel training on both sides equals training on one device.

TF1 towers (in this process: a Session makes its own CPU devices), TF2
MirroredStrategy (in a subprocess: logical CPU devices must be made before
TensorFlow starts, and this pytest process has long started it), the TF1
parameter-server cluster and MultiWorkerMirroredStrategy (real worker
processes on loopback). From the same initial values and batches, a global
batch of B split over N replicas must give the single-device run with batch
B. The replicas sum their gradients in another order, so "give" means no
step's loss and no final variable differs systematically: each gap is judged
against the drift of the single-device run repeated from its initial values
and training images moved one ulp (compat_tests/training_noise.py).
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess

from absl import flags as absl_flags
from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import flagfiles
from compat_tests import noise
from compat_tests import training_noise
from flags import distribute as distribute_flags
from flags import replication
from runtime import local_cluster
from tf1_graph import classifier as tf1_classifier
from tf1_graph import cluster as tf1_cluster
from tf1_graph import softmax_regression as tf1_softmax
from tf1_graph import towers
from tf1_graph import train as tf1_train
from tf2_eager import distributed
from tf2_eager import train as tf2_train

SUBPROCESS_TIMEOUT_SECONDS = 300
COLLECTIVE_TIMEOUT_SECONDS = 20.0

# Small versions of the shipped experiments: every model, every optimizer
# the documents use, both loss weightings (a batch mean and the notebook's
# batch sum).
TOWER_CASES = {
    "hvass_softmax": flagfiles.load("hvass_softmax", steps=20, eval_at=(0,)),
    "notebook_summed_loss": flagfiles.load("notebook_softmax", steps=20, eval_at=(), learning_rate=0.005),
    "keras_mlp_rmsprop": flagfiles.load("keras_mlp", steps=10, eval_at=(), hidden_sizes=(64,), batch_size=128),
    "five_layers_adam_decay": flagfiles.load("codelab_2_1_five_layers_relu_lrdecay", steps=10, eval_at=()),
    "convnet": flagfiles.load("codelab_3_0_convolutional", steps=3, eval_at=()),
}
MIRRORED_CASE = "five_layers_adam_decay"


@pytest.fixture(scope="module")
def embedded():
    return mnist_data.load_dataset("mnist_embedded")


def assert_same_run(reference: dict, replicated: dict, control: dict, steps: slice = slice(None)) -> None:
    """No step's loss and no final variable of `replicated` is systematically
    off `reference`'s, against the drift of `control`, the reference run
    repeated from perturbed initial values and images."""
    judgements = training_noise.judge_runs(reference, replicated, [control], steps)
    assert noise.verdict_of(judgements) != noise.SYSTEMATIC, training_noise.describe_worst(judgements)


@pytest.fixture(scope="module")
def small_test_split(embedded):
    """The embedded data with 1,000 test digits: the final evaluation of the
    convnet on all 10,000 would take longer than its training."""
    return dataclasses.replace(embedded, test_images=embedded.test_images[:1000],
                               test_labels=embedded.test_labels[:1000])


@pytest.mark.cross_kernel
@pytest.mark.parametrize("case", TOWER_CASES)
def test_tf1_towers_on_two_devices_equal_one_device(case, small_test_split):
    config = TOWER_CASES[case]
    single = tf1_train.train(config, small_test_split)
    control = tf1_train.train(
        training_noise.perturbed(config), training_noise.perturbed_dataset(small_test_split))
    replicated = towers.train(config, small_test_split, num_towers=2)
    assert_same_run(single, replicated, control)
    assert replicated["accuracy_trace"].keys() == single["accuracy_trace"].keys()


@pytest.mark.cross_kernel
def test_replica_gradients_summed_instead_of_averaged_would_be_systematic(small_test_split):
    # Under plain gradient descent, two replicas' gradients summed instead
    # of averaged are the one-device run with twice the learning rate.
    config = TOWER_CASES["hvass_softmax"]
    assert config.optimizer == "gradient_descent"
    single = tf1_train.train(config, small_test_split)
    control = tf1_train.train(
        training_noise.perturbed(config), training_noise.perturbed_dataset(small_test_split))
    summed = tf1_train.train(
        dataclasses.replace(config, learning_rate=2 * config.learning_rate), small_test_split)
    judgements = training_noise.judge_runs(single, summed, [control])
    assert noise.verdict_of(judgements) == noise.SYSTEMATIC
    assert judgements["loss at step 0"].verdict == noise.IDENTICAL  # Before any update.
    assert judgements["loss at step 1"].systematic, judgements["loss at step 1"].describe()


def test_towers_run_on_their_own_devices_and_share_one_set_of_variables():
    config = TOWER_CASES["hvass_softmax"]
    devices, session_config = towers.tower_devices(3)
    graph = tf.Graph()
    with graph.as_default():
        images, labels = tf1_classifier.placeholder_inputs(config.integer_labels)
        towers.build(tf1_softmax.inference, images, labels, config, devices)
        matmul_devices = sorted(
            op.device for op in graph.get_operations() if op.type == "MatMul" and "gradients" not in op.name
        )
        variables = [v.op.name for v in tf.compat.v1.trainable_variables()]
    with tf.compat.v1.Session(graph=graph, config=session_config) as session:
        listed = {device.name.rsplit("/", 1)[-1].lower() for device in session.list_devices()}
    assert {"device:cpu:0", "device:cpu:1", "device:cpu:2"} <= listed
    assert [device.lower().rsplit("/", 1)[-1] for device in matmul_devices] == ["device:cpu:0", "device:cpu:1", "device:cpu:2"]
    assert variables == ["softmax_regression/weights", "softmax_regression/biases"]


@pytest.fixture(scope="module")
def mirrored_run(tmp_path_factory):
    """MirroredStrategy over 2 logical CPUs, run by the module's own command
    in a fresh process (bounded by a timeout; subprocess.run kills it on
    expiry)."""
    config = TOWER_CASES[MIRRORED_CASE]
    work_dir = tmp_path_factory.mktemp("mirrored")
    config_path = work_dir / "config.json"
    config_path.write_text(replication.config_to_json(config))
    result = work_dir / "metrics.npz"
    completed = subprocess.run(
        local_cluster.python_module_argv(
            "tf2_eager.distributed", "--strategy=mirrored", "--num_replicas=2",
            f"--worker_config={config_path}", f"--metrics_npz={result}",
        ),
        env=local_cluster.child_environment(), capture_output=True, text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Using MirroredStrategy with devices" in completed.stderr
    assert "CPU:1" in completed.stderr
    return config, local_cluster.load_metrics(str(result))


@pytest.mark.cross_kernel
def test_tf2_mirrored_strategy_on_two_devices_equals_one_device(mirrored_run, embedded):
    config, mirrored = mirrored_run
    control = tf2_train.train(
        training_noise.perturbed(config), training_noise.perturbed_dataset(embedded))
    assert_same_run(tf2_train.train(config, embedded), mirrored, control)


@pytest.mark.cross_kernel
def test_tf1_towers_equal_tf2_mirrored_strategy(mirrored_run, embedded):
    config, mirrored = mirrored_run
    control = towers.train(
        training_noise.perturbed(config), training_noise.perturbed_dataset(embedded), num_towers=2)
    assert_same_run(towers.train(config, embedded, num_towers=2), mirrored, control)


def test_mirrored_strategy_says_how_to_get_devices_once_tensorflow_has_started(embedded):
    # Listing devices starts the runtime, after which the CPU cannot be split.
    available = len(tf.config.list_logical_devices("CPU"))
    config = TOWER_CASES["hvass_softmax"]
    with pytest.raises(ValueError, match=rf"{available + 1} replicas need {available + 1} devices.*fresh process"):
        distributed.train_mirrored(dataclasses.replace(config, batch_size=100 * (available + 1)), embedded, available + 1)


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda config, data: towers.train(config, data, 3), id="towers"),
        pytest.param(lambda config, data: distributed.train_mirrored(config, data, 3), id="mirrored"),
        pytest.param(lambda config, data: distributed.train_multi_worker(config, 3), id="multi_worker"),
    ],
)
def test_a_batch_that_does_not_divide_is_refused_before_training(run, embedded):
    with pytest.raises(ValueError, match="global batch of 100 examples does not divide evenly over 3 replicas"):
        run(TOWER_CASES["hvass_softmax"], embedded)


def test_replicated_runs_refuse_tensorflow_randomness(embedded):
    config = dataclasses.replace(TOWER_CASES["hvass_softmax"], rng="tensorflow")
    with pytest.raises(ValueError, match="--rng=numpy"):
        towers.train(config, embedded, 2)
    with pytest.raises(ValueError, match="--rng=numpy"):
        tf1_cluster.train(config, 2)


def test_a_worker_whose_port_is_taken_stops_before_training(embedded, monkeypatch):
    with socket.socket() as taken:
        taken.bind((local_cluster.LOOPBACK, 0))
        taken.listen()
        address = f"{local_cluster.LOOPBACK}:{taken.getsockname()[1]}"
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": {"worker": [address, "127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
        ))
        with pytest.raises(ValueError, match=f"Port {address} of worker 0 is in use"):
            distributed.run_worker(TOWER_CASES["hvass_softmax"], embedded, COLLECTIVE_TIMEOUT_SECONDS)


def _parse(*arguments: str) -> None:
    absl_flags.FLAGS.unparse_flags()
    absl_flags.FLAGS(["prog", *arguments])


def test_flags_refuse_a_batch_that_does_not_divide_and_replicas_without_strategy():
    with flagsaver.flagsaver():
        with pytest.raises(absl_flags.IllegalFlagValueError, match="multiple of --num_replicas"):
            _parse("--strategy=mirrored", "--batch_size=100", "--num_replicas=3")
        with pytest.raises(absl_flags.IllegalFlagValueError, match="--strategy=none runs on one device"):
            _parse("--num_replicas=2")
        _parse("--strategy=multi_worker", "--batch_size=100", "--num_replicas=4")
        assert distribute_flags.NUM_REPLICAS.value == 4


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory):
    """Two MultiWorkerMirroredStrategy workers checkpoint every 10 steps;
    worker 1 is killed mid-run; then the same run resumes (--resume) from
    the last checkpoint to 20 steps beyond it, with --quiet, --export_dir
    and --plots_dir."""
    output_dir = tmp_path_factory.mktemp("multi_worker_checkpoints")
    work_dir = tmp_path_factory.mktemp("multi_worker_killed")
    # Far more steps than the run will reach before the kill.
    config = dataclasses.replace(TOWER_CASES["hvass_softmax"], steps=100_000, output_dir=str(output_dir),
                                 checkpoint_every=10)
    with local_cluster.LocalProcesses(prefix="multi_worker_killed_") as processes:
        distributed.start_local_workers(processes, config, 2, COLLECTIVE_TIMEOUT_SECONDS)
        processes.wait_for_log("worker_0", "Saved checkpoint", SUBPROCESS_TIMEOUT_SECONDS)
        os.killpg(processes.pid("worker_1"), signal.SIGKILL)
        with pytest.raises(local_cluster.WorkerFailedError) as failure:
            processes.wait(SUBPROCESS_TIMEOUT_SECONDS, grace_seconds=COLLECTIVE_TIMEOUT_SECONDS + 30)
        survivor_log = processes.log("worker_0")
        pids = [processes.pid(name) for name in ("worker_0", "worker_1")]
    # The workers' logs and worker 1's checkpoints were in it.
    assert not os.path.exists(processes.directory)
    checkpoint_step = int(tf.train.latest_checkpoint(str(output_dir / "tf2_eager")).rsplit("-", 1)[1])
    resumed_config = dataclasses.replace(config, steps=checkpoint_step + 20, resume=True, quiet=True,
                                         export_dir=str(work_dir / "export"))
    resumed = distributed.train_multi_worker(
        resumed_config, 2, COLLECTIVE_TIMEOUT_SECONDS, run_timeout=SUBPROCESS_TIMEOUT_SECONDS,
        plots_dir=str(work_dir / "plots"),
    )
    return str(failure.value), survivor_log, pids, checkpoint_step, resumed_config, resumed, work_dir


def test_a_killed_worker_stops_the_other_with_a_clear_error(killed_then_resumed):
    message, survivor_log, pids, _, _, _, _ = killed_then_resumed
    # Worker 0 stopped by itself (exit code 1, not killed after the grace
    # period) with the error that names the failed all-reduce.
    assert "'worker_0': 1" in message and "'worker_1': -9" in message
    assert "worker 0 stopped: an all-reduce with the other workers failed" in survivor_log
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # Reaped: the process id no longer exists.


def test_multi_worker_resumes_and_every_worker_ends_with_the_single_process_weights(
    killed_then_resumed, embedded
):
    _, _, _, checkpoint_step, config, resumed, _ = killed_then_resumed
    single_config = dataclasses.replace(config, output_dir=None, checkpoint_every=0, resume=False,
                                        quiet=False, export_dir=None)
    single = tf2_train.train(single_config, embedded)
    control = tf2_train.train(
        training_noise.perturbed(single_config), training_noise.perturbed_dataset(embedded))
    assert len(resumed) == 2
    for worker in resumed:
        # The resumed run reports every step, those before its checkpoint
        # from the run state the killed run wrote with it.
        assert len(worker["loss_trace"]) == checkpoint_step + 20
        assert_same_run(single, worker, control)
    for name, value in resumed[0]["weights"].items():
        np.testing.assert_array_equal(resumed[1]["weights"][name], value)
    assert resumed[0]["checkpoint"] and resumed[1]["checkpoint"] is None


def test_multi_worker_chief_alone_keeps_checkpoints_summaries_figures_and_export(killed_then_resumed):
    _, _, _, _, config, _, work_dir = killed_then_resumed
    run_files = os.listdir(os.path.join(config.output_dir, "tf2_eager"))
    assert f"ckpt-{config.steps}.index" in run_files and f"run_state-{config.steps}.json" in run_files
    assert any(name.startswith("events.out.tfevents") for name in run_files)
    # The other worker's checkpoints went to a temporary directory, now gone.
    assert not [name for name in run_files if "worker" in name]
    assert sorted(os.listdir(work_dir / "plots")) == [
        f"tf2_eager_{kind}.png" for kind in ("confusion_matrix", "curves", "digits", "errors", "weights")]
    assert (work_dir / "export" / "saved_model.pb").exists()


def test_tf1_parameter_server_cluster_finishes_and_learns(embedded):
    config = dataclasses.replace(TOWER_CASES["hvass_softmax"], steps=60)
    chief, other = tf1_cluster.train(config, num_workers=2, timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS,
                                     run_timeout=SUBPROCESS_TIMEOUT_SECONDS)
    single = tf1_train.train(config, embedded)
    # The workers shared the 60 steps; asynchronous updates interleave in
    # any order, so the result is close to one device's, not equal. The
    # chief's trace is the run's: every step's loss, worker 1's at the odd
    # steps.
    assert len(chief["loss_trace"]) == 60 and len(other["loss_trace"]) == 30
    assert chief["loss_trace"][1::2] == other["loss_trace"]
    assert abs(chief["test_accuracy"] - single["test_accuracy"]) < 0.03
    assert chief["accuracy_trace"][0] == pytest.approx(0.098)
