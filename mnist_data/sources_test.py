"""Tests for mnist_data.sources: every dataset source, one_hot and Dataset."""

import gzip
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import urllib.error

import numpy as np
import pytest

from mnist_data import sources
from mnist_data.idx_test import write_idx_file

REPOSITORY_ROOT = pathlib.Path(sources.__file__).resolve().parent.parent


def _synthetic_split(num_examples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns uint8 images [N, 28, 28] and uint8 labels [N] cycling 0..9."""
    images = np.random.default_rng(seed).integers(
        0, 256, (num_examples, 28, 28), dtype=np.uint8
    )
    labels = (np.arange(num_examples) % 10).astype(np.uint8)
    return images, labels


def _write_idx_directory(
    directory: pathlib.Path, suffixes: tuple[str, ...] = (".gz", "", ".gz", "")
) -> tuple[np.ndarray, ...]:
    """Writes 20 training and 10 test examples under the four classic names.

    The default suffixes mix gzip-compressed and raw files, as both are valid.

    Returns:
      The uint8 arrays written: (train_images, train_labels, test_images,
      test_labels).
    """
    arrays = _synthetic_split(20, seed=1) + _synthetic_split(10, seed=2)
    for file_name, suffix, array in zip(sources.IDX_FILE_NAMES, suffixes, arrays):
        write_idx_file(directory / f"{file_name}{suffix}", array)
    return arrays


def test_mnist_embedded_is_5000_training_and_10000_test_digits():
    dataset = sources.load_dataset("mnist_embedded")

    assert dataset.name == "mnist_embedded"
    assert (dataset.train_size, dataset.test_size) == (5000, 10000)
    np.testing.assert_array_equal(np.bincount(dataset.train_labels), [500] * 10)
    for images in (dataset.train_images, dataset.test_images):
        assert images.dtype == np.float32
        assert images.shape[1] == sources.IMAGE_PIXELS
        assert images.min() == 0.0 and images.max() == 1.0
    for labels in (dataset.train_labels, dataset.test_labels):
        assert labels.dtype == np.int64
    np.testing.assert_array_equal(dataset.test_labels[:5], [7, 2, 1, 0, 4])


@pytest.mark.parametrize(
    "file_name, sha256",
    [
        ("train-5000-images-idx3-ubyte.gz",
         "a4a9358b9ba319305e7cd69b2c7410e463401e152d7e9e60189b94a3f159d012"),
        ("train-5000-labels-idx1-ubyte.gz",
         "704256e87519240fd1d7ecdf681fe209864691e252c6642aeadc21f3c4d44b41"),
        ("t10k-images-idx3-ubyte.gz",
         "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        ("t10k-labels-idx1-ubyte.gz",
         "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ],
)
def test_shipped_files_are_the_ones_their_readme_names(file_name, sha256):
    # The hashes are those mnist_data/data/README.md states; a changed file
    # would change every result the README reports.
    path = os.path.join(os.path.dirname(sources.__file__), "data", file_name)
    with gzip.open(path, "rb") as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == sha256


def test_mnist_embedded_arrays_are_read_only():
    dataset = sources.load_dataset("mnist_embedded")

    with pytest.raises(ValueError, match="read-only"):
        dataset.train_images[0, 0] = 0.5


def test_mnist_embedded_rejects_data_dir(tmp_path):
    with pytest.raises(ValueError, match="Drop --data_dir, or pick --dataset=mnist"):
        sources.load_dataset("mnist_embedded", data_dir=str(tmp_path))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_dataset_reads_idx_directory(tmp_path, name):
    train_images, train_labels, test_images, test_labels = _write_idx_directory(
        tmp_path
    )

    dataset = sources.load_dataset(name, data_dir=str(tmp_path))

    assert dataset.describe() == {
        "name": name,
        "source": f"IDX files in {tmp_path}",
        "train_size": 20,
        "test_size": 10,
    }
    np.testing.assert_array_equal(
        dataset.train_images,
        train_images.reshape(20, 784).astype(np.float32) / np.float32(255),
    )
    np.testing.assert_array_equal(dataset.train_labels, train_labels)
    np.testing.assert_array_equal(
        dataset.test_images,
        test_images.reshape(10, 784).astype(np.float32) / np.float32(255),
    )
    np.testing.assert_array_equal(dataset.test_labels, test_labels)
    assert dataset.train_labels.dtype == np.int64


def test_load_dataset_refuses_two_different_forms_of_one_file(tmp_path):
    _write_idx_directory(tmp_path, suffixes=(".gz",) * 4)
    # A raw file with fewer examples beside the .gz one: which one the user
    # means cannot be guessed.
    write_idx_file(tmp_path / "train-images-idx3-ubyte", _synthetic_split(5, seed=3)[0])

    with pytest.raises(sources.DataFormatError, match=(
            "both train-images-idx3-ubyte.gz and train-images-idx3-ubyte, with different "
            "contents; remove the one")):
        sources.load_dataset("mnist", data_dir=str(tmp_path))


def test_load_dataset_reads_two_identical_forms_of_one_file(tmp_path):
    train_images = _write_idx_directory(tmp_path, suffixes=(".gz",) * 4)[0]
    # The raw file is the .gz file's contents: the same data either way.
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz") as compressed:
        (tmp_path / "train-images-idx3-ubyte").write_bytes(compressed.read())

    dataset = sources.load_dataset("mnist", data_dir=str(tmp_path))

    assert dataset.train_size == 20
    np.testing.assert_array_equal(
        dataset.train_images, train_images.reshape(20, 784).astype(np.float32) / np.float32(255))


def test_load_dataset_lists_expected_files_when_one_is_missing(tmp_path):
    _write_idx_directory(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()

    with pytest.raises(sources.DataFormatError) as raised:
        sources.load_dataset("mnist", data_dir=str(tmp_path))

    message = str(raised.value)
    assert "lacks t10k-images-idx3-ubyte[.gz]" in message
    for file_name in sources.IDX_FILE_NAMES:
        assert f"{file_name}[.gz]" in message


def test_load_dataset_lists_expected_files_when_directory_is_missing(tmp_path):
    directory = tmp_path / "MNIST_data"

    with pytest.raises(sources.DataFormatError, match="does not exist") as raised:
        sources.load_dataset("fashion_mnist", data_dir=str(directory))

    message = str(raised.value)
    assert str(directory) in message
    for file_name in sources.IDX_FILE_NAMES:
        assert f"{file_name}[.gz]" in message


def test_load_dataset_reports_bad_file_in_data_dir(tmp_path):
    _write_idx_directory(tmp_path)
    write_idx_file(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(9, np.uint8))

    with pytest.raises(sources.DataFormatError, match="10 images but .* 9 labels"):
        sources.load_dataset("mnist", data_dir=str(tmp_path))


def test_load_dataset_rejects_unknown_name():
    with pytest.raises(ValueError, match="mnist_embedded, mnist, fashion_mnist"):
        sources.load_dataset("cifar10")


# Keras reads KERAS_HOME only when it is first imported, so a process that
# has already imported Keras (for another test) would ignore the variable and
# could find a real cached mnist.npz. The attempt therefore runs in a fresh
# interpreter, which inherits the environment set with monkeypatch.
_OFFLINE_PROBE = """
import gzip
import hashlib
import json
from mnist_data import sources
try:
    sources.load_dataset("mnist")
except sources.DataUnavailableError as error:
    print(json.dumps({"message": str(error), "cause": str(error.__cause__)}))
else:
    print(json.dumps(None))
"""


def test_mnist_offline_without_cache_raises_data_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    # Nothing listens on loopback port 9 (discard), so the download through
    # this proxy is refused at once instead of waiting for a timeout.
    for variable in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    python_path = [str(REPOSITORY_ROOT), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, python_path)))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")

    completed = subprocess.run(
        [sys.executable, "-c", _OFFLINE_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    # Keras prints "Downloading data from ..." before the JSON line.
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result is not None, "load_dataset('mnist') succeeded while offline"
    assert "--data_dir" in result["message"]
    assert "mnist_embedded" in result["message"]
    assert "URL fetch failure" in result["cause"]
    assert "Connection refused" in result["cause"]


def _refused_download():
    """Raises what Keras' get_file raises when a download is refused."""
    try:
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    except urllib.error.URLError as error:
        raise Exception(
            "URL fetch failure on https://example.invalid/mnist.npz: None -- "
            f"{error.reason}"
        )


@pytest.mark.parametrize(
    "name, alternative",
    [
        ("mnist", "--dataset=mnist_embedded (the offline default"),
        ("fashion_mnist", "apt-get install dataset-fashion-mnist"),
    ],
)
def test_keras_download_failure_names_both_fixes(name, alternative):
    with pytest.raises(sources.DataUnavailableError) as raised:
        sources._dataset_from_keras_loader(name, _refused_download)

    message = str(raised.value)
    assert "could not be loaded" in message
    assert "--data_dir=DIR" in message
    assert alternative in message
    assert "URL fetch failure" in str(raised.value.__cause__)


def test_keras_loader_errors_other_than_download_propagate():
    def corrupt_cache():
        raise ValueError("Incomplete or corrupted file detected.")

    with pytest.raises(ValueError, match="Incomplete or corrupted file"):
        sources._dataset_from_keras_loader("mnist", corrupt_cache)


def test_keras_loader_arrays_are_converted():
    train = _synthetic_split(20, seed=1)
    test = _synthetic_split(10, seed=2)

    dataset = sources._dataset_from_keras_loader("fashion_mnist", lambda: (train, test))

    assert dataset.name == "fashion_mnist"
    assert "keras.datasets.fashion_mnist.load_data()" in dataset.source
    np.testing.assert_array_equal(
        dataset.train_images,
        train[0].reshape(20, 784).astype(np.float32) / np.float32(255),
    )
    np.testing.assert_array_equal(dataset.test_labels, test[1])
    assert dataset.test_labels.dtype == np.int64

def test_one_hot_encodes_each_label_as_a_row():
    encoded = sources.one_hot(np.array([0, 9, 3], dtype=np.int64))

    assert encoded.dtype == np.float32
    expected = np.zeros((3, 10), np.float32)
    expected[[0, 1, 2], [0, 9, 3]] = 1.0
    np.testing.assert_array_equal(encoded, expected)


def test_one_hot_respects_num_classes():
    np.testing.assert_array_equal(
        sources.one_hot(np.array([1, 0], np.uint8), num_classes=2), [[0, 1], [1, 0]]
    )


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([0.0, 1.0]), "integer class ids, got dtype float64"),
        (np.array([True, False]), "integer class ids, got dtype bool"),
        (np.array([0, 10]), r"class ids in 0\.\.9, got values from 0 to 10; raise num_classes"),
        (np.array([-1, 3]), r"got values from -1 to 3"),
    ],
)
def test_one_hot_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        sources.one_hot(labels)


def _valid_dataset_fields() -> dict:
    return {
        "name": "mnist",
        "source": "test",
        "train_images": np.zeros((4, 784), np.float32),
        "train_labels": np.zeros(4, np.int64),
        "test_images": np.zeros((2, 784), np.float32),
        "test_labels": np.zeros(2, np.int64),
    }


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("train_images", np.zeros((4, 784), np.float64), "train_images must be"),
        ("test_images", np.zeros((2, 28, 28), np.float32), r"float32 \[N, 784\]"),
        ("train_labels", np.zeros(4, np.int32), "train_labels must be int64"),
        ("test_labels", np.zeros(3, np.int64), r"test_labels must be int64 \[2\]"),
    ],
)
def test_dataset_rejects_wrong_arrays(field, value, message):
    fields = _valid_dataset_fields() | {field: value}

    with pytest.raises(ValueError, match=message):
        sources.Dataset(**fields)


def test_importing_the_data_package_never_imports_a_framework():
    # A fresh interpreter: in this one, other tests have imported TensorFlow.
    code = (
        "import sys, mnist_data, mnist_data.breast_cancer, mnist_data.regression_data, "
        "runtime.checkpoint_names, runtime.serving, runtime.figures; "
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "sys.exit(f'imported {loaded}' if loaded else 0)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert completed.returncode == 0, completed.stderr
