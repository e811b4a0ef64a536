"""Input checks that both sides share, so each mistake is explained once."""

import math
import re
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from runtime import reporting
from mnist_data.idx import IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES
from runtime import errors


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
    if len(shape) == 2 and shape[1] == IMAGE_PIXELS:
        return
    if shape[1:] in ([IMAGE_SIDE, IMAGE_SIDE], [IMAGE_SIDE, IMAGE_SIDE, 1]):
        fix = (
            "flatten them first: images.reshape(-1, 784) in numpy or "
            "tf.reshape(images, [-1, 784]) in TensorFlow"
        )
    else:
        fix = "pass images as float32 rows of 784 pixels scaled to [0, 1]"
    raise errors.FixableError(
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
    raise errors.FixableError(f"{where} expects labels as {expected}, got shape {shape}; {fix}.")


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
        raise errors.FixableError(
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
        raise errors.FixableError(
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
        raise errors.FixableError(f"{where}: {what} is {dtype_name}; pass float64, which {why} needs.")


def check_finite_array(values: np.ndarray, name: str, fix: str) -> None:
    """Raises ValueError unless every value of a float array is finite.

    A model trained on NaN images has NaN losses on both sides, which any
    comparison that treats NaN as equal to NaN would call identical; the
    data is refused before a step is run.

    Args:
      values: The array (an integer array always passes).
      name: The array and where it came from, for the message
        ("images of data.npz").
      fix: What to do about it, for the message.
    """
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return
    nans = int(np.count_nonzero(np.isnan(values)))
    infinities = int(np.count_nonzero(np.isinf(values)))
    if nans or infinities:
        raise errors.FixableError(
            f"{name} holds {nans} NaN and {infinities} infinite values of {values.size}; {fix}."
        )


def check_float32_images(images: np.ndarray, name: str) -> None:
    """Raises ValueError unless `images` are float32, naming the conversion.

    The parity ladder feeds the arrays as they are into placeholders of
    their own dtype, and compares the sides against float32 noise; uint8
    pixels or float64 arrays would fail inside TensorFlow, or be judged
    against the wrong floor. Nothing is converted silently.

    Args:
      images: The image array as loaded.
      name: The array and where it came from, for the message.
    """
    dtype = np.asarray(images).dtype
    if dtype == np.float32:
        return
    if np.issubdtype(dtype, np.integer):
        fix = "scale them to [0, 1] first: images.astype(np.float32) / 255"
    else:
        fix = "convert them first: images.astype(np.float32)"
    raise errors.FixableError(
        f"{name} are {dtype} of shape {list(np.shape(images))}; the check takes float32 "
        f"images [n, ...], e.g. [n, 784] pixels in [0, 1]: {fix}, and save the .npz again."
    )


def count_parameters(
    model: str,
    hidden_sizes: Sequence[int] = (),
    conv_channels: Sequence[int] = (),
    conv_kernels: Sequence[int] = (),
    conv_strides: Sequence[int] = (),
    dense_units: int = 0,
) -> int:
    """The number of weights and biases of a classifier of these sizes.

    Args:
      model: "softmax_regression", "mlp", "deep_mlp" or "convnet"; any
        other model (the standalone ones) counts 0.
      hidden_sizes: The MLPs' hidden widths.
      conv_channels: The convnet's output channels per conv layer.
      conv_kernels: The convnet's kernel sides.
      conv_strides: The convnet's strides ("SAME" padding).
      dense_units: The convnet's fully connected width.
    """
    if model == "softmax_regression":
        widths = [IMAGE_PIXELS, NUM_CLASSES]
    elif model in ("mlp", "deep_mlp"):
        widths = [IMAGE_PIXELS, *hidden_sizes, NUM_CLASSES]
    elif model == "convnet":
        count, side, in_channels = 0, IMAGE_SIDE, 1
        for channels, kernel, stride in zip(conv_channels, conv_kernels, conv_strides):
            count += kernel * kernel * in_channels * channels + channels
            side, in_channels = math.ceil(side / stride), channels
        widths = [side * side * in_channels, dense_units, NUM_CLASSES]
        return count + sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    else:
        return 0
    return sum((inputs + 1) * outputs for inputs, outputs in zip(widths, widths[1:]))


# The cgroup v2 files of a container's memory limit and use.
CGROUP_DIR = "/sys/fs/cgroup"


def available_memory_bytes() -> Optional[int]:
    """Memory this process may still take: MemAvailable of /proc/meminfo, or
    less under a cgroup (container) limit; None where neither can be read."""
    available = []
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    available.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open(f"{CGROUP_DIR}/memory.max") as limit, open(f"{CGROUP_DIR}/memory.current") as used:
            maximum = limit.read().strip()
            if maximum != "max":
                available.append(int(maximum) - int(used.read().strip()))
    except (OSError, ValueError):
        pass
    return min(available) if available else None


# float32 weights and one gradient of each: a lower bound of what training
# holds (optimizer slots and activations come on top).
BYTES_PER_PARAMETER = 2 * 4


def check_parameter_memory(parameters: int, where: str, available: Optional[int]) -> None:
    """Raises ValueError when the weights alone cannot fit in memory.

    TensorFlow would otherwise try to allocate them and fail after minutes,
    or be killed by the kernel, with a message that does not name the flag.

    Args:
      parameters: count_parameters(...) of the model.
      where: The flags that set the size, for the message ("--hidden_sizes=...").
      available: available_memory_bytes(), or None to skip the check.
    """
    needed = parameters * BYTES_PER_PARAMETER
    if available is None or needed <= available:
        return
    raise errors.FixableError(
        f"{where} makes {parameters:,} parameters: their float32 weights and gradients "
        f"alone need {needed / 2**30:,.1f} GiB, and {available / 2**30:,.1f} GiB of memory "
        "is available. Choose smaller layers."
    )


def check_conv_geometry(conv_kernels: Sequence[int], conv_strides: Sequence[int]) -> None:
    """Raises ValueError unless each conv kernel and stride fits its input.

    With "SAME" padding each layer's input side is ceil(previous side /
    stride), from 28. A kernel wider than its input (--conv_kernels=1000)
    makes TensorFlow's CPU kernel abort the interpreter (exit code 134)
    rather than raise, so the sizes are checked before TensorFlow sees them.

    Args:
      conv_kernels: Kernel side of each conv layer.
      conv_strides: Stride of each conv layer.
    """
    side = IMAGE_SIDE
    for index, (kernel, stride) in enumerate(zip(conv_kernels, conv_strides), start=1):
        if kernel > side or stride > side:
            raise errors.FixableError(
                f"Conv layer {index} takes a {side}x{side} input, so its kernel and stride "
                f"must be at most {side}; got --conv_kernels={','.join(map(str, conv_kernels))} "
                f"and --conv_strides={','.join(map(str, conv_strides))}. The codelab uses "
                "6,5,4 and 1,2,2."
            )
        side = math.ceil(side / stride)


_DEVICE_PATTERN = re.compile(r"(?:^|/)(?:device:)?([A-Za-z_]+):(\d+)$")


def check_device(device: Optional[str], available: Sequence[str]) -> None:
    """Raises ValueError unless `device` names one of the `available` devices.

    tf.device places an op on a device that does not exist on the CPU with
    soft placement, so --device=/GPU:7 would run on the CPU without a word.

    Args:
      device: The --device value ("/GPU:0", "/device:CPU:0"), or None.
      available: Names of the devices there are, e.g. [d.name for d in
        tf.config.list_logical_devices()] ("/device:CPU:0").
    """
    if not device:
        return
    wanted = _DEVICE_PATTERN.search(device)
    names = {match.group(1).upper() + ":" + match.group(2)
             for match in map(_DEVICE_PATTERN.search, available) if match}
    if wanted and wanted.group(1).upper() + ":" + wanted.group(2) in names:
        return
    raise errors.FixableError(
        f"--device={device} names no device of this machine; it has "
        f"{', '.join(sorted('/' + name for name in names)) or 'none'}. Pass one of "
        "them, or leave --device unset to let TensorFlow place the ops."
    )


def check_before_training(
    config: Any,
    json_path: Optional[str],
    plots_dir: Optional[str],
    devices: Optional[Sequence[str]],
) -> None:
    """Every check a run can make before its first step, so that a mistake
    costs no training: the outputs (reporting.check_output_targets), the
    convnet's kernel sizes, the memory the weights need, the device.

    Call it from each side's main once the flags are parsed.

    Args:
      config: The run's flags.config.TrainConfig.
      json_path: The --json file, or None.
      plots_dir: The --plots_dir directory, or None.
      devices: Names of the devices there are (tf.config.list_logical_devices),
        or None to skip the device check (the replicated paths choose their
        own devices and refuse --device).

    Raises:
      ValueError: One line naming the first problem and its fix.
    """
    reporting.check_output_targets(json_path, plots_dir, config.export_dir)
    if config.model == "convnet":
        check_conv_geometry(config.conv_kernels, config.conv_strides)
        where = (f"--conv_channels={','.join(map(str, config.conv_channels))} "
                 f"--dense_units={config.dense_units}")
    elif config.hidden_sizes:
        where = f"--hidden_sizes={','.join(map(str, config.hidden_sizes))}"
    else:
        where = ""
    # A setting the model does not have is None (flags.config.MODEL_SETTINGS).
    parameters = count_parameters(
        config.model, config.hidden_sizes or (), config.conv_channels or (),
        config.conv_kernels or (), config.conv_strides or (), config.dense_units or 0)
    check_parameter_memory(parameters, f"--model={config.model} {where}", available_memory_bytes())
    if devices is not None:
        check_device(config.device, devices)


def check_finite_losses(traces: Mapping[str, Sequence[float]], allow_nonfinite: bool) -> None:
    """Raises NonFiniteLossError when a side's loss became NaN or infinite.

    Two sides that both diverge to NaN agree on every NaN, and a comparison
    that takes NaN for NaN would pass them; a non-finite loss fails the
    comparison instead, unless --allow_nonfinite asks to compare regardless.

    Args:
      traces: {side name: the loss of every step}.
      allow_nonfinite: The --allow_nonfinite flag.
    """
    if allow_nonfinite:
        return
    for side, losses in traces.items():
        bad_steps = np.flatnonzero(~np.isfinite(np.asarray(losses, dtype=np.float64)))
        if len(bad_steps):
            raise NonFiniteLossError(
                f"The {side} loss became {losses[bad_steps[0]]} at step {bad_steps[0]} "
                f"({len(bad_steps)} of {len(losses)} steps non-finite), so the sides cannot "
                "be compared: lower --learning_rate, check the data for NaN, or pass "
                "--allow_nonfinite to compare regardless."
            )


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
