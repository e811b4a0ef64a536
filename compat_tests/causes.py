"""Likely causes of a systematic difference, each from measured evidence.

A cause is named only when something the ladder measured points at it: the
hyperparameters each side's optimizer really used (read from the TF1 graph's
apply ops and from the TF2 optimizer object), the learning rate each side
used at the step where they part, the ratio of the updates or gradients, the
outputs themselves (probabilities vs logits, a loss off by the batch size),
or a TF2 model that answers the same input twice differently. Nothing here is
printed for a gap within noise, and no rung falls back on a list of guesses:
when no evidence points anywhere, the report says so.
"""

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

# The TF1 apply ops and where their hyperparameters sit among the inputs
# (tensorflow/core/ops/training_ops.cc). The resource and ref forms share
# their input order.
_APPLY_OP_INPUTS = {
    "GradientDescent": {"learning_rate": 1},
    "Momentum": {"learning_rate": 2, "momentum": 4},
    "KerasMomentum": {"learning_rate": 2, "momentum": 4},
    "Adam": {"learning_rate": 5, "beta1": 6, "beta2": 7, "epsilon": 8},
    "RMSProp": {"learning_rate": 3, "rho": 4, "momentum": 5, "epsilon": 6},
    "CenteredRMSProp": {"learning_rate": 4, "rho": 5, "momentum": 6, "epsilon": 7},
    "Adagrad": {"learning_rate": 2},
}
# The TF1 optimizer's family, by the apply op it builds.
_FAMILY = {
    "GradientDescent": "GradientDescent",
    "Momentum": "Momentum",
    "KerasMomentum": "Momentum",
    "Adam": "Adam",
    "RMSProp": "RMSProp",
    "CenteredRMSProp": "RMSProp",
    "Adagrad": "Adagrad",
}
# Attribute names of the same hyperparameter on TF2 optimizers: Keras' and
# the project's TF1-semantics classes (tf2_eager.optimizers).
_TF2_ATTRIBUTES = {
    "epsilon": ("epsilon",),
    "beta1": ("beta_1", "beta1"),
    "beta2": ("beta_2", "beta2"),
    "momentum": ("momentum",),
    "rho": ("rho", "decay"),
}


def tf1_optimizer(graph: tf.Graph) -> tuple[Optional[str], dict[str, tf.Tensor], bool]:
    """(family, {hyperparameter: tensor}, nesterov) of the first apply op in
    `graph`, or (None, {}, False) when it has none (a hand-written update).

    The tensors are evaluated in the session at each step, so a decayed
    learning rate is read as the step really used it.
    """
    for operation in graph.get_operations():
        base = operation.type.removeprefix("Resource").removeprefix("Apply")
        if operation.type.startswith(("Apply", "ResourceApply")) and base in _APPLY_OP_INPUTS:
            tensors = {name: operation.inputs[index]
                       for name, index in _APPLY_OP_INPUTS[base].items()}
            nesterov = bool(operation.get_attr("use_nesterov")) if "use_nesterov" in [
                attribute.name for attribute in operation.op_def.attr] else False
            return _FAMILY[base], tensors, nesterov
    return None, {}, False


def tf2_learning_rate(optimizer: Any) -> Optional[float]:
    """The learning rate the TF2 optimizer will use at its next step, or None."""
    current = getattr(optimizer, "_current_learning_rate", None)
    if callable(current):  # tf2_eager.optimizers' TF1-semantics classes.
        return float(current())
    value = getattr(optimizer, "learning_rate", None)
    if callable(value) and hasattr(optimizer, "iterations"):
        value = value(optimizer.iterations)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def tf2_settings(optimizer: Any) -> dict[str, float]:
    """{hyperparameter: value} that the TF2 optimizer object carries."""
    settings = {}
    for name, attributes in _TF2_ATTRIBUTES.items():
        for attribute in attributes:
            value = getattr(optimizer, attribute, None)
            if value is None or callable(value):
                continue
            try:
                settings[name] = float(value)
            except (TypeError, ValueError):
                continue
            break
    return settings


def hyperparameter_mismatches(
    family: Optional[str],
    tf1_values: Mapping[str, float],
    tf1_nesterov: bool,
    tf2_optimizer: Any,
    tf2_rate: Optional[float],
) -> list[str]:
    """Each hyperparameter the two optimizers hold differently, and each
    formulation the TF2 optimizer's type is known to change."""
    causes = []
    tf2_values = dict(tf2_settings(tf2_optimizer))
    if tf2_rate is not None:
        tf2_values["learning_rate"] = tf2_rate
    for name in sorted(set(tf1_values) & set(tf2_values)):
        first, second = float(tf1_values[name]), float(tf2_values[name])
        # float32 holds each hyperparameter to about 6e-8 relative.
        if not math.isclose(first, second, rel_tol=1e-6, abs_tol=0.0):
            causes.append(_mismatch_message(family, name, first, second))
    nesterov = bool(getattr(tf2_optimizer, "nesterov", False))
    if family == "Momentum" and nesterov != tf1_nesterov:
        causes.append(
            f"Momentum formulation: the TF2 optimizer has nesterov={nesterov}, the TF1 "
            f"MomentumOptimizer use_nesterov={tf1_nesterov}."
        )
    clipping = tf2_clipping(tf2_optimizer)
    if clipping:
        settings = ", ".join(f"{name}={value:g}" for name, value in clipping.items())
        causes.append(
            f"Gradient clipping: the TF2 optimizer clips ({settings}); TF1 clips only with "
            "tf.clip_by_global_norm or tf.clip_by_value between compute_gradients and "
            "apply_gradients, which the same settings must mirror."
        )
    if family == "RMSProp" and isinstance(tf2_optimizer, tf.keras.optimizers.RMSprop):
        causes.append(
            "RMSProp accumulator: tf.compat.v1.train.RMSPropOptimizer starts its "
            "mean-square accumulator at ones, Keras RMSprop (the TF2 optimizer here) at "
            "zeros, so the first steps differ whatever the epsilon "
            "(tf2_eager.optimizers.Tf1RMSProp keeps TF1's)."
        )
    return causes


def _mismatch_message(family: Optional[str], name: str, first: float, second: float) -> str:
    label = f"{family} {name}" if family else name.capitalize()
    message = f"{label}: TF1 uses {first:.6g}, the TF2 optimizer {second:.6g}"
    if family == "Adam" and name == "epsilon" and math.isclose(second, 1e-7, rel_tol=1e-3):
        message += " (Keras Adam's default; tf.compat.v1.train.AdamOptimizer's is 1e-8)"
    if family == "RMSProp" and name == "epsilon" and math.isclose(second, 1e-7, rel_tol=1e-3):
        message += " (Keras RMSprop's default; TF1's RMSPropOptimizer's is 1e-10)"
    return message + "."


def tf2_clipping(optimizer: Any) -> dict[str, float]:
    """{setting: value} of the gradient clipping the TF2 optimizer is set to."""
    found = {name: getattr(optimizer, name, None)
             for name in ("clipnorm", "global_clipnorm", "clipvalue")}
    return {name: float(value) for name, value in found.items() if value is not None}


# The name scopes TF1's clipping functions build their ops in.
_TF1_CLIP_SCOPES = ("clip_by_global_norm", "clip_by_norm", "clip_by_average_norm",
                    "clip_by_value")


def tf1_clipping(graph: tf.Graph) -> list[str]:
    """The TF1 clipping functions whose ops `graph` holds (by their name
    scopes, or a ClipByValue op), in the order first built."""
    found = []
    for operation in graph.get_operations():
        scopes = operation.name.split("/")
        for function in _TF1_CLIP_SCOPES:
            if (function in scopes or any(scope.startswith(function + "_") for scope in scopes)
                    or (function == "clip_by_value" and operation.type == "ClipByValue")):
                if function not in found:
                    found.append(function)
    return found


def clipping_evidence(tf2_optimizer: Any, tf1_graph: tf.Graph) -> list[str]:
    """What says that a side clips its gradients: the TF2 optimizer's
    clipping settings and the TF1 graph's clipping ops."""
    evidence = []
    settings = tf2_clipping(tf2_optimizer)
    if settings:
        evidence.append("the TF2 optimizer clips (" + ", ".join(
            f"{name}={value:g}" for name, value in settings.items()) + ")")
    functions = tf1_clipping(tf1_graph)
    if functions:
        evidence.append("the TF1 graph clips (" + ", ".join(
            f"tf.{function}" for function in functions) + " ops)")
    return evidence


def update_ratio(tf1_delta: np.ndarray, tf2_delta: np.ndarray,
                 clipping: Sequence[str] = ()) -> Optional[str]:
    """Names a TF2 update that is a constant multiple of TF1's, and what
    scales it: clipping when either side clips (`clipping`, from
    clipping_evidence), else the learning rate."""
    ratio = _constant_ratio(tf1_delta, tf2_delta)
    if ratio is None:
        return None
    if clipping:
        return (f"The TF2 update is {ratio:.4g}× TF1's in the same direction, and "
                f"{' and '.join(clipping)}: gradient clipping on one side only (or at "
                "another norm) scales the whole update; clip alike on both sides.")
    return (f"The TF2 update is {ratio:.4g}× TF1's in the same direction, and neither side "
            "clips its gradients: the two sides step with different learning rates (or "
            "momentum/EMA factors differ on the first step).")


def learning_rate_at(step: int, tf1_rate: Optional[float], tf2_rate: Optional[float]) -> Optional[str]:
    """Names a learning rate that differs at `step`, as each side used it."""
    if tf1_rate is None or tf2_rate is None or math.isclose(tf1_rate, tf2_rate, rel_tol=1e-6):
        return None
    return (f"Learning rate at step {step}: TF1 used {tf1_rate:.6g}, TF2 {tf2_rate:.6g} "
            "(a learning-rate schedule that differs).")


def _close(first: float, second: float) -> bool:
    return math.isclose(first, second, rel_tol=1e-6, abs_tol=0.0)


def learning_rate_schedules(
    tf1_rates: Sequence[Optional[float]],
    tf2_rates: Sequence[Optional[float]],
    tf1_schedule_steps: Mapping[str, tuple[float, float]],
) -> list[str]:
    """Names what the two sides' learning rates, step by step, point at.

    tf1_schedule_steps: {variable: (value before training, after)} of the
    variables TF1's learning rate is computed from (its global step).

    - TF1's rate is computed from a step variable that never moved, and stays
      constant while TF2's changes: minimize() without global_step.
    - One side's rate changes in stairs, every d steps, and the other's at
      every step, the two agreeing exactly where the stairs change and at
      step 0: staircase=True on one side only.
    """
    if len(tf1_rates) < 2 or any(rate is None for rate in (*tf1_rates, *tf2_rates)):
        return []
    if all(_close(first, second) for first, second in zip(tf1_rates, tf2_rates)):
        return []
    tf1_constant = all(_close(rate, tf1_rates[0]) for rate in tf1_rates)
    tf2_constant = all(_close(rate, tf2_rates[0]) for rate in tf2_rates)
    stuck = [name for name, (before, after) in tf1_schedule_steps.items() if before == after]
    if tf1_constant and not tf2_constant and stuck:
        return [
            f"Learning-rate decay that never advances: TF1's learning rate is computed from "
            f"{stuck} but stays {tf1_rates[0]:.6g} for all {len(tf1_rates)} steps, while "
            f"TF2's moves from {tf2_rates[0]:.6g} to {tf2_rates[-1]:.6g}: the TF1 train op "
            "does not increment global_step; pass global_step=... to minimize()."
        ]
    for stairs, smooth, stairs_side, smooth_side in ((tf1_rates, tf2_rates, "TF1", "TF2"),
                                                     (tf2_rates, tf1_rates, "TF2", "TF1")):
        changes = [step for step in range(1, len(stairs))
                   if not _close(stairs[step], stairs[step - 1])]
        smooth_every_step = all(not _close(smooth[step], smooth[step - 1])
                                for step in range(1, len(smooth)))
        if not changes or not smooth_every_step or len(changes) == len(stairs) - 1:
            continue
        period = changes[0]
        agree = [step for step in range(len(stairs)) if _close(stairs[step], smooth[step])]
        if (all(step % period == 0 for step in changes)
                and agree == list(range(0, len(stairs), period))):
            return [
                f"Staircase vs smooth decay: {stairs_side}'s learning rate changes in stairs "
                f"every {period} steps (at steps {changes}), {smooth_side}'s at every step; "
                f"they agree at multiples of {period} and differ between "
                f"(staircase=True on the {stairs_side} side only: tf.compat.v1.train."
                "exponential_decay(..., staircase=True) is Keras' ExponentialDecay(..., "
                "staircase=True))."
            ]
    return []


def forward(
    tf1_outputs: np.ndarray,
    tf2_outputs: np.ndarray,
    tf2_outputs_again: np.ndarray,
    tf1_loss: float,
    tf2_loss: float,
    outputs_agree: bool,
    device: str,
) -> list[str]:
    """Causes the forward rung's measurements point at."""
    causes = []
    if not np.array_equal(tf2_outputs, tf2_outputs_again):
        causes.append(
            "Dropout left on: the TF2 model gave different outputs for the same input "
            "twice (call it with training=False, or keep dropout out of the compared pass)."
        )
    if _looks_like_probabilities(tf2_outputs) != _looks_like_probabilities(tf1_outputs):
        which = "TF2" if _looks_like_probabilities(tf2_outputs) else "TF1"
        causes.append(
            f"Logits vs probabilities: the {which} outputs are rows of probabilities and "
            "the other side's are not: softmax applied in one model only (or twice: in "
            "the model and again in a loss built with from_logits=True)."
        )
    if outputs_agree and tf1_loss != 0 and np.isfinite(tf1_loss):
        ratio = tf2_loss / tf1_loss
        batch = tf1_outputs.shape[0]
        if math.isclose(ratio, batch, rel_tol=1e-3) or math.isclose(ratio, 1 / batch, rel_tol=1e-3):
            causes.append(
                f"Sum vs mean reduction: the TF2 loss is {ratio:.4g}× TF1's, the batch size "
                f"is {batch} (reduce_sum vs reduce_mean, or Keras' SUM_OVER_BATCH_SIZE)."
            )
        else:
            causes.append(
                f"The outputs agree and the losses do not (TF2/TF1 = {ratio:.4g}): the loss "
                "formula differs (from_logits, clipping, label smoothing, one-hot vs sparse "
                "labels, or a regulariser added to one side)."
            )
    if "GPU" in device.upper() and tf.config.experimental.tensor_float_32_execution_enabled():
        causes.append(
            "TF32 on GPU is enabled: Ampere and newer GPUs round float32 matmuls to TF32; "
            "call tf.config.experimental.enable_tensor_float_32_execution(False)."
        )
    return causes


def gradients(
    names: Sequence[str], tf1_gradients: Sequence[np.ndarray], tf2_gradients: Sequence[np.ndarray]
) -> list[str]:
    """Causes the gradients rung's measurements point at (the forward loss agreed)."""
    causes = []
    ratios = [_constant_ratio(g1, g2) for g1, g2 in zip(tf1_gradients, tf2_gradients)]
    if ratios and all(r is not None for r in ratios) and np.allclose(ratios, ratios[0], rtol=1e-3):
        causes.append(
            f"Every gradient is {ratios[0]:.4g}× TF1's while the loss agrees: the loss is "
            "scaled inside the tape only (a reduction or a loss scale in the train step)."
        )
    stopped = [name for name, g1, g2 in zip(names, tf1_gradients, tf2_gradients)
               if not np.any(g2) and np.any(g1)]
    if stopped:
        causes.append(
            f"TF2 gradients of {stopped} are all zero where TF1's are not: "
            "tf.stop_gradient, or a variable read outside the tape."
        )
    return causes


def _constant_ratio(reference: np.ndarray, candidate: np.ndarray) -> Optional[float]:
    """r when candidate == r × reference to 1e-4 of its size, r not 1; else None."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    denominator = float(np.sum(reference * reference))
    if denominator == 0 or not np.all(np.isfinite(candidate)):
        return None
    ratio = float(np.sum(candidate * reference) / denominator)
    residual = float(np.max(np.abs(candidate - ratio * reference)))
    if residual > 1e-4 * float(np.max(np.abs(candidate))) or math.isclose(ratio, 1.0, rel_tol=1e-4):
        return None
    return ratio


def _looks_like_probabilities(outputs: np.ndarray) -> bool:
    return bool(outputs.ndim == 2 and outputs.shape[1] > 1 and np.all(outputs >= 0)
                and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-4))


def modes_swapped(tf1_training_outputs: np.ndarray, tf2_inference_outputs: np.ndarray) -> list[str]:
    """Names a TF2 model whose inference outputs are TF1's training-mode outputs."""
    if not np.allclose(tf1_training_outputs, tf2_inference_outputs, rtol=1e-4, atol=1e-5):
        return []
    return [
        "Mode ignored: in inference mode the TF2 model computes what TF1 computes in "
        "training mode (a layer called with training=True hard-coded, or a BatchNorm "
        "that does not receive the model's training argument)."
    ]


def moving_average_rate(
    name: str, tf1_delta: np.ndarray, tf2_delta: np.ndarray, tf2_momentum: Optional[float]
) -> list[str]:
    """Names a moving average that steps at another rate on each side.

    An exponential moving average x <- d·x + (1 - d)·b moves by (1 - d)(b - x);
    from the same x and batch statistic b, the ratio of the two sides' moves
    is (1 - d_TF2) / (1 - d_TF1), so TF2's momentum gives TF1's decay.
    """
    ratio = _constant_ratio(tf1_delta, tf2_delta)
    if ratio is None:
        return []
    if ratio == 0:
        # No decay explains an average that does not move on one side.
        return [f"Moving average: TF1 updates {name} and TF2 leaves it where it was: the TF2 "
                "layer ran with training=False, or TF1 runs its UPDATE_OPS in inference mode "
                "too (one is_training placeholder for dropout and batch norm)."]
    message = (f"Moving-average rate: the TF2 update of {name} is {ratio:.4g}× TF1's in the "
               "same direction")
    if tf2_momentum is not None:
        tf1_decay = 1.0 - (1.0 - tf2_momentum) / ratio
        message += (f"; the TF2 layer's momentum is {tf2_momentum:g}, so TF1 decays with "
                    f"about {tf1_decay:.4g} (Keras' momentum is TF1's decay, not 1 - decay)")
    return [message + "."]


def weight_decay(tf1_loss: float, tf2_loss: float, kernels: Mapping[str, np.ndarray]) -> list[str]:
    """Names an L2 term on one side when the losses part by a round multiple
    of the kernels' Σ w² / 2 (TF1's tf.nn.l2_loss), the outputs agreeing.

    A gap that is 1, 2 or 5 times a power of ten times that sum (to 1e-4) is
    what a weight-decay coefficient makes; any other gap is left unnamed.
    """
    half_squares = sum(float(np.sum(np.square(value, dtype=np.float64)))
                       for value in kernels.values()) / 2
    gap = tf1_loss - tf2_loss
    if half_squares == 0 or gap == 0:
        return []
    coefficient = abs(gap) / half_squares
    mantissa = coefficient / 10 ** math.floor(math.log10(coefficient))
    if not any(math.isclose(mantissa, round_value, rel_tol=1e-4)
               for round_value in (1.0, 2.0, 2.5, 5.0, 10.0)):
        return []
    heavier, lighter = ("TF1", "TF2") if gap > 0 else ("TF2", "TF1")
    return [
        f"L2 term: the {heavier} loss exceeds the {lighter} loss by {abs(gap):.4g} = "
        f"{coefficient:.3g} × Σ tf.nn.l2_loss(kernel) over {sorted(kernels)}: weight decay "
        f"on the {heavier} side only, or a coefficient that differs (tf.nn.l2_loss(w) is "
        "Σw²/2, Keras' L2(l) adds l·Σw², so TF1's decay c is L2(c / 2); a TF2 side with "
        "its own train_step must add model.losses itself)."
    ]


def permuted_features(
    tf1_values: np.ndarray, tf2_values: np.ndarray, bound: float
) -> list[str]:
    """Names a layer whose TF2 values are TF1's with the features in another
    order (each TF2 feature equal, within `bound`, to a different TF1 one).

    The message has {tf1} and {tf2} for the layer names.
    """
    if tf1_values.shape != tf2_values.shape or tf1_values.ndim != 2:
        return []
    tf1_columns = np.asarray(tf1_values, dtype=np.float64).T
    tf2_columns = np.asarray(tf2_values, dtype=np.float64).T
    order, used = [], set()
    for column in tf2_columns:
        # Features that are equal (units a relu leaves at zero) are
        # interchangeable: take the first such TF1 feature not yet taken.
        close = np.nonzero(np.max(np.abs(tf1_columns - column), axis=1) <= bound)[0]
        unused = [int(index) for index in close if int(index) not in used]
        if not unused:
            return []
        order.append(unused[0])
        used.add(unused[0])
    if order == sorted(order):
        return []
    return [
        "Feature order: TF2's '{tf2}' holds TF1's '{tf1}' values in another order "
        f"(a permutation: {sum(i != j for i, j in enumerate(order))} of its {len(order)} "
        "features out of place): a flatten of channels-first (NCHW) against channels-last "
        "(NHWC) maps, or a transpose before Flatten; flatten in TF1's order, or permute "
        "the rows of the next dense kernel when porting its weights."
    ]


def dtype_policies(tf1_dtype: str, layers: Sequence[tuple[str, str, str]]) -> list[str]:
    """Names TF2 layers that compute in another dtype than TF1's outputs.

    layers: (name, dtype policy, compute dtype) of each Keras layer.
    """
    lower = [(name, policy, compute) for name, policy, compute in layers
             if compute != tf1_dtype]
    if not lower:
        return []
    names = [name for name, _, _ in lower]
    policies = sorted({f"{policy} (computes in {compute})" for _, policy, compute in lower})
    return [
        f"Dtype policy: TF1 computes in {tf1_dtype}, while the TF2 layers {names} run under "
        f"{', '.join(policies)}: a mixed-precision policy rounds every activation; build them "
        f"with dtype='{tf1_dtype}' (or tf.keras.mixed_precision.set_global_policy("
        f"'{tf1_dtype}') before building the model) to compare the migration."
    ]


def tf1_batch_norm_epsilons(graph: tf.Graph) -> list[tuple[str, float]]:
    """(op name, epsilon) of each batch norm in `graph`: a FusedBatchNorm's
    epsilon attribute, or the constant that tf.nn.batch_normalization adds
    to the variance before its Rsqrt."""
    found = []
    for operation in graph.get_operations():
        if operation.type.startswith("FusedBatchNorm") and "Grad" not in operation.type:
            found.append((operation.name, float(operation.get_attr("epsilon"))))
        elif operation.type == "Rsqrt":
            added = operation.inputs[0].op
            if added.type not in ("Add", "AddV2"):
                continue
            constants = [tensor.op for tensor in added.inputs if tensor.op.type == "Const"]
            if len(constants) == 1 and not constants[0].get_attr("value").tensor_shape.dim:
                value = tf.make_ndarray(constants[0].get_attr("value"))
                found.append((added.name, float(value)))
    return found


def batch_norm_epsilon(
    tf1_epsilons: Sequence[tuple[str, float]], tf2_epsilons: Sequence[tuple[str, float]]
) -> list[str]:
    """Names batch norms whose epsilons differ, TF1's ops against the Keras
    layers (compared as sets, in float32's precision)."""
    if not tf1_epsilons or not tf2_epsilons:
        return []
    tf1_values = sorted({round(value, 9) for _, value in tf1_epsilons})
    tf2_values = sorted({round(value, 9) for _, value in tf2_epsilons})
    if len(tf1_values) == len(tf2_values) and all(
            math.isclose(first, second, rel_tol=1e-6)
            for first, second in zip(tf1_values, tf2_values)):
        return []
    tf1_text = ", ".join(f"{value:g} ({name})" for name, value in tf1_epsilons)
    tf2_text = ", ".join(f"{value:g} ('{name}')" for name, value in tf2_epsilons)
    return [
        f"Batch norm epsilon: TF1 adds {tf1_text} to the variance, the TF2 layers "
        f"{tf2_text}: pass BatchNormalization(epsilon=...) TF1's value (Keras' default is "
        "1e-3, tf.compat.v1.layers'/slim's 1e-3 and 1e-5 in many ports from PyTorch)."
    ]


def _cross_entropies(outputs: np.ndarray, labels: np.ndarray) -> Optional[tuple[float, float]]:
    """(mean cross-entropy of the labels, mean over classes of -log p) for
    logits `outputs` and one-hot or integer `labels`, or None if they are
    not a classifier's."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        return None
    labels = np.asarray(labels)
    if labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer):
        labels = np.eye(outputs.shape[1])[labels]
    if labels.shape != outputs.shape:
        return None
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return (float(np.mean(-np.sum(labels * log_probabilities, axis=1))),
            float(np.mean(-np.mean(log_probabilities, axis=1))))


def label_smoothing(
    outputs: np.ndarray, labels: np.ndarray, tf1_loss: float, tf2_loss: float,
    tf2_configured: Optional[float],
) -> list[str]:
    """Names label smoothing on one side, or by other amounts, when the
    outputs (logits) agree and the losses do not.

    Smoothing labels by s turns the cross-entropy C into (1 - s)·C + s·U, U
    the mean over classes of -log p, so each side's loss gives the s it
    smooths by (to about 1e-6 from float32 losses). The cause is named when
    both sides' s come out in [0, 1) as multiples of 0.005, the values used
    in practice (to 1e-5: an unrelated gap does so by chance about 0.4 % of
    the time), that differ, and the TF2 one equals `tf2_configured`, the TF2
    loss object's own label_smoothing setting, when that is readable.
    """
    entropies = _cross_entropies(outputs, labels)
    if entropies is None:
        return []
    cross_entropy, uniform = entropies
    if math.isclose(uniform, cross_entropy, rel_tol=1e-6):
        return []
    amounts = [(loss - cross_entropy) / (uniform - cross_entropy) for loss in (tf1_loss, tf2_loss)]
    step = 0.005
    if not all(-1e-5 <= s < 1 and abs(s - step * round(s / step)) < 1e-5 for s in amounts):
        return []
    if tf2_configured is not None and abs(amounts[1] - tf2_configured) > 1e-5:
        return []
    tf1_amount, tf2_amount = (round(step * round(s / step), 3) + 0.0 for s in amounts)
    if tf1_amount == tf2_amount:
        return []
    configured = ("" if tf2_configured is None else
                  f" (its loss object's label_smoothing is {tf2_configured:g})")
    return [
        f"Label smoothing: TF1's loss is the cross-entropy with labels smoothed by "
        f"{tf1_amount:g}, TF2's by {tf2_amount:g}{configured}: "
        "tf.compat.v1.losses.softmax_cross_entropy(..., label_smoothing=s) is Keras' "
        "CategoricalCrossentropy(label_smoothing=s)."
    ]


def tf1_dropout_rates(graph: tf.Graph) -> list[tuple[str, tf.Tensor]]:
    """(scope, rate tensor) of each tf.nn.dropout in `graph`: the rate its
    random mask is compared against (1 - keep_prob in tf.compat.v1's form)."""
    found = []
    for operation in graph.get_operations():
        if (operation.type == "GreaterEqual" and "dropout" in operation.name
                and operation.inputs[0].op.type.endswith("RandomUniform")):
            found.append((operation.name.rsplit("/", 1)[0], operation.inputs[1]))
    return found


def dropout_rates(
    tf1_rates: Sequence[tuple[str, float]], tf2_rates: Sequence[tuple[str, float]]
) -> list[str]:
    """Names dropout rates that differ: TF1's (in its training feed) against
    the Keras Dropout layers', compared as sorted lists."""
    first = sorted(rate for _, rate in tf1_rates)
    second = sorted(rate for _, rate in tf2_rates)
    if len(first) == len(second) and all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(first, second)):
        return []
    tf1_text = ", ".join(f"{rate:g} ({name}, keep_prob {1 - rate:g})" for name, rate in tf1_rates)
    tf2_text = ", ".join(f"{rate:g} ('{name}')" for name, rate in tf2_rates)
    swapped = any(math.isclose(a, 1 - b, rel_tol=1e-6) for a in first for b in second)
    hint = (" A keep_prob ported as a rate: Keras' rate is the fraction dropped, 1 - keep_prob."
            if swapped else "")
    return [
        f"Dropout rate: TF1 drops {tf1_text} in training, the TF2 Dropout layers "
        f"{tf2_text}.{hint}"
    ]


# TF1 op types that are activations, by the name Keras gives the same one.
_TF1_ACTIVATIONS = {
    "Relu": "relu", "Relu6": "relu6", "Elu": "elu", "Selu": "selu", "Sigmoid": "sigmoid",
    "Tanh": "tanh", "Softplus": "softplus", "Softsign": "softsign", "LeakyRelu": "leaky_relu",
    "Softmax": "softmax", "Gelu": "gelu",
}


def activations(
    tf1_layer: str, tf1_op_types: Sequence[str], tf2_layers: Sequence[str],
    tf2_activations: Sequence[str],
) -> list[str]:
    """Names activations that differ between a TF1 layer's ops (those since
    the previous named layer) and the Keras layers matched to it."""
    tf1_names = sorted({_TF1_ACTIVATIONS[kind] for kind in tf1_op_types
                        if kind in _TF1_ACTIVATIONS})
    tf2_names = sorted({name for name in tf2_activations if name and name != "linear"})
    if tf1_names == tf2_names:
        return []
    tf1_text = ", ".join(tf1_names) or "no activation"
    tf2_text = ", ".join(tf2_names) or "no activation"
    return [
        f"Activation: TF1 applies {tf1_text} in '{tf1_layer}', TF2 {tf2_text} in "
        f"{list(tf2_layers)}: the port changed the layer's activation."
    ]
