"""No output is lost or written over, and every expected failure is one line.

The outputs (the converter's OUT, SavedModel exports, --json, --plots_dir
figures) are written through a temporary name and a rename, refuse an
existing target unless told, and are checked before training starts. Full
disks are simulated by making the rename raise ENOSPC; a read-only
directory by making os.access deny it, since the suite may run as root.
"""

import errno
import os
import re
import subprocess

from absl.testing import flagsaver
import numpy as np
import pytest
import tensorflow as tf

import mnist_data
from compat_tests import check
from compat_tests import parity
from compat_tests import tiny_configs
from mnist_data import checks
from runtime import figures
from runtime import reporting
from tf1_graph import export as tf1_export
from tf1_graph import train as tf1_train
from tf2_eager import checkpoints as tf2_checkpoints
from tf2_eager import convert_checkpoint
from tf2_eager import distributed
from tf2_eager import export as tf2_export
from tf2_eager import train as tf2_train

SOFTMAX = tiny_configs.CONFIGS["softmax_regression"]
PLANTED = "compat_tests.planted_bugs"


def _full_disk(monkeypatch):
    """Makes every rename into place fail as a full disk does."""

    def no_space(*unused_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)


def _listing(directory) -> list[str]:
    return sorted(os.listdir(directory))


# --- The targets, checked before training. ---------------------------------


@pytest.mark.parametrize("target, expected", [
    ({"json_path": "DIR"}, r"--json=.* is a directory; --json names the file"),
    ({"plots_dir": "FILE"}, r"--plots_dir=.* is a file; --plots_dir names a directory"),
    ({"export_dir": "FULL"}, r"--export_dir=.* already exists and is not empty"),
    ({"export_dir": "FILE"}, r"--export_dir=.* is a file"),
    ({"json_path": "FILE/metrics.json"}, r"is a file, not a directory; pass another --json"),
])
def test_output_targets_are_refused_before_training(tmp_path, target, expected):
    (tmp_path / "DIR").mkdir()
    (tmp_path / "FULL").mkdir()
    (tmp_path / "FULL" / "saved_model.pb").write_text("an earlier export")
    (tmp_path / "FILE").write_text("a file")
    paths = {key: str(tmp_path / value) for key, value in target.items()}
    with pytest.raises(reporting.OutputError, match=expected):
        reporting.check_output_targets(**paths)


def test_a_read_only_parent_is_named_before_training(tmp_path, monkeypatch):
    read_only = str(tmp_path / "read_only")
    os.mkdir(read_only)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: path != read_only and real_access(path, mode))
    for arguments, flag in (({"json_path": f"{read_only}/m.json"}, "--json"),
                            ({"export_dir": f"{read_only}/model"}, "--export_dir"),
                            ({"plots_dir": read_only}, "--plots_dir")):
        with pytest.raises(reporting.OutputError, match=f"not writable; make it writable or pass another {flag}"):
            reporting.check_output_targets(**arguments)


def test_fresh_targets_and_an_empty_export_dir_pass(tmp_path):
    (tmp_path / "empty").mkdir()
    reporting.check_output_targets(str(tmp_path / "new" / "m.json"), str(tmp_path / "plots"),
                                   str(tmp_path / "empty"))


@pytest.mark.parametrize("main", [tf1_train.main, distributed.main], ids=["tf1_graph", "tf2_eager"])
@pytest.mark.parametrize("flag_values, expected", [
    ({"json": "DIR"}, "is a directory; --json names the file"),
    ({"plots_dir": "FILE"}, "is a file; --plots_dir names a directory"),
    ({"export_dir": "FULL"}, "already exists and is not empty"),
    ({"device": "/GPU:7"}, "--device=/GPU:7 names no device of this machine; it has /CPU:0"),
    ({"model": "mlp", "hidden_sizes": ["1000000000"]},
     r"--hidden_sizes=1000000000 makes 795,000,000,010 parameters: .* GiB of memory is available"),
    ({"model": "convnet", "conv_kernels": ["1000", "1", "1"], "conv_strides": ["1", "1", "1"]},
     "Conv layer 1 takes a 28x28 input, so its kernel and stride must be at most 28"),
])
def test_each_side_refuses_before_it_trains(tmp_path, main, flag_values, expected, capsys):
    (tmp_path / "DIR").mkdir()
    (tmp_path / "FULL").mkdir()
    (tmp_path / "FULL" / "keep.txt").write_text("the user's file")
    (tmp_path / "FILE").write_text("a file")
    directories = ("json", "plots_dir", "export_dir")
    values = {name: str(tmp_path / value) if name in directories else value
              for name, value in flag_values.items()}
    with flagsaver.flagsaver(steps=1, eval_at=[], **values):
        with pytest.raises(SystemExit) as raised:
            main(["train"])
    assert str(raised.value).startswith("error: ")
    assert len(str(raised.value).splitlines()) == 1
    assert re.search(expected, str(raised.value)), raised.value
    # Refused before the first step: no summary line was printed.
    assert "test accuracy" not in capsys.readouterr().out
    assert (tmp_path / "FULL" / "keep.txt").read_text() == "the user's file"


# --- JSON and figures: a temporary file and a rename. -----------------------


def test_a_full_disk_keeps_the_previous_json_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    reporting.write_json(str(path), {"run": 1})
    _full_disk(monkeypatch)
    with pytest.raises(reporting.OutputError, match=r"No space left on device; free space on that "
                       r"filesystem or pass another --json"):
        reporting.write_json(str(path), {"run": 2})
    assert path.read_text() == '{\n  "run": 1\n}\n'
    assert _listing(tmp_path) == ["metrics.json"]


def test_finish_run_reports_a_full_disk_in_one_line_after_the_summary(tmp_path, monkeypatch, capsys):
    metrics = reporting.run_metrics(
        side="tf2_eager", model="softmax_regression", dataset={"name": "x"},
        accuracy_trace={1: 0.5}, loss_trace=[1.0], seconds=0.1, checkpoint=None, weights={})
    _full_disk(monkeypatch)
    with pytest.raises(SystemExit) as raised:
        reporting.finish_run(metrics, str(tmp_path / "m.json"))
    assert str(raised.value).startswith("error: Cannot write the metrics JSON")
    assert "test accuracy 50.00% after 1 steps" in capsys.readouterr().out
    assert _listing(tmp_path) == []


def test_a_full_disk_keeps_the_previous_figure(tmp_path, monkeypatch):
    metrics = {"side": "tf1_graph", "model": "m", "loss_trace": [2.0, 1.0],
               "accuracy_trace": {0: 0.1, 2: 0.5}}
    [path] = figures.write_parity_figures(str(tmp_path), metrics, {**metrics, "side": "tf2_eager"})
    before = open(path, "rb").read()
    _full_disk(monkeypatch)
    with pytest.raises(reporting.OutputError, match="No space left on device.*--plots_dir"):
        figures.write_parity_figures(str(tmp_path), metrics, {**metrics, "side": "tf2_eager"})
    assert open(path, "rb").read() == before
    assert _listing(tmp_path) == ["parity.png"]


# --- SavedModel exports: refused over another, renamed into place. ---------


def test_tf2_export_refuses_a_non_empty_dir_and_survives_a_full_disk(tmp_path, monkeypatch):
    model = tf2_train.MODELS["softmax_regression"].create(SOFTMAX.model_config, SOFTMAX.seed)
    export_dir = tmp_path / "model"
    export_dir.mkdir()  # An empty directory is accepted, and replaced.
    tf2_export.export_saved_model(model, str(export_dir))
    assert "saved_model.pb" in _listing(export_dir)
    with pytest.raises(reporting.OutputError, match="already exists and is not empty"):
        tf2_export.export_saved_model(model, str(export_dir))
    _full_disk(monkeypatch)
    with pytest.raises(reporting.OutputError, match="No space left on device"):
        tf2_export.export_saved_model(model, str(tmp_path / "second"))
    assert _listing(tmp_path) == ["model"]


def test_tf1_export_refuses_a_non_empty_dir_before_building(tmp_path):
    (tmp_path / "keep.txt").write_text("the user's file")
    with pytest.raises(reporting.OutputError, match="already exists and is not empty"):
        tf1_export.export_saved_model(None, SOFTMAX.model_config, {}, str(tmp_path))
    assert _listing(tmp_path) == ["keep.txt"]


# --- The converter: never in place, never over a checkpoint unasked. ------


@pytest.fixture
def tf1_checkpoint(tmp_path):
    softmax = tf2_train.MODELS["softmax_regression"].create(SOFTMAX.model_config, SOFTMAX.seed)
    return tf2_checkpoints.write(softmax, str(tmp_path / "in" / "model.ckpt"), "tf1")


def _convert(in_path, out_path, **flag_values):
    with flagsaver.flagsaver(**{"from": "tf1", "model": "softmax_regression", **flag_values}):
        convert_checkpoint.main(["convert_checkpoint", in_path, out_path])


def _files(prefix) -> dict[str, bytes]:
    return {name: open(name, "rb").read() for name in tf2_checkpoints.checkpoint_files(prefix)}


def test_convert_refuses_out_equal_to_in_even_with_overwrite(tf1_checkpoint):
    original = _files(tf1_checkpoint)
    for flag_values in ({}, {"overwrite": True}):
        with pytest.raises(SystemExit, match="is the checkpoint IN; converting in place would destroy"):
            _convert(tf1_checkpoint, tf1_checkpoint, **flag_values)
        with pytest.raises(SystemExit, match="is the checkpoint IN"):
            _convert(os.path.dirname(tf1_checkpoint), tf1_checkpoint, **flag_values)
    assert _files(tf1_checkpoint) == original


def test_convert_replaces_an_existing_out_only_with_overwrite(tf1_checkpoint, tmp_path, capsys):
    out = str(tmp_path / "tf2" / "ckpt")
    _convert(tf1_checkpoint, out)
    first = _files(out)
    with pytest.raises(SystemExit, match=r"already holds a checkpoint .*; pass --overwrite"):
        _convert(tf1_checkpoint, out)
    assert _files(out) == first
    _convert(tf1_checkpoint, out, overwrite=True)
    assert sorted(_files(out)) == sorted(first)
    assert _listing(tmp_path / "tf2") == ["ckpt.data-00000-of-00001", "ckpt.index"]
    assert "to the tf2 checkpoint" in capsys.readouterr().out


def test_convert_keeps_the_old_out_when_the_disk_is_full(tf1_checkpoint, tmp_path, monkeypatch):
    out = str(tmp_path / "tf2" / "ckpt")
    _convert(tf1_checkpoint, out)
    first = _files(out)
    _full_disk(monkeypatch)
    with pytest.raises(SystemExit, match="Cannot write the converted checkpoint .*No space left"):
        _convert(tf1_checkpoint, out, overwrite=True)
    assert _files(out) == first
    assert _listing(tmp_path / "tf2") == ["ckpt.data-00000-of-00001", "ckpt.index"]


@pytest.mark.parametrize("damage", ["truncated data", "corrupt index"])
def test_convert_names_a_damaged_checkpoint_in_one_line(tf1_checkpoint, tmp_path, damage):
    if damage == "truncated data":
        [data] = [name for name in _files(tf1_checkpoint) if ".data-" in name]
        with open(data, "r+b") as file:
            file.truncate(100)
    else:
        with open(tf1_checkpoint + ".index", "wb") as file:
            file.write(np.random.default_rng(0).bytes(2000))
    with pytest.raises(SystemExit) as raised:
        _convert(tf1_checkpoint, str(tmp_path / "out" / "ckpt"))
    message = str(raised.value)
    assert message.startswith(f"error: Cannot read the checkpoint {tf1_checkpoint}: it is truncated "
                              "or corrupt")
    assert "convert an earlier checkpoint" in message and len(message.splitlines()) == 1
    assert not (tmp_path / "out").exists() or _listing(tmp_path / "out") == []


# --- Sizes and devices. ------------------------------------------------------


@pytest.mark.parametrize("model", ["softmax_regression", "mlp", "deep_mlp", "convnet"])
def test_parameter_count_is_the_models(model):
    config = tiny_configs.CONFIGS[model]
    created = tf2_train.MODELS[model].create(config.model_config, config.seed)
    expected = sum(int(np.prod(v.shape)) for v in created.trainable_variables)
    assert checks.count_parameters(
        model, config.hidden_sizes, config.conv_channels, config.conv_kernels,
        config.conv_strides, config.dense_units) == expected


def test_device_check_takes_tensorflows_spellings():
    available = [device.name for device in tf.config.list_logical_devices()]
    for spelling in ("/CPU:0", "/cpu:0", "/device:CPU:0", "/job:localhost/replica:0/task:0/device:CPU:0"):
        checks.check_device(spelling, available)
    with pytest.raises(ValueError, match="--device=/CPU:3 names no device"):
        checks.check_device("/CPU:3", available)


# --- Non-finite and mistyped data in the check and parity commands. --------


def _npz(tmp_path, images) -> str:
    dataset = mnist_data.load_dataset("mnist_embedded")
    path = str(tmp_path / "data.npz")
    np.savez(path, images=images(dataset.train_images[::16]),
             labels=mnist_data.one_hot(dataset.train_labels[::16]))
    return path


@pytest.mark.parametrize("tf2, images, expected", [
    ("tf2_correct", lambda x: np.full_like(x, np.nan),
     r"The images array of .*data.npz holds 245392 NaN and 0 infinite values of 245392"),
    ("tf2_wrong_learning_rate", lambda x: np.where(x > 0.5, np.inf, x),
     r"holds 0 NaN and \d+ infinite values"),
    ("tf2_correct", lambda x: (x * 255).astype(np.uint8),
     r"are uint8 .* the check takes float32 .*images.astype\(np.float32\) / 255"),
    ("tf2_correct", lambda x: x.astype(np.float64),
     r"are float64 .*convert them first: images.astype\(np.float32\)"),
])
def test_check_command_refuses_bad_images_in_one_line(tmp_path, tf2, images, expected, capsys):
    flag_values = {"tf1": f"{PLANTED}:tf1_gradient_descent", "tf2": f"{PLANTED}:{tf2}",
                   "npz": _npz(tmp_path, images), "steps": 3, "batch_size": 30}
    with flagsaver.flagsaver(**flag_values):
        with pytest.raises(SystemExit) as raised:
            check.main(["check"])
    assert re.search(expected, str(raised.value)), raised.value
    assert len(str(raised.value).splitlines()) == 1
    assert "PASSED" not in capsys.readouterr().out


def test_finite_loss_check_names_the_side_and_step():
    with pytest.raises(checks.NonFiniteLossError, match=r"The TF2 loss became nan at step 2 \(2 of 4"):
        checks.check_finite_losses({"TF1": [1.0, 0.5, 0.25, 0.1], "TF2": [1.0, 0.5, np.nan, np.inf]},
                                   allow_nonfinite=False)
    checks.check_finite_losses({"TF2": [np.nan]}, allow_nonfinite=True)


def test_parity_fails_two_sides_that_both_diverge(capsys):
    flag_values = {"model": "softmax_regression", "steps": 3, "eval_at": [], "batch_size": 20,
                   "learning_rate": 1e39}
    with flagsaver.flagsaver(**flag_values):
        with pytest.raises(SystemExit) as raised:
            parity.main(["parity"])
    assert "loss became" in str(raised.value) and "--allow_nonfinite" in str(raised.value)
    assert "PARITY PASSED" not in capsys.readouterr().out


def test_bridge_refuses_a_strategy_it_would_ignore(tmp_path):
    from compat_tests import bridge

    with flagsaver.flagsaver(output_dir=str(tmp_path), strategy="mirrored"):
        with pytest.raises(SystemExit, match="--strategy=mirrored would be ignored"):
            bridge.main(["bridge"])
    assert _listing(tmp_path) == []


@pytest.fixture
def full_filesystem(tmp_path):
    """A 32 KiB tmpfs, where this process may mount one (root in a
    container that allows it); skipped elsewhere."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(mount_point)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_really_full_filesystem_is_one_line_and_leaves_nothing(full_filesystem, tmp_path):
    mlp = tf2_train.MODELS["mlp"].create(tiny_configs.CONFIGS["mlp"].model_config, 0)  # 50 KB of weights
    with pytest.raises(reporting.OutputError, match=r"Cannot write the SavedModel .*No space left "
                       r"on device; free space on that filesystem or pass another --export_dir"):
        tf2_export.export_saved_model(mlp, str(full_filesystem / "model"))
    tf1_prefix = tf2_checkpoints.write(mlp, str(tmp_path / "in" / "model.ckpt"), "tf1")
    with pytest.raises(reporting.OutputError, match=r"Cannot write the converted checkpoint .*"
                       r"No space left on device; free space"):
        tf2_checkpoints.convert(tiny_configs.CONFIGS["mlp"], tf1_prefix,
                                str(full_filesystem / "ckpt"), "tf1")
    assert _listing(full_filesystem) == []
