"""Input checks that both sides share, so each mistake is explained once."""

import math
from typing import Mapping, Optional, Sequence

import numpy as np

from mnist_data.idx import NUM_CLASSES

IMAGE_SIDE = 28
FLAT_PIXELS = IMAGE_SIDE * IMAGE_SIDE


def check_flat_image_shape(shape: Sequence[Optional[int]], where: str) -> None:
    """Raises ValueError unless `shape` is [batch, 784].

    The documents fed a [None, 28, 28] placeholder into a [28, 28, 10] MatMul
    and crashed with "In[0] and In[1] must have compatible batch dimensions";
    this check stops that mistake before TensorFlow does, with the fix.

    Args:
      shape: The images' shape; unknown dimensions are None (a TensorShape's
        `as_list()` or a numpy `shape`).
      where: What is being fed, for the message ("tf1_graph inference").
    """
    shape = list(shape)
    if len(shape) == 2 and shape[1] == FLAT_PIXELS:
        return
    if shape[1:] in ([IMAGE_SIDE, IMAGE_SIDE], [IMAGE_SIDE, IMAGE_SIDE, 1]):
        fix = (
            "flatten them first: images.reshape(-1, 784) in numpy or "
            "tf.reshape(images, [-1, 784]) in TensorFlow"
        )
    else:
        fix = "pass images as float32 rows of 784 pixels scaled to [0, 1]"
    raise ValueError(
        f"{where} expects images of shape [batch, 784], got {shape}; {fix}."
    )


def check_label_encoding(shape: Sequence[Optional[int]], integer_labels: bool, where: str) -> None:
    """Raises ValueError unless labels of `shape` fit the loss.

    The sparse loss takes class ids [batch]; every other form takes one-hot
    rows [batch, 10]. The Spanish notebook fed integer labels to a
    placeholder it then used as one-hot rows; this names the conversion.

    Args:
      shape: The labels' shape (None for unknown dimensions).
      integer_labels: Whether the loss takes class ids.
      where: What is being built or called, for the message.
    """
    shape = list(shape)
    if integer_labels and len(shape) == 1:
        return
    if not integer_labels and len(shape) == 2 and shape[1] == NUM_CLASSES:
        return
    if integer_labels:
        fix = ("these look like one-hot rows: pass np.argmax(labels, axis=1), or pick a "
               "one-hot --loss such as softmax_cross_entropy")
        expected = "class ids of shape [batch]"
    else:
        fix = ("these look like class ids: pass mnist_data.one_hot(labels), or "
               "--loss=sparse_softmax_cross_entropy" if len(shape) == 1
               else "pass one-hot rows of 10 classes")
        expected = f"one-hot rows of shape [batch, {NUM_CLASSES}]"
    raise ValueError(f"{where} expects labels as {expected}, got shape {shape}; {fix}.")


def check_names_and_shapes(
    expected_shapes: Mapping[str, tuple], values: Mapping[str, np.ndarray]
) -> None:
    """Raises ValueError listing every missing, unexpected or mis-shaped name."""
    missing = sorted(set(expected_shapes) - set(values))
    unexpected = sorted(set(values) - set(expected_shapes))
    misshaped = sorted(
        f"{name}: expected {list(shape)}, got {list(np.shape(values[name]))}"
        for name, shape in expected_shapes.items()
        if name in values and tuple(np.shape(values[name])) != tuple(shape)
    )
    if missing or unexpected or misshaped:
        raise ValueError(
            "Values do not match the model's variables. "
            f"Missing: {missing or 'none'}. Unexpected: {unexpected or 'none'}. "
            f"Mis-shaped: {misshaped or 'none'}."
        )


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


def check_finite_loss(loss_value: float, step: int, loss_form: str) -> None:
    """Raises NonFiniteLossError naming the step, the loss form and the fix.

    Args:
      loss_value: The loss of training step `step`.
      step: 0-based index of the step.
      loss_form: The --loss in use.
    """
    if math.isfinite(loss_value):
        return
    if loss_form.startswith("naive"):
        cause = (
            f"--loss={loss_form} takes log(softmax(logits)), which is log(0) = -inf "
            "once a probability underflows; --loss=softmax_cross_entropy "
            "(tf.nn.softmax_cross_entropy_with_logits) computes the same value "
            "stably"
        )
    else:
        cause = "lower --learning_rate, the usual reason a stable loss diverges"
    raise NonFiniteLossError(
        f"The training loss became {loss_value} at step {step}: {cause}. Pass "
        "--allow_nonfinite to train on regardless."
    )


def check_same_shape(x1: np.ndarray, x2: np.ndarray, where: str) -> None:
    """Raises ValueError unless the two factors of an elementwise product
    have the same shape.

    TensorFlow would broadcast a length-1 vector or fail deep inside the
    kernel; checking first gives one message naming both shapes.

    Args:
      x1: First factor, any numeric array.
      x2: Second factor.
      where: The caller, named in the message.
    """
    if np.shape(x1) != np.shape(x2):
        raise ValueError(
            f"{where}: x1 has shape {list(np.shape(x1))} but x2 has shape "
            f"{list(np.shape(x2))}; pass two vectors of the same length."
        )


def check_float64(dtype_name: str, what: str, where: str, why: str) -> None:
    """Raises ValueError unless a tensor's dtype is float64.

    The regression models compute in float64 because their checks need it
    (a gradient check, a 1e-12 comparison between sides); float32 input
    would otherwise be converted or fail deep inside TensorFlow.

    Args:
      dtype_name: The tensor's dtype name, e.g. tensor.dtype.name.
      what: The tensor, for the message ("x").
      where: The caller, for the message ("tf1_graph linear_regression").
      why: What needs float64, for the message.
    """
    if dtype_name != "float64":
        raise ValueError(f"{where}: {what} is {dtype_name}; pass float64, which {why} needs.")


def check_finite_weights(values: Mapping[str, np.ndarray], step: int) -> None:
    """Raises NonFiniteLossError naming the variables that hold a NaN
    or infinity after `step` updates."""
    broken = sorted(name for name, value in values.items() if not np.all(np.isfinite(value)))
    if broken:
        raise NonFiniteLossError(
            f"The weights {', '.join(broken)} are NaN or infinite after the update of step "
            f"{step - 1}: training diverged. Lower --learning_rate, or pass "
            "--allow_nonfinite to keep such weights."
        )
