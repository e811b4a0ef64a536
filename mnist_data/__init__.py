"""MNIST data for both TensorFlow sides, in numpy only.

Importing this package never imports TensorFlow or Keras: only
`load_dataset("mnist")` and `load_dataset("fashion_mnist")` import Keras, and
only when they fall back to its loader. The modules:
  idx: reads IDX files (gzip or raw) with every header size checked.
  sources: `load_dataset` and the `Dataset` it returns.
  batching: the seeded, epoch-based order of training batches.
  initial_values: numpy initial values for matched mode.
  checks: the input checks both sides share.
  breast_cancer, regression_data: the data of the gradient notebook's small
    programs (logistic and linear regression).
The framework-neutral runtime of the commands (run directories, reporting,
figures, the process launcher, checkpoint names) is the runtime package.
"""

from mnist_data.batching import batch_indices, batch_schedule
from mnist_data.idx import IMAGE_SIDE, DataFormatError, read_idx, read_idx_pair
from mnist_data.initial_values import INITIALIZERS, draw, draw_parameters
from mnist_data.sources import (
    DATASET_NAMES,
    IMAGE_PIXELS,
    NUM_CLASSES,
    Dataset,
    DataUnavailableError,
    load_dataset,
    one_hot,
)

__all__ = [
    "DATASET_NAMES",
    "IMAGE_PIXELS",
    "IMAGE_SIDE",
    "INITIALIZERS",
    "NUM_CLASSES",
    "DataFormatError",
    "DataUnavailableError",
    "Dataset",
    "batch_indices",
    "batch_schedule",
    "draw",
    "draw_parameters",
    "load_dataset",
    "one_hot",
    "read_idx",
    "read_idx_pair",
]
