"""The migration guide's parity ladder, for any TF1 graph / TF2 pair.

TensorFlow's guide "Validating correctness & numerical equivalence" asks
everyone migrating to check, in order, on the same weights and batches:

  1. variables   each TF1 variable has a TF2 counterpart of the same shape;
  2. forward     TF1 weights copied into TF2 give the same outputs and loss;
  3. gradients   the same gradient per variable at the same point;
  4. one_update  the same weights after one optimizer step;
  5. steps       the same loss at every step of N;
  6. metric      (optional) the same held-out metric after N steps.

`run_ladder` runs them and stops at the first rung that fails; the report it
returns names the rung, the output or variable, the differences, the
tolerance, and likely causes from a table of known migration mistakes.
`assert_equivalent` does the same inside a test and raises AssertionError
with the readable report.

The contract for the two sides:
- TF1: `build_tf1(images, labels) -> {"outputs", "loss", "train_op"}`, a
  legacy graph-building function. The harness calls it inside a fresh
  tf.Graph with placeholders shaped like the data ([None, ...]).
- TF2: `make_tf2() -> Tf2Side(model, loss_fn, optimizer[, train_step])`, a
  factory, so every run starts from fresh optimizer state. `model(images)`
  returns the outputs and has `trainable_variables`; `loss_fn(labels,
  outputs)` returns a scalar (Keras' argument order); `optimizer` has
  `apply_gradients`. Without `train_step`, the harness uses
  tf2_eager.steps.make_train_step (a tf.function around a GradientTape).
"""

import dataclasses
import math
import time
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from mnist_data import batching
from tf1_graph import weights as tf1_weights
from tf2_eager import steps as tf2_steps
from tf2_eager import weights as tf2_weights

RUNGS = ("variables", "forward", "gradients", "one_update", "steps", "metric")


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """A value passes when |Δ| <= max(atol, rtol * |reference|), elementwise.

    With atol == rtol == t this is the project's "t × max(1, |value|)".
    """

    atol: float
    rtol: float

    def __post_init__(self):
        if self.atol < 0 or self.rtol < 0:
            raise ValueError(
                f"Tolerances must be >= 0, got atol={self.atol}, rtol={self.rtol}."
            )

    def __str__(self) -> str:
        return f"atol {self.atol:g}, rtol {self.rtol:g}"


# Forward follows the migration guide (rtol 1e-6, atol 1e-5). The others are
# as tight: on CPU the same ops give bit-identical results, so anything
# larger than float rounding is a real difference. The metric is compared in
# percentage points.
DEFAULT_TOLERANCES = {
    "forward": Tolerance(atol=1e-5, rtol=1e-6),
    "gradients": Tolerance(atol=1e-5, rtol=1e-6),
    "one_update": Tolerance(atol=1e-6, rtol=1e-6),
    "steps": Tolerance(atol=1e-6, rtol=1e-6),
    "metric": Tolerance(atol=0.1, rtol=0.0),
}
# The float32 defaults above would let a relative mistake of 1e-6 through in a
# float64 pair (a gradient check's), so float64 data gets float64 defaults.
FLOAT64_TOLERANCES = {
    **{rung: Tolerance(atol=1e-12, rtol=1e-12)
       for rung in ("forward", "gradients", "one_update", "steps")},
    "metric": DEFAULT_TOLERANCES["metric"],
}


@dataclasses.dataclass
class Tf2Side:
    """The TF2 half of a pair; see the module docstring for the contract."""

    model: Callable[[tf.Tensor], tf.Tensor]
    loss_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    optimizer: Any
    train_step: Optional[Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = None


@dataclasses.dataclass
class RungResult:
    """The outcome of one rung."""

    rung: str
    status: str  # "passed", "failed" or "not run".
    max_abs_diff: Optional[float] = None
    max_rel_diff: Optional[float] = None
    tolerance: Optional[str] = None
    where: Optional[str] = None  # The output or variable with the worst Δ.
    detail: str = ""
    likely_causes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class LadderReport:
    """Everything the ladder measured; `format()` renders it as a table."""

    rungs: list[RungResult]
    variable_map: dict[str, str]
    mapping_inferred: bool
    device: str
    steps: int
    tf1_losses: list[float] = dataclasses.field(default_factory=list)
    tf2_losses: list[float] = dataclasses.field(default_factory=list)
    first_divergent_step: Optional[int] = None
    max_abs_loss_diff: Optional[float] = None
    max_abs_weight_diff: Optional[float] = None
    tf1_metric: Optional[float] = None
    tf2_metric: Optional[float] = None
    tf1_seconds: Optional[float] = None
    tf2_seconds: Optional[float] = None
    # Things worth knowing even when every rung passes.
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.status != "failed" for r in self.rungs)

    @property
    def failed_rung(self) -> Optional[RungResult]:
        return next((r for r in self.rungs if r.status == "failed"), None)

    def to_dict(self) -> dict[str, Any]:
        result = dataclasses.asdict(self)
        result["passed"] = self.passed
        return result

    def format(self) -> str:
        """The ladder as a table, then the failure's details if one failed."""
        header = ("rung", "status", "max |Δ|", "max rel Δ", "tolerance", "where")
        rows = [header] + [
            (
                r.rung,
                r.status,
                _format_number(r.max_abs_diff),
                _format_number(r.max_rel_diff),
                r.tolerance or "-",
                r.where or "-",
            )
            for r in self.rungs
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        if self.mapping_inferred:
            lines.append("Variable map (inferred by name, then creation order and shape; check it):")
            lines.extend(f"  {k} -> {v}" for k, v in self.variable_map.items())
        lines.extend(f"Note: {note}" for note in self.notes)
        failed = self.failed_rung
        if failed is None:
            lines.append(f"PASSED: all rungs agree on {self.device} over {self.steps} steps.")
        else:
            lines.append(f"FAILED at rung '{failed.rung}': {failed.detail}")
            if failed.likely_causes:
                lines.append("Likely causes:")
                lines.extend(f"  - {cause}" for cause in failed.likely_causes)
        return "\n".join(lines)


def _format_number(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3g}"


VariableMap = Union[Mapping[str, str], Callable[[str], str], None]
InitialValues = Union[
    Mapping[str, np.ndarray], Callable[[dict[str, list[int]]], Mapping[str, np.ndarray]], None
]
Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy_percent(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of rows whose argmax output matches the label (int or one-hot)."""
    predictions = np.argmax(outputs, axis=1)
    targets = np.argmax(labels, axis=1) if np.ndim(labels) == 2 else labels
    return float(np.mean(predictions == targets) * 100.0)


def run_ladder(
    build_tf1: Callable[[tf.Tensor, tf.Tensor], Any],
    make_tf2: Callable[[], Tf2Side],
    train_data: tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int,
    steps: int,
    variable_map: VariableMap = None,
    initial_values: InitialValues = None,
    eval_data: Optional[tuple[np.ndarray, np.ndarray]] = None,
    metric: Metric = accuracy_percent,
    tolerances: Optional[Mapping[str, Tolerance]] = None,
    seed: int = 0,
    device: Optional[str] = None,
) -> LadderReport:
    """Runs the ladder on a TF1/TF2 pair and returns the report.

    Args:
      build_tf1: The TF1 graph-building function (see module docstring).
      make_tf2: Factory of the TF2 side (see module docstring).
      train_data: (images, labels) numpy arrays; batch `step` is drawn with
        mnist_data.batch_indices(seed, step, batch_size, len(images)), the
        same for both sides.
      batch_size: Examples per step.
      steps: Training steps N for the "steps" rung, >= 1.
      variable_map: {TF1 name: TF2 name} or a function TF1 name -> TF2 name.
        Names are without ":0" (TF2 Keras variables use `.path`). None infers
        the map: equal names first, then creation order and shape; the report
        prints the inferred map.
      initial_values: Values to start from, {TF1 name: array}, or a function
        of the TF1 variables' {name: shape} returning them. None keeps the
        values of the TF1 initialisers (under graph seed `seed`).
      eval_data: Held-out (images, labels) for the optional metric rung.
      metric: metric(outputs, labels) -> float, compared within the metric
        tolerance. Defaults to accuracy in percent.
      tolerances: Overrides of DEFAULT_TOLERANCES (FLOAT64_TOLERANCES for
        float64 data), by rung name.
      seed: Seed for the batch order and the TF1 graph-level seed.
      device: Device for both sides ("/CPU:0", "/GPU:0"); None picks the
        first GPU when there is one, else the CPU.
    """
    train_images, train_labels = train_data
    _check_arguments(train_images, train_labels, batch_size, steps, tolerances)
    defaults = FLOAT64_TOLERANCES if train_images.dtype == np.float64 else DEFAULT_TOLERANCES
    tolerance = {**defaults, **(tolerances or {})}

    def batch(step: int) -> tuple[np.ndarray, np.ndarray]:
        indices = batching.batch_indices(seed, step, batch_size, len(train_images))
        return train_images[indices], train_labels[indices]

    if device is None:
        device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
    tf1 = _build_tf1_graph(build_tf1, train_images, train_labels, seed, device)

    first_images, first_labels = batch(0)
    with tf.device(device):
        tf2 = make_tf2()
        # Calling the model once builds lazily created variables (Keras,
        # Sonnet-style modules) before they are listed.
        tf2.model(first_images)
    tf2_variables = list(tf2.model.trainable_variables)

    report = LadderReport(
        rungs=[], variable_map={}, mapping_inferred=variable_map is None,
        device=device, steps=steps,
    )
    pairs, variables_rung = _match_variables(tf1.variables, tf2_variables, variable_map)
    report.variable_map = {
        tf1_weights.variable_name(v1): tf2_weights.variable_name(v2) for v1, v2 in pairs
    }
    report.rungs.append(variables_rung)
    if variables_rung.status == "failed":
        return _finish(report)

    # Not `with Session(...) as session`: entering a Session makes its graph
    # the default, and the TF2 calls below would then build graph ops in it
    # instead of running eagerly.
    session = tf.compat.v1.Session(graph=tf1.graph)
    try:
        with tf.device(device):
            return _run_rungs(
                report, session, tf1, tf2, pairs, batch, initial_values,
                eval_data, metric, tolerance, steps, device,
            )
    finally:
        session.close()


@dataclasses.dataclass
class _Tf1Graph:
    """The user's TF1 graph plus what the harness adds to it."""

    graph: tf.Graph
    images: tf.Tensor
    labels: tf.Tensor
    endpoints: dict[str, Any]
    variables: list[tf.Variable]
    gradients: list[tf.Tensor]
    loader: tf1_weights.Loader
    initializer: tf.Operation
    op_types: set[str]


def _build_tf1_graph(build_tf1, train_images, train_labels, seed, device) -> _Tf1Graph:
    """Calls build_tf1 on placeholders shaped like the data, in a new graph."""
    graph = tf.Graph()
    with graph.as_default(), tf.device(device):
        tf.compat.v1.set_random_seed(seed)
        images = tf.compat.v1.placeholder(
            tf.as_dtype(train_images.dtype), [None, *train_images.shape[1:]], name="images"
        )
        labels = tf.compat.v1.placeholder(
            tf.as_dtype(train_labels.dtype), [None, *train_labels.shape[1:]], name="labels"
        )
        endpoints = _tf1_endpoints(build_tf1(images, labels))
        variables = tf.compat.v1.trainable_variables()
        built = _Tf1Graph(
            graph=graph, images=images, labels=labels, endpoints=endpoints,
            variables=variables,
            gradients=tf.gradients(endpoints["loss"], variables),
            loader=tf1_weights.Loader(variables),
            initializer=tf.compat.v1.global_variables_initializer(),
            op_types={op.type for op in graph.get_operations()},
        )
    graph.finalize()
    return built


def _run_rungs(report, session, tf1: _Tf1Graph, tf2: Tf2Side, pairs, batch, initial_values,
               eval_data, metric, tolerance, steps, device) -> LadderReport:
    """Rungs 2 to 6, on an open TF1 session and a built TF2 side."""
    images, labels, endpoints = tf1.images, tf1.labels, tf1.endpoints
    first_images, first_labels = batch(0)
    session.run(tf1.initializer)
    if initial_values is not None:
        if callable(initial_values):
            initial_values = initial_values(
                {tf1_weights.variable_name(v): v.shape.as_list() for v in tf1.variables}
            )
        tf1.loader.load(session, initial_values)
    start_values = tf1_weights.read(session, tf1.variables)
    for tf1_variable, tf2_variable in pairs:
        tf2_variable.assign(start_values[tf1_weights.variable_name(tf1_variable)])
    names = list(report.variable_map)

    # Rung 2: forward pass and loss on the first batch.
    feed = {images: first_images, labels: first_labels}
    tf1_outputs, tf1_loss, tf1_gradients = session.run(
        [endpoints["outputs"], endpoints["loss"], tf1.gradients], feed_dict=feed
    )
    with tf.GradientTape() as tape:
        tf2_outputs = tf2.model(first_images)
        tf2_loss = tf2.loss_fn(first_labels, tf2_outputs)
    tf2_gradients = tape.gradient(tf2_loss, [v2 for _, v2 in pairs])
    tf2_outputs_again = tf2.model(first_images)
    forward = _compare(
        "forward",
        {"outputs": (tf1_outputs, tf2_outputs.numpy()), "loss": (tf1_loss, tf2_loss.numpy())},
        tolerance["forward"],
    )
    if forward.status == "failed":
        forward.likely_causes = _forward_causes(
            tf1_outputs, tf2_outputs.numpy(), tf2_outputs_again.numpy(),
            float(tf1_loss), float(tf2_loss), forward.where, device,
        )
    report.rungs.append(forward)
    if forward.status == "failed":
        return _finish(report)

    # Rung 3: gradients per variable at the same point.
    missing = [n for n, g in zip(names, tf2_gradients) if g is None]
    if missing:
        report.rungs.append(RungResult(
            "gradients", "failed", where=missing[0],
            detail=f"TF2 has no gradient for {missing}: the loss does not depend on them.",
            likely_causes=["The TF2 model does not use these variables in its call "
                           "(a layer skipped, or a bias created but not added)."],
        ))
        return _finish(report)
    gradient_rung = _compare(
        "gradients",
        {n: (g1, np.asarray(g2)) for n, g1, g2 in zip(names, tf1_gradients, tf2_gradients)},
        tolerance["gradients"],
    )
    if gradient_rung.status == "failed":
        gradient_rung.likely_causes = _gradient_causes(
            tf1_gradients, [np.asarray(g) for g in tf2_gradients]
        )
    report.rungs.append(gradient_rung)
    if gradient_rung.status == "failed":
        return _finish(report)

    # Rungs 4 and 5: one update, then N steps on the same batches.
    train_step = tf2.train_step or tf2_steps.make_train_step(
        tf2.model, tf2.loss_fn, tf2.optimizer
    )
    tf1_start = time.perf_counter()
    report.tf1_losses.append(float(session.run(
        [endpoints["loss"], endpoints["train_op"]], feed_dict=feed)[0]))
    tf1_after_one = tf1_weights.read(session, tf1.variables)
    tf1_seconds = time.perf_counter() - tf1_start
    tf2_start = time.perf_counter()
    report.tf2_losses.append(float(train_step(first_images, first_labels)))
    tf2_after_one = {n: v2.numpy() for n, (_, v2) in zip(names, pairs)}
    tf2_seconds = time.perf_counter() - tf2_start
    update = _compare(
        "one_update",
        {n: (tf1_after_one[n], tf2_after_one[n]) for n in names},
        tolerance["one_update"],
    )
    if update.status == "failed":
        update.likely_causes = _update_causes(
            tf1.op_types, tf2.optimizer, start_values, tf1_after_one, tf2_after_one, update.where
        )
    report.rungs.append(update)
    if update.status == "failed":
        return _finish(report)

    start = time.perf_counter()
    for step in range(1, steps):
        step_images, step_labels = batch(step)
        report.tf1_losses.append(float(session.run(
            [endpoints["loss"], endpoints["train_op"]],
            feed_dict={images: step_images, labels: step_labels})[0]))
    report.tf1_seconds = tf1_seconds + time.perf_counter() - start
    start = time.perf_counter()
    for step in range(1, steps):
        report.tf2_losses.append(float(train_step(*batch(step))))
    report.tf2_seconds = tf2_seconds + time.perf_counter() - start
    tf1_final = tf1_weights.read(session, tf1.variables)
    report.max_abs_weight_diff = max(
        float(np.max(abs_difference(tf1_final[n], v2.numpy()), initial=0.0))
        for n, (_, v2) in zip(names, pairs)
    )
    steps_rung = _compare_losses(report, tolerance["steps"], tf1.op_types)
    report.rungs.append(steps_rung)
    if steps_rung.status == "failed" or eval_data is None:
        return _finish(report)

    # Rung 6: the metric on held-out data.
    eval_images, eval_labels = eval_data
    report.tf1_metric = metric(
        session.run(endpoints["outputs"], feed_dict={images: eval_images}), eval_labels
    )
    report.tf2_metric = metric(np.asarray(tf2.model(eval_images)), eval_labels)
    report.rungs.append(compare_metric(
        report.tf1_metric, report.tf2_metric, tolerance["metric"]
    ))
    return _finish(report)


def compare_metric(tf1_value: float, tf2_value: float, tolerance: Tolerance) -> RungResult:
    """The metric rung on two already computed values (also used on its own
    by the parity command's independent mode)."""
    difference = abs(tf1_value - tf2_value)
    allowed = max(tolerance.atol, tolerance.rtol * abs(tf1_value))
    status = "passed" if difference <= allowed else "failed"
    return RungResult(
        "metric", status, max_abs_diff=difference,
        max_rel_diff=difference / max(abs(tf1_value), 1e-30), tolerance=str(tolerance),
        where="metric",
        detail=f"TF1 {tf1_value:.6g} vs TF2 {tf2_value:.6g}, |Δ| {difference:.3g} "
               f"(allowed {allowed:.3g}).",
        likely_causes=[] if status == "passed" else [
            "Every earlier rung passed, so the sides differ only in evaluation: "
            "dropout or batch-norm left in training mode when evaluating, or a "
            "different metric definition."
        ],
    )


def assert_equivalent(*args: Any, **kwargs: Any) -> LadderReport:
    """Runs `run_ladder(*args, **kwargs)`; raises AssertionError with the
    readable report if any rung fails, else returns the report."""
    report = run_ladder(*args, **kwargs)
    if not report.passed:
        raise AssertionError("TF1 and TF2 sides differ.\n" + report.format())
    return report


def _check_arguments(images, labels, batch_size, steps, tolerances) -> None:
    if len(images) != len(labels):
        raise ValueError(
            f"train_data has {len(images)} images but {len(labels)} labels; "
            "pass arrays of the same length."
        )
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    unknown = sorted(set(tolerances or {}) - set(DEFAULT_TOLERANCES))
    if unknown:
        raise ValueError(
            f"Unknown tolerance rungs {unknown}; expected some of "
            f"{sorted(DEFAULT_TOLERANCES)}."
        )
    # batch_indices validates batch_size against the data size.
    batching.batch_indices(0, 0, batch_size, len(images))


def _tf1_endpoints(built: Any) -> dict[str, Any]:
    """Accepts a dict or an object with attributes outputs/loss/train_op."""
    required = ("outputs", "loss", "train_op")
    if isinstance(built, Mapping):
        found = {k: built[k] for k in required if k in built}
    else:
        found = {k: getattr(built, k) for k in required if hasattr(built, k)}
    missing = [k for k in required if k not in found]
    if missing:
        raise ValueError(
            f"build_tf1 must return outputs, loss and train_op (a dict or an "
            f"object with those attributes); missing: {missing}."
        )
    return found


def _match_variables(
    tf1_variables: Sequence[tf.Variable],
    tf2_variables: Sequence[tf.Variable],
    variable_map: VariableMap,
) -> tuple[list[tuple[tf.Variable, tf.Variable]], RungResult]:
    """Pairs variables under the map (or infers it); rung 1's result."""
    tf2_by_name = {tf2_weights.variable_name(v): v for v in tf2_variables}
    pairs, unmatched_tf1, misshaped, causes = [], [], [], []
    remaining_tf2 = dict(tf2_by_name)
    if variable_map is not None:
        lookup = variable_map if callable(variable_map) else variable_map.get
        for v1 in tf1_variables:
            target = lookup(tf1_weights.variable_name(v1))
            if target is None or target not in remaining_tf2:
                unmatched_tf1.append(v1)
            else:
                pairs.append((v1, remaining_tf2.pop(target)))
    else:
        # Variables compare with == as a TensorFlow op, so match by name.
        matched_by_name = {
            tf1_weights.variable_name(v1) for v1 in tf1_variables
            if tf1_weights.variable_name(v1) in remaining_tf2
        }
        for v1 in tf1_variables:
            if tf1_weights.variable_name(v1) in matched_by_name:
                pairs.append((v1, remaining_tf2.pop(tf1_weights.variable_name(v1))))
        for v1 in tf1_variables:
            if tf1_weights.variable_name(v1) in matched_by_name:
                continue
            candidate = next(
                (n for n, v2 in remaining_tf2.items() if v2.shape == v1.shape), None
            )
            if candidate is None:
                unmatched_tf1.append(v1)
            else:
                pairs.append((v1, remaining_tf2.pop(candidate)))
    for v1, v2 in pairs:
        if v1.shape != v2.shape:
            misshaped.append(
                f"{tf1_weights.variable_name(v1)} {v1.shape.as_list()} vs "
                f"{tf2_weights.variable_name(v2)} {v2.shape.as_list()}"
            )
            if list(v2.shape)[::-1] == list(v1.shape) and len(v1.shape) == 2:
                causes.append(
                    f"Transposed kernel: {tf2_weights.variable_name(v2)} is the transpose "
                    f"of {tf1_weights.variable_name(v1)} (a [in, out] matmul written "
                    "[out, in], or an explicit map pointing at the wrong variable)."
                )
    unmatched_tf1_names = [tf1_weights.variable_name(v) for v in unmatched_tf1]
    if any("bias" in name for name in unmatched_tf1_names):
        causes.append(
            "Missing bias: TF1 has a bias the TF2 side lacks (use_bias=False, or a "
            "bias never created)."
        )
    if remaining_tf2:
        causes.append(
            "The TF2 side has variables TF1 does not: an extra layer or bias, or a "
            "variable map that misses them."
        )
    failed = bool(unmatched_tf1 or misshaped or remaining_tf2)
    details = [f"{len(pairs)} of {len(tf1_variables)} TF1 variables matched"]
    if unmatched_tf1_names:
        details.append(f"TF1 without a TF2 counterpart: {unmatched_tf1_names}")
    if remaining_tf2:
        details.append(f"TF2 without a TF1 counterpart: {sorted(remaining_tf2)}")
    if misshaped:
        details.append(f"mis-shaped: {misshaped}")
    where = (unmatched_tf1_names or [m.split(" ")[0] for m in misshaped] or sorted(remaining_tf2) or [None])[0]
    return pairs, RungResult(
        "variables", "failed" if failed else "passed", tolerance="names and shapes",
        where=where, detail="; ".join(details) + ".", likely_causes=causes,
    )


def abs_difference(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """|reference - candidate| where equal non-finite values (both NaN, or the
    same infinity) count as equal and a one-sided NaN or inf as infinitely far.

    Plain subtraction would give NaN for both, and NaN compares False with
    every tolerance, so a NaN on one side would pass silently.
    """
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    same_nonfinite = (np.isnan(reference) & np.isnan(candidate)) | (
        np.isinf(reference) & (reference == candidate)
    )
    with np.errstate(invalid="ignore"):
        difference = np.abs(reference - candidate)
    difference = np.where(np.isnan(difference), np.inf, difference)
    return np.where(same_nonfinite, 0.0, difference)


def allowed_difference(tolerance: Tolerance, reference: np.ndarray) -> np.ndarray:
    """The largest |Δ| `tolerance` allows at each element of `reference`:
    max(atol, rtol × |reference|), a non-finite reference counting as 0."""
    magnitude = np.nan_to_num(np.abs(reference), nan=0.0, posinf=0.0)
    return np.maximum(tolerance.atol, tolerance.rtol * magnitude)


def _compare(
    rung: str, pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], tolerance: Tolerance
) -> RungResult:
    """Compares named (TF1, TF2) arrays; `where` is the worst offender."""
    worst_name, worst_excess, max_abs, max_rel = None, -math.inf, 0.0, 0.0
    for name, (reference, candidate) in pairs.items():
        reference = np.asarray(reference, dtype=np.float64)
        candidate = np.asarray(candidate, dtype=np.float64)
        if reference.shape != candidate.shape:
            return RungResult(
                rung, "failed", tolerance=str(tolerance), where=name,
                detail=f"{name}: TF1 shape {list(reference.shape)} vs TF2 "
                       f"{list(candidate.shape)}.",
            )
        difference = abs_difference(reference, candidate)
        allowed = allowed_difference(tolerance, reference)
        abs_diff = float(np.max(difference, initial=0.0))
        rel_diff = float(np.max(
            difference / np.maximum(np.nan_to_num(np.abs(reference)), 1e-30), initial=0.0))
        excess = float(np.max(difference - allowed, initial=-math.inf))
        max_abs, max_rel = max(max_abs, abs_diff), max(max_rel, rel_diff)
        if excess > worst_excess:
            worst_name, worst_excess = name, excess
    failed = worst_excess > 0
    return RungResult(
        rung, "failed" if failed else "passed", max_abs_diff=max_abs, max_rel_diff=max_rel,
        tolerance=str(tolerance), where=worst_name,
        detail=(f"'{worst_name}' differs beyond {tolerance} (max |Δ| {max_abs:.3g})."
                if failed else f"{len(pairs)} compared."),
    )


def _compare_losses(
    report: LadderReport, tolerance: Tolerance, op_types: set[str]
) -> RungResult:
    tf1_losses = np.asarray(report.tf1_losses, dtype=np.float64)
    tf2_losses = np.asarray(report.tf2_losses, dtype=np.float64)
    difference = abs_difference(tf1_losses, tf2_losses)
    allowed = allowed_difference(tolerance, tf1_losses)
    report.max_abs_loss_diff = float(np.max(difference))
    parted = np.nonzero(difference > allowed)[0]
    result = RungResult(
        "steps", "passed", max_abs_diff=report.max_abs_loss_diff,
        max_rel_diff=float(np.max(difference / np.maximum(np.nan_to_num(np.abs(tf1_losses)), 1e-30))),
        tolerance=str(tolerance), where=f"loss over {len(tf1_losses)} steps",
        detail=f"per-step losses agree over {len(tf1_losses)} steps.",
    )
    nonfinite = np.nonzero(~np.isfinite(tf1_losses))[0]
    if nonfinite.size:
        report.notes.append(
            f"The TF1 loss is non-finite from step {int(nonfinite[0])} on: training "
            "diverged (the TF2 side is compared step by step all the same)."
        )
    if parted.size:
        step = int(parted[0])
        report.first_divergent_step = step
        result.status, result.where = "failed", f"loss at step {step}"
        result.detail = (
            f"the losses part at step {step}: TF1 {tf1_losses[step]:.9g} vs TF2 "
            f"{tf2_losses[step]:.9g}; {parted.size} of {len(tf1_losses)} steps beyond "
            f"{tolerance}."
        )
        result.likely_causes = _optimizer_causes(op_types, None) + [
            "Randomness drawn per step differs: dropout (graph vs eager masks, or "
            "dropout left on in one side), or op-level vs graph-level seeds.",
        ]
    return result


def _finish(report: LadderReport) -> LadderReport:
    done = {r.rung for r in report.rungs}
    for rung in RUNGS:
        if rung not in done:
            report.rungs.append(RungResult(rung, "not run"))
    return report


def _forward_causes(tf1_outputs, tf2_outputs, tf2_outputs_again, tf1_loss, tf2_loss,
                    where, device) -> list[str]:
    causes = []
    if not np.array_equal(tf2_outputs, tf2_outputs_again):
        causes.append(
            "Dropout left on: the TF2 model gives different outputs for the same input "
            "(call it with training=False, or keep dropout out of the compared pass)."
        )

    def looks_like_probabilities(outputs):
        return (outputs.ndim == 2 and np.all(outputs >= 0)
                and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-4))

    if looks_like_probabilities(tf2_outputs) != looks_like_probabilities(tf1_outputs):
        causes.append(
            "Logits vs probabilities: one side applies softmax in the model and the "
            "other does not (or softmax is applied twice: in the model and again in a "
            "loss built with from_logits=True)."
        )
    if where == "loss" and tf1_loss != 0 and np.isfinite(tf1_loss):
        ratio = tf2_loss / tf1_loss
        batch = tf1_outputs.shape[0]
        if math.isclose(ratio, batch, rel_tol=1e-3) or math.isclose(ratio, 1 / batch, rel_tol=1e-3):
            causes.append(
                f"Sum vs mean reduction: the TF2 loss is {ratio:.4g}× TF1's, the batch "
                f"size is {batch} (reduce_sum vs reduce_mean, or Keras' "
                "SUM_OVER_BATCH_SIZE)."
            )
        else:
            causes.append(
                "Same outputs, different loss: check the loss formula (from_logits, "
                "softmax applied twice, clipping, one-hot vs sparse labels, regularisation)."
            )
    if where == "outputs":
        causes.append(
            "Weights copied to the wrong variables, or a kernel used transposed, or a "
            "missing bias/activation: check the variable map and the layer order."
        )
    if device and "GPU" in device.upper():
        causes.append(
            "TF32 on GPU: Ampere and newer GPUs round float32 matmuls to TF32 by default; "
            "call tf.config.experimental.enable_tensor_float_32_execution(False)."
        )
    return causes


def _gradient_causes(tf1_gradients, tf2_gradients) -> list[str]:
    ratios = [
        float(np.sum(g2 * g1) / np.sum(g1 * g1))
        for g1, g2 in zip(tf1_gradients, tf2_gradients) if np.sum(g1 * g1) > 0
    ]
    causes = []
    if ratios and np.allclose(ratios, ratios[0], rtol=1e-3) and not math.isclose(ratios[0], 1.0, rel_tol=1e-3):
        causes.append(
            f"Every gradient is {ratios[0]:.4g}× TF1's while the loss agrees: the loss is "
            "scaled inside the tape only (e.g. a reduction or a loss scale applied in the "
            "train step)."
        )
    causes.append(
        "A term in one side's loss that the forward loss did not show (regularisation "
        "added to the training loss), or tf.stop_gradient in one side."
    )
    return causes


def _optimizer_causes(op_types: set[str], tf2_optimizer: Any) -> list[str]:
    """Known optimizer-semantics mistakes, chosen by the ops the TF1 graph uses."""
    causes = []
    if op_types & {"ApplyRMSProp", "ResourceApplyRMSProp", "ResourceApplyCenteredRMSProp"}:
        causes.append(
            "RMSProp: tf.compat.v1.train.RMSPropOptimizer starts its mean-square "
            "accumulator at ones and uses epsilon 1e-10; Keras RMSprop starts it at "
            "zeros and uses epsilon 1e-7 (both add epsilon inside the sqrt)."
        )
    if op_types & {"ApplyAdam", "ResourceApplyAdam"}:
        epsilon = getattr(tf2_optimizer, "epsilon", None)
        causes.append(
            "Adam epsilon: tf.compat.v1.train.AdamOptimizer defaults to 1e-8, Keras Adam "
            f"to 1e-7 (TF2 side here: {epsilon})."
            if epsilon is not None else
            "Adam epsilon: tf.compat.v1.train.AdamOptimizer defaults to 1e-8, Keras "
            "Adam to 1e-7."
        )
    if op_types & {"ApplyMomentum", "ResourceApplyMomentum", "ResourceApplyKerasMomentum"}:
        causes.append(
            "Momentum formulation: TF1 MomentumOptimizer keeps accum = m·accum + grad and "
            "steps lr·accum; Keras SGD keeps v = m·v - lr·grad. Equal for a constant lr, "
            "not for an EMA form (1 - m)·grad, Nesterov, or a different momentum value."
        )
    return causes


def _update_causes(op_types, tf2_optimizer, start, tf1_after, tf2_after, where) -> list[str]:
    causes = _optimizer_causes(op_types, tf2_optimizer)
    tf1_delta = tf1_after[where] - start[where]
    tf2_delta = tf2_after[where] - start[where]
    denominator = float(np.sum(tf1_delta * tf1_delta))
    if denominator > 0:
        ratio = float(np.sum(tf2_delta * tf1_delta) / denominator)
        residual = np.max(np.abs(tf2_delta - ratio * tf1_delta))
        if residual <= 1e-6 * max(1.0, float(np.max(np.abs(tf1_delta)))):
            causes.append(
                f"The TF2 update is {ratio:.4g}× TF1's in the same direction: a different "
                "learning rate (or momentum/EMA factor on the first step)."
            )
    causes.append(
        "The gradients agree, so the optimizer differs: its type, learning rate, "
        "or the initial values of its slots."
    )
    return causes
