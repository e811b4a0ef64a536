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
    clipping = {name: getattr(tf2_optimizer, name, None)
                for name in ("clipnorm", "global_clipnorm", "clipvalue")}
    clipping = {name: value for name, value in clipping.items() if value is not None}
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


def update_ratio(tf1_delta: np.ndarray, tf2_delta: np.ndarray) -> Optional[str]:
    """Names a TF2 update that is a constant multiple of TF1's."""
    ratio = _constant_ratio(tf1_delta, tf2_delta)
    if ratio is None:
        return None
    return (f"The TF2 update is {ratio:.4g}× TF1's in the same direction: the two sides "
            "step with different learning rates, or one side clips its gradients (or "
            "momentum/EMA factors differ on the first step).")


def learning_rate_at(step: int, tf1_rate: Optional[float], tf2_rate: Optional[float]) -> Optional[str]:
    """Names a learning rate that differs at `step`, as each side used it."""
    if tf1_rate is None or tf2_rate is None or math.isclose(tf1_rate, tf2_rate, rel_tol=1e-6):
        return None
    return (f"Learning rate at step {step}: TF1 used {tf1_rate:.6g}, TF2 {tf2_rate:.6g} "
            "(a decay schedule that differs, staircase vs smooth, or minimize() without "
            "global_step, so TF1's decay never advances).")


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
