"""The migration guide's parity ladder, for any TF1 graph / TF2 pair.

TensorFlow's guide "Validating correctness & numerical equivalence" asks
everyone migrating to check, in order, on the same weights and batches:

  1. variables   each TF1 variable has a TF2 counterpart of the same shape;
  2. forward     TF1 weights copied into TF2 give the same outputs and loss;
  3. gradients   the same gradient per variable at the same point;
  4. one_update  the same update Δw after one optimizer step;
  5. steps       the same loss at every step of N, and the same final weights;
  6. metric      (with held-out data) the same metric after N steps, and
                 not at chance: two models that learned nothing prove nothing.

Each rung that compares numbers says what it saw (compat_tests.noise):
identical, within float32 noise, or a systematic difference. The noise floor
is measured in the same run: the TF1 side is run again from starting weights
and on batches moved by one ulp (in a second session on the same graph), and
for the forward and gradient rungs the TF2 side is too; how far those drift
from the unperturbed runs is how far equivalent float32 computations drift on
this machine, for this model, over these steps. A gap up to `noise_factor`
times its floor is noise; beyond it the rung fails. A fixed tolerance per rung
(`tolerances`) replaces the floor where a user wants one.

`run_ladder` runs the rungs and stops at the first that fails; the report
names the rung, the output or variable, the gap, the floor and their factor,
and only the causes that something measured points at (compat_tests.causes).
`assert_equivalent` does the same inside a test and raises AssertionError
with the readable report.

The contract for the two sides:
- TF1: `build_tf1(images, labels) -> {"outputs", "loss", "train_op"}`, a
  legacy graph-building function. The harness calls it inside a fresh
  tf.Graph with placeholders shaped like the data ([None, ...]). A graph
  with a mode input (a `keep_prob` or `is_training` placeholder) declares
  its values in two more entries: `"train_feed": {keep_prob: 0.5,
  is_training: True}` for a training step and `"eval_feed": {keep_prob: 1.0,
  is_training: False}` for inference. `"layers": {name: tensor}` names
  intermediate tensors, in order, so that a forward failure can say where
  the sides part (matched to a Keras model's layer outputs by order and
  shape). The outputs may be one tensor or a dict, tuple or list of them,
  compared key by key. A TF1 side that cannot run some rungs (a graph
  loaded from a SavedModel or a frozen GraphDef, without a loss or a train
  op; compat_tests.tf1_sources) leaves out "loss" or "train_op" and names
  them in `"skipped": {rung: reason}`; those rungs are reported "skipped"
  with the reason. `"notes": [str]` adds lines to the report (what a
  source guessed, where its weights came from).
- TF2: `make_tf2() -> Tf2Side(model, loss_fn, optimizer[, train_step])`, a
  factory, so every run starts from fresh optimizer state. `model(images)`
  returns the outputs and has `trainable_variables`; `loss_fn(labels,
  outputs)` returns a scalar (Keras' argument order); `optimizer` has
  `apply_gradients`. Without `train_step`, the harness uses
  tf2_eager.steps.make_train_step (a tf.function around a GradientTape).
  A compiled Keras model may stand in for the factory's Tf2Side: its
  compiled loss and optimizer are used.

Modes. A model whose call takes `training` is called with training=True in
the training steps and training=False in the forward, gradients and metric
rungs, as TF1 feeds train_feed and eval_feed. Where the two modes give other
outputs (batch norm), the forward and gradients rungs compare both. Dropout
makes the training mode random, and no two programs draw the same masks: when
both sides' training modes are random, the training rungs run with dropout
off (TF1 feeds the keep_prob of its eval_feed, Keras dropout layers run at
rate 0) or, failing that, in inference mode, and the report says so; when
only one side's is, the forward rung fails. The rates themselves are read
from the settings: TF1's dropout ops as its train_feed sets them against the
Keras Dropout layers' rates, and a mismatch fails the forward rung.

State. Non-trainable variables the outputs read (batch norm's moving mean and
variance) are matched like the trainable ones and compared after one update
and after N steps, with floors from the same perturbed control runs.

More controls. A flip near a threshold (a ReLU input, a batch statistic)
that Adam turns into a whole step is noise too, and one control catches it
only by chance. When the first control calls the one_update or steps rung
systematic, CONFIRMING_CONTROLS controls in all judge it, each with its own
draw of perturbations, and the report notes it.

Loss. As Keras' `fit` does, the TF2 loss is `loss_fn(labels, outputs) +
sum(model.losses)` (the regularisers' terms) in the forward and gradients
rungs and in the default training step; `Tf2Side(add_model_losses=False)`
leaves them out.

Every rung starts from the TF1 side's initial values, copied into TF2, so
those rungs do not compare the two sides' own initialisers. The opt-in
"initial_values" rung (`run_ladder(..., check_initial_values=True)`), run
after the variables rung, does: each side initialises itself, and each
mapped variable is compared, constants exactly and random values by their
distribution, at a stated false-failure rate (compat_tests.initial_values).
"""

import dataclasses
import inspect
import math
import time
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from compat_tests import causes
from compat_tests import initial_values as initialisers
from compat_tests import noise
from compat_tests import statistics
from compat_tests.noise import abs_difference
from mnist_data import batching
from tf1_graph import weights as tf1_weights
from tf2_eager import steps as tf2_steps
from tf2_eager import weights as tf2_weights
from runtime import errors

RUNGS = ("variables", "forward", "gradients", "one_update", "steps", "metric")
NUMERIC_RUNGS = RUNGS[1:]
# How many perturbed TF1 runs a training rung is judged against when the
# first one's floor calls it systematic (_judged_with_more_controls).
CONFIRMING_CONTROLS = 8
# The verdicts of a fixed tolerance, beside noise's three.
WITHIN_TOLERANCE = "within tolerance"
BEYOND_TOLERANCE = "beyond tolerance"
AT_CHANCE = "at chance"


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """A fixed bound: a value passes when |Δ| <= max(atol, rtol × |reference|),
    elementwise. With atol == rtol == t this is "t × max(1, |value|)"."""

    atol: float
    rtol: float

    def __post_init__(self):
        if self.atol < 0 or self.rtol < 0:
            raise errors.FixableError(
                f"Tolerances must be >= 0, got atol={self.atol}, rtol={self.rtol}."
            )

    def __str__(self) -> str:
        return f"atol {self.atol:g}, rtol {self.rtol:g}"


@dataclasses.dataclass
class Tf2Side:
    """The TF2 half of a pair; see the module docstring for the contract."""

    model: Callable[[tf.Tensor], tf.Tensor]
    loss_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    optimizer: Any
    train_step: Optional[Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = None
    # Adds sum(model.losses), the regularisers' terms, to loss_fn as `fit` does.
    add_model_losses: bool = True

    def loss(self, labels: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        """The loss the side trains with: loss_fn, plus model.losses when added.

        Call it after the model's call on the same tape: Keras computes an
        activity regulariser's term during the call.
        """
        loss_value = self.loss_fn(labels, outputs)
        extra = list(getattr(self.model, "losses", ())) if self.add_model_losses else []
        return loss_value + tf.add_n(extra) if extra else loss_value

    def call(self, images: Any, training: bool) -> Any:
        """The model's outputs in training or inference mode, when it has modes."""
        if _accepts_training(self.model):
            return self.model(images, training=training)
        return self.model(images)


@dataclasses.dataclass
class RungResult:
    """The outcome of one rung.

    max_abs_diff is the gap (max |TF1 - TF2| of the worst compared value),
    max_rel_diff the gap relative to that value's size (for one_update, to
    the size of the update Δw), floor the measured noise floor, factor
    gap / floor, and tolerance the bound applied ("noise ≤ 32× floor" or a
    fixed tolerance).
    """

    rung: str
    status: str  # "passed", "failed", "skipped" (the TF1 side cannot run it) or "not run".
    verdict: Optional[str] = None  # noise.IDENTICAL, WITHIN_NOISE, SYSTEMATIC, ...
    max_abs_diff: Optional[float] = None
    floor: Optional[float] = None
    factor: Optional[float] = None
    max_rel_diff: Optional[float] = None
    tolerance: Optional[str] = None
    where: Optional[str] = None  # The output or variable with the worst gap.
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
    noise_factor: float = noise.NOISE_FACTOR
    tf1_losses: list[float] = dataclasses.field(default_factory=list)
    tf2_losses: list[float] = dataclasses.field(default_factory=list)
    # The TF1 side rerun from one-ulp-perturbed weights and batches.
    control_losses: list[float] = dataclasses.field(default_factory=list)
    first_divergent_step: Optional[int] = None
    max_abs_loss_diff: Optional[float] = None
    max_abs_weight_diff: Optional[float] = None
    tf1_metric: Optional[float] = None
    tf2_metric: Optional[float] = None
    tf1_seconds: Optional[float] = None
    tf2_seconds: Optional[float] = None
    # Things worth knowing even when every rung passes.
    notes: list[str] = dataclasses.field(default_factory=list)
    # The opt-in initial_values rung's comparison, per variable.
    initial_value_checks: list[initialisers.VariableCheck] = dataclasses.field(
        default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.status != "failed" for r in self.rungs)

    @property
    def failed_rung(self) -> Optional[RungResult]:
        return next((r for r in self.rungs if r.status == "failed"), None)

    @property
    def verdict(self) -> str:
        """The worst verdict of the rungs that ran."""
        order = (AT_CHANCE, noise.SYSTEMATIC, BEYOND_TOLERANCE, noise.WITHIN_NOISE,
                 WITHIN_TOLERANCE, noise.IDENTICAL)
        seen = {r.verdict for r in self.rungs}
        return next((verdict for verdict in order if verdict in seen), noise.IDENTICAL)

    def to_dict(self) -> dict[str, Any]:
        result = dataclasses.asdict(self)
        result["passed"] = self.passed
        result["verdict"] = self.verdict
        return result

    def format(self) -> str:
        """The ladder as a table, then the verdict and, on a failure, its causes."""
        header = ("rung", "status", "verdict", "max |Δ|", "floor", "gap/floor", "rel Δ", "where")
        rows = [header] + [
            (
                r.rung,
                r.status,
                r.verdict or "-",
                _format_number(r.max_abs_diff),
                _format_number(r.floor),
                "-" if r.factor is None else _format_factor(r.factor),
                _format_number(r.max_rel_diff),
                r.where or "-",
            )
            for r in self.rungs
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        bounds = sorted({r.tolerance for r in self.rungs
                         if r.tolerance and r.rung in NUMERIC_RUNGS})
        if bounds:
            lines.append("Bounds: " + "; ".join(bounds) + ".")
        if self.initial_value_checks:
            lines.append("Initial values, each side's own (constants exactly; random values "
                         "by distribution: KS and Brown-Forsythe tests):")
            lines.extend("  " + line
                         for line in initialisers.format_table(self.initial_value_checks))
        if self.mapping_inferred:
            lines.append("Variable map (inferred by name, then creation order and shape; check it):")
            lines.extend(f"  {k} -> {v}" for k, v in self.variable_map.items())
        lines.extend(f"Note: {note}" for note in self.notes)
        skipped = [r for r in self.rungs if r.status == "skipped"]
        lines.extend(f"Skipped '{r.rung}': {r.detail}" for r in skipped)
        failed = self.failed_rung
        if failed is None and skipped:
            lines.append(
                f"PASSED: the {len(self.rungs) - len(skipped)} rungs that could run agree on "
                f"{self.device}: {self._summary()}; {len(skipped)} skipped "
                f"({', '.join(r.rung for r in skipped)})."
            )
        elif failed is None:
            lines.append(
                f"PASSED: all rungs agree on {self.device} over {self.steps} steps: "
                f"{self._summary()}."
            )
        else:
            lines.append(f"FAILED at rung '{failed.rung}' ({failed.verdict}): {failed.detail}")
            if failed.likely_causes:
                lines.append("Likely causes (each from a measurement):")
                lines.extend(f"  - {cause}" for cause in failed.likely_causes)
            elif failed.verdict != AT_CHANCE:
                lines.append(
                    "No known cause matches what was measured: compare the two sides "
                    f"from '{failed.where}' on, layer by layer."
                )
        return "\n".join(lines)

    def _summary(self) -> str:
        judged = [r for r in self.rungs if r.verdict and r.factor is not None]
        if all(r.verdict == noise.IDENTICAL for r in judged):
            return "every compared value identical"
        worst = max((r for r in judged if r.verdict != noise.IDENTICAL),
                    key=lambda r: r.factor)
        return (f"{self.verdict}, at worst {_format_factor(worst.factor)} the floor "
                f"({worst.rung}, {worst.where})")


def _format_number(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3g}"


def _format_factor(factor: float) -> str:
    return "∞×" if math.isinf(factor) else f"{factor:.3g}×"


VariableMap = Union[Mapping[str, str], Callable[[str], str], None]
InitialValues = Union[
    Mapping[str, np.ndarray], Callable[[dict[str, list[int]]], Mapping[str, np.ndarray]], None
]
Metric = Callable[[np.ndarray, np.ndarray], float]


def mean_squared_error(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Mean of (output - label)², the default metric of a one-column output."""
    outputs = np.asarray(outputs, dtype=np.float64)
    return float(np.mean((outputs.reshape(len(outputs), -1)
                          - np.asarray(labels, dtype=np.float64).reshape(len(outputs), -1)) ** 2))


def default_metric(outputs: Any) -> Metric:
    """Accuracy for a classifier's rows of scores, mean squared error for a
    regression's one column (whose argmax would always be 0)."""
    if isinstance(outputs, (Mapping, tuple, list)):
        raise errors.FixableError(
            "The model returns several outputs, so the ladder cannot choose a metric: "
            "pass run_ladder(..., metric=function(outputs, labels) -> float)."
        )
    outputs = np.asarray(outputs)
    return mean_squared_error if outputs.ndim == 1 or outputs.shape[-1] == 1 else accuracy_percent


def accuracy_percent(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of rows whose argmax output matches the label (int or one-hot)."""
    return float(np.mean(np.argmax(outputs, axis=1) == _class_ids(labels)) * 100.0)


def _class_ids(labels: np.ndarray) -> np.ndarray:
    return np.argmax(labels, axis=1) if np.ndim(labels) == 2 else np.asarray(labels)


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
    metric: Optional[Metric] = None,
    tolerances: Optional[Mapping[str, Tolerance]] = None,
    noise_factor: float = noise.NOISE_FACTOR,
    seed: int = 0,
    device: Optional[str] = None,
    check_initial_values: bool = False,
) -> LadderReport:
    """Runs the ladder on a TF1/TF2 pair and returns the report.

    Args:
      build_tf1: The TF1 graph-building function (see module docstring).
      make_tf2: Factory of the TF2 side (see module docstring).
      train_data: (images, labels) numpy arrays; both sides train on batch
        mnist_data.batch_indices(seed, step, batch_size, len(images)).
      batch_size: Examples per step.
      steps: Training steps N for the "steps" rung, >= 1.
      variable_map: {TF1 name: TF2 name} or a function TF1 name -> TF2 name,
        names without ":0" (Keras variables' `.path`). None infers the map:
        equal names, then creation order and shape; the report prints it.
      initial_values: {TF1 name: array}, or a function of the TF1 variables'
        {name: shape} returning them. None keeps the TF1 initialisers'
        values (graph seed `seed`); TF2 starts from a copy either way.
      eval_data: Held-out (images, labels) for the metric rung.
      metric: metric(outputs, labels) -> float. None takes accuracy in percent
        (checked against chance), or mean_squared_error for one column.
      tolerances: Fixed tolerances by rung name, replacing that rung's
        measured noise floor.
      noise_factor: How many times its measured floor a gap may be and still
        count as float32 noise (compat_tests.noise.NOISE_FACTOR).
      seed: Seed for the batch order and the TF1 graph-level seed.
      device: Device for both sides ("/CPU:0", "/GPU:0"); None picks the
        first GPU when there is one, else the CPU.
      check_initial_values: Runs the "initial_values" rung after the
        variables rung (see module docstring).
    """
    _check_arguments(*train_data, batch_size, steps, tolerances, noise_factor)
    if device is None:
        device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
    tf1 = _build_tf1_graph(build_tf1, *train_data, seed, device)
    report = LadderReport(rungs=[], variable_map={}, mapping_inferred=variable_map is None,
                          device=device, steps=steps, noise_factor=noise_factor)
    _run_rungs(tf1, make_tf2, device, check_initial_values, dict(
        variable_map=variable_map, initial_values=initial_values, steps=steps,
        batch=_batches(train_data, batch_size, seed), eval_data=eval_data, metric=metric,
        tolerances=dict(tolerances or {}), noise_factor=noise_factor, seed=seed, report=report,
    ))
    return _finish(report)


def _batches(
    train_data: tuple[np.ndarray, np.ndarray], batch_size: int, seed: int
) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """batch(step) -> (images, labels), the same batches for both sides."""
    train_images, train_labels = train_data

    def batch(step: int) -> tuple[np.ndarray, np.ndarray]:
        indices = batching.batch_indices(seed, step, batch_size, len(train_images))
        return train_images[indices], train_labels[indices]

    return batch


def _run_rungs(
    tf1: "_Tf1Graph",
    make_tf2: Callable[[], Tf2Side],
    device: str,
    check_initial_values: bool,
    settings: dict[str, Any],
) -> None:
    """Runs the rungs in order into settings["report"], up to the first that
    fails; `settings` are the Context fields run_ladder's arguments give."""
    report = settings["report"]
    # Not `with Session(...) as session`: entering a Session makes its graph
    # the default, and the TF2 calls would then build graph ops in it instead
    # of running eagerly. Two sessions on one graph hold separate variables,
    # so the perturbed control run never touches the compared one.
    session = tf.compat.v1.Session(graph=tf1.graph)
    control_session = tf.compat.v1.Session(graph=tf1.graph)
    context = None
    try:
        with tf.device(device):
            context = Context(
                tf1=tf1, session=session, control_session=control_session,
                tf2=_make_tf2_side(make_tf2, settings["batch"](0)[0]),
                train_feed=dict(tf1.train_feed), **settings,
            )
            report.notes.extend(tf1.notes)
            for rung in rung_functions(check_initial_values):
                name = rung.__name__.removesuffix("_rung")
                if name in tf1.skipped:
                    report.rungs.append(RungResult(name, "skipped", detail=tf1.skipped[name]))
                    continue
                result = rung(context)
                if result is None:  # The metric rung without held-out data.
                    break
                report.rungs.append(result)
                if result.status == "failed":
                    break
    finally:
        if context is not None:
            context.restore_dropout()
        session.close()
        control_session.close()


def _make_tf2_side(make_tf2: Callable[[], Any], first_images: np.ndarray) -> Tf2Side:
    tf2 = _as_tf2_side(make_tf2())
    # Calling the model once builds lazily created variables (Keras,
    # Sonnet-style modules) before they are listed.
    tf2.call(first_images, training=False)
    return tf2


def _as_tf2_side(made: Any) -> Tf2Side:
    """The factory's Tf2Side, or one made of a compiled Keras model's own
    loss and optimizer; anything else is named with the fix."""
    if isinstance(made, Tf2Side):
        return made
    if isinstance(made, tf.keras.Model):
        compiled_loss = getattr(made, "loss", None)
        if compiled_loss is not None and getattr(made, "optimizer", None) is not None:
            loss = tf.keras.losses.get(compiled_loss)

            def mean_loss(labels: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
                # A loss named by a string is a function of per-example
                # losses; compile averages them over the batch.
                return tf.reduce_mean(loss(labels, outputs))

            return Tf2Side(model=made, loss_fn=mean_loss, optimizer=made.optimizer)
        raise errors.FixableError(
            f"make_tf2 returned a Keras {type(made).__name__} that is not compiled, so "
            "the ladder has no loss or optimizer for the TF2 side. Call model.compile("
            "loss=..., optimizer=...) in the factory, or return compat_tests.ladder."
            "Tf2Side(model=model, loss_fn=..., optimizer=...)."
        )
    raise errors.FixableError(
        f"make_tf2 returned a {type(made).__name__}; it must return compat_tests.ladder."
        "Tf2Side(model=..., loss_fn=..., optimizer=...) or a compiled Keras model."
    )


def _accepts_training(model: Any) -> bool:
    """Whether model(images, training=...) is a call the model takes."""
    if isinstance(model, tf.keras.layers.Layer):
        return True
    try:
        parameters = inspect.signature(model.__call__).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "training" or p.kind is inspect.Parameter.VAR_KEYWORD
               for p in parameters)


@dataclasses.dataclass
class _Tf1Graph:
    """The user's TF1 graph plus what the harness adds to it."""

    graph: tf.Graph
    images: tf.Tensor
    labels: tf.Tensor
    endpoints: dict[str, Any]
    variables: list[tf.Variable]
    # Non-trainable variables the outputs read (moving mean and variance).
    state_variables: list[tf.Variable]
    gradients: list[tf.Tensor]
    loader: tf1_weights.Loader
    # Intermediate tensors the user named, in order, for localisation.
    layers: dict[str, tf.Tensor]
    # Extra feeds of a training step and of inference (keep_prob, is_training).
    train_feed: dict[tf.Tensor, Any]
    eval_feed: dict[tf.Tensor, Any]
    initializer: tf.Operation
    # The TF1 optimizer as its apply ops hold it (compat_tests.causes).
    optimizer_family: Optional[str]
    hyperparameters: dict[str, tf.Tensor]
    nesterov: bool
    # {rung: reason} of the rungs this TF1 side cannot run, and its notes.
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)


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
        try:
            built_graph = build_tf1(images, labels)
        except (ValueError, TypeError) as error:
            if getattr(build_tf1, "explains_its_errors", False):
                raise  # A TF1 source from files or a child process says what failed.
            raise errors.FixableError(
                f"build_tf1 failed on images {images.shape} {images.dtype.name} and labels "
                f"{labels.shape} {labels.dtype.name} (placeholders shaped like the data): "
                f"{error}{_labels_hint('TF1', train_labels)}") from error
        endpoints = _tf1_endpoints(built_graph)
        train_feed, eval_feed = _tf1_feeds(endpoints, graph, images, labels)
        variables = tf.compat.v1.trainable_variables()
        read_by_outputs = _upstream_operations(tf.nest.flatten(endpoints["outputs"]))
        state_variables = [
            v for v in tf.compat.v1.global_variables()
            if v.op in read_by_outputs and not any(v is t for t in variables)
        ]
        family, hyperparameters, nesterov = causes.tf1_optimizer(graph)
        built = _Tf1Graph(
            graph=graph, images=images, labels=labels, endpoints=endpoints,
            variables=variables, state_variables=state_variables,
            gradients=(tf.gradients(endpoints["loss"], variables)
                       if "loss" in endpoints else []),
            loader=tf1_weights.Loader(variables + state_variables),
            layers=_tf1_layers(endpoints.get("layers")),
            train_feed=train_feed, eval_feed=eval_feed,
            initializer=tf.compat.v1.global_variables_initializer(),
            optimizer_family=family, hyperparameters=hyperparameters, nesterov=nesterov,
            skipped=endpoints.get("skipped", {}), notes=list(endpoints.get("notes", ())),
        )
    graph.finalize()
    return built


@dataclasses.dataclass
class _Point:
    """One side's outputs, loss and gradients at one point (weights, batch)."""

    outputs: np.ndarray
    # A scalar in the loss' own dtype, so its ulp is the right one; None
    # when the TF1 side has no loss.
    loss: Optional[np.ndarray]
    gradients: list[np.ndarray]


@dataclasses.dataclass
class _PointEvidence:
    """Both sides at the start on the first batch, and each side again from
    one-ulp-perturbed weights and images (the forward and gradient floors)."""

    tf1: _Point
    tf2: _Point
    tf1_control: _Point
    tf2_control: _Point
    tf2_outputs_again: np.ndarray


@dataclasses.dataclass
class _Trajectory:
    """One side's N steps: the loss of each, weights after the first and the last."""

    losses: list[float]
    after_one: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    learning_rates: list[Optional[float]]
    # The optimizer's hyperparameters as each step used them (TF1 only).
    hyperparameters: list[dict[str, np.ndarray]]
    seconds: float


@dataclasses.dataclass
class _Control:
    """TF1 trained from one-ulp-perturbed weights, on perturbed batches."""

    start: dict[str, np.ndarray]
    trajectory: _Trajectory


@dataclasses.dataclass
class _TrainingEvidence:
    tf1: _Trajectory
    tf2: _Trajectory
    # One control at first; CONFIRMING_CONTROLS once a rung needs them.
    controls: list[_Control]


@dataclasses.dataclass(frozen=True)
class Compared:
    """A TF1 value and its TF2 counterpart, with what measures their noise.

    drifts: pairs of runs of one side that differ only by a one-ulp
    perturbation; the largest |Δ| among them is the floor. scale: the size
    the gap is shown relative to. floor_minimum: the smallest floor
    rounding itself allows (default: one ulp of the reference's magnitude).
    """

    reference: Any
    candidate: Any
    drifts: Sequence[tuple[Any, Any]]
    scale: float
    floor_minimum: Optional[float] = None

    def minimum_floor(self) -> float:
        if self.floor_minimum is not None:
            return self.floor_minimum
        return noise.rounding_floor(np.asarray(self.reference))


@dataclasses.dataclass(frozen=True)
class _Judged:
    verdict: str
    gap: float
    floor: Optional[float]
    factor: Optional[float]
    scale: float

    @property
    def failed(self) -> bool:
        return self.verdict in (noise.SYSTEMATIC, BEYOND_TOLERANCE)

    @property
    def badness(self) -> tuple[bool, float]:
        return (self.failed, self.factor if self.factor is not None else self.gap)


class _RandomOnOneSide(Exception):
    """Only one side's training mode is random: dropout on one side only."""

    def __init__(self, side: str):
        super().__init__(side)
        self.side = side


class _ShapeMismatch(ValueError):
    def __init__(self, name: str, detail: str):
        super().__init__(detail)
        self.name, self.detail = name, detail


# The two modes a model may run in; the TF1 side feeds eval_feed or train_feed.
INFERENCE = "inference"
TRAINING = "training"


@dataclasses.dataclass
class Context:
    """What every rung reads: both sides, the run's settings, and the
    measurements the rungs share, each made once when first asked for."""

    tf1: _Tf1Graph
    session: tf.compat.v1.Session
    control_session: tf.compat.v1.Session
    tf2: Tf2Side
    variable_map: VariableMap
    initial_values: InitialValues
    batch: Callable[[int], tuple[np.ndarray, np.ndarray]]
    steps: int
    eval_data: Optional[tuple[np.ndarray, np.ndarray]]
    metric: Optional[Metric]
    tolerances: dict[str, Tolerance]
    noise_factor: float
    seed: int
    report: LadderReport
    pairs: list[tuple[tf.Variable, tf.Variable]] = dataclasses.field(default_factory=list)
    # Non-trainable variables (moving statistics), paired like `pairs`.
    state_pairs: list[tuple[tf.Variable, tf.Variable]] = dataclasses.field(default_factory=list)
    start_values: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    # The mode the training rungs run in: TRAINING unless dropout makes it random.
    training_mode: str = TRAINING
    # TF1's training feed as the training rungs use it: train_feed, with a
    # keep_prob switched to its eval_feed value when dropout is turned off.
    train_feed: dict[tf.Tensor, Any] = dataclasses.field(default_factory=dict)
    # (layer, rate) of Keras dropout layers set to rate 0 for the run.
    silenced_dropout: list[tuple[Any, float]] = dataclasses.field(default_factory=list)
    _points: Optional[dict[str, _PointEvidence]] = None
    _training: Optional[_TrainingEvidence] = None

    @property
    def names(self) -> list[str]:
        """The TF1 names of the paired trainable variables, in pair order."""
        return [tf1_weights.variable_name(v1) for v1, _ in self.pairs]

    @property
    def state_names(self) -> list[str]:
        """The TF1 names of the paired non-trainable variables."""
        return [tf1_weights.variable_name(v1) for v1, _ in self.state_pairs]

    @property
    def state_pairs_by_name(self) -> dict[str, tf.Variable]:
        """{TF1 name: TF2 variable} of the paired non-trainable variables."""
        return {tf1_weights.variable_name(v1): v2 for v1, v2 in self.state_pairs}

    def perturbed(self, values: np.ndarray, step: int, control: int = 0) -> np.ndarray:
        """`values` (a batch of step `step`) moved one ulp, the same draw each
        time for the same control run."""
        return noise.perturb_last_bit(values, seed=self.control_seed(control) * 7919 + step + 1)

    def control_seed(self, control: int) -> int:
        """The seed of control run `control`'s perturbations; the first's is `seed`."""
        return self.seed + 100_003 * control

    def start(self) -> None:
        """Initialises the TF1 session, loads the initial values, copies them to TF2."""
        self.session.run(self.tf1.initializer)
        all_variables = self.tf1.variables + self.tf1.state_variables
        values = self.initial_values
        if values is not None:
            if callable(values):
                values = values(
                    {tf1_weights.variable_name(v): v.shape.as_list() for v in self.tf1.variables}
                )
            # Initial values are given for the trainable variables; the
            # state starts where the TF1 initialisers put it.
            state = tf1_weights.read(self.session, self.tf1.state_variables)
            self.tf1.loader.load(self.session, {**state, **values})
        self.start_values = tf1_weights.read(self.session, all_variables)
        self._assign_tf2(self.start_values)

    def _assign_tf2(self, values: Mapping[str, np.ndarray]) -> None:
        for v1, v2 in self.pairs + self.state_pairs:
            v2.assign(values[tf1_weights.variable_name(v1)])

    def _read_tf2(self) -> dict[str, np.ndarray]:
        return {tf1_weights.variable_name(v1): v2.numpy()
                for v1, v2 in self.pairs + self.state_pairs}

    def feed(self, images, labels, mode: str) -> dict:
        """The TF1 feed of a batch in `mode`."""
        modes = {TRAINING: self.train_feed, INFERENCE: self.tf1.eval_feed}
        return {self.tf1.images: images, self.tf1.labels: labels, **modes[mode]}

    def points(self) -> dict[str, _PointEvidence]:
        """The forward and gradient evidence in each compared mode."""
        if self._points is None:
            self._points = self._measure_points()
        return self._points

    def _measure_points(self) -> dict[str, _PointEvidence]:
        images, labels = self.batch(0)
        perturbed_images = self.perturbed(images, 0)
        perturbed_start = noise.perturb_all(self.start_values, self.seed)
        self.control_session.run(self.tf1.initializer)
        self.tf1.loader.load(self.control_session, perturbed_start)
        def evidence(mode: str) -> _PointEvidence:
            tf1 = self._tf1_point(self.session, images, labels, mode)
            tf1_control = self._tf1_point(self.control_session, perturbed_images, labels, mode)
            tf2 = self._tf2_point(images, labels, mode)
            self._assign_tf2(self.start_values)
            tf2_outputs_again = _to_numpy(self.tf2.call(images, training=mode == TRAINING))
            self._assign_tf2(perturbed_start)
            tf2_control = self._tf2_point(perturbed_images, labels, mode)
            self._assign_tf2(self.start_values)
            return _PointEvidence(tf1, tf2, tf1_control, tf2_control, tf2_outputs_again)

        points = {INFERENCE: evidence(INFERENCE)}
        # A TF2 side random in inference mode fails the forward rung as it
        # is; its training mode says nothing more. A TF1 side without a
        # train op (a served model) has no training mode to compare.
        if ("train_op" in self.tf1.endpoints
                and _output_gap(points[INFERENCE].tf2.outputs,
                                points[INFERENCE].tf2_outputs_again) == 0):
            points.update({mode: evidence(mode)
                           for mode in self._modes_that_differ(images, labels)})
        return points

    def _modes_that_differ(self, images, labels) -> list[str]:
        """[TRAINING] when its outputs differ from inference's and both sides
        compute them deterministically, else []. Sets training_mode, and
        raises _RandomOnOneSide when only one side's training mode is random."""
        def run(mode: str) -> np.ndarray:
            return self.session.run(self.tf1.endpoints["outputs"],
                                    feed_dict=self.feed(images, labels, mode))

        tf1_training, tf1_training_again = run(TRAINING), run(TRAINING)
        tf2_training = _to_numpy(self.tf2.call(images, training=True))
        self._assign_tf2(self.start_values)
        tf2_training_again = _to_numpy(self.tf2.call(images, training=True))
        self._assign_tf2(self.start_values)
        tf1_random = _output_gap(tf1_training, tf1_training_again) != 0
        tf2_random = _output_gap(tf2_training, tf2_training_again) != 0
        if tf1_random != tf2_random:
            raise _RandomOnOneSide("TF1" if tf1_random else "TF2")
        if tf1_random:
            # No two programs draw the same dropout masks. Training with
            # dropout off keeps what else the training mode does (batch
            # statistics, moving averages) comparable.
            self.silenced_dropout = _silence_keras_dropout(self.tf2.model)
            tf2_silenced = _to_numpy(self.tf2.call(images, training=True))
            self._assign_tf2(self.start_values)
            tf2_still_random = _output_gap(
                tf2_silenced, _to_numpy(self.tf2.call(images, training=True))) != 0
            self._assign_tf2(self.start_values)
            tf2_modes_differ = _output_gap(
                tf2_silenced, _to_numpy(self.tf2.call(images, training=False))) != 0
            switched = self._switch_off_tf1_dropout(
                images, labels, inference=run(INFERENCE) if tf2_modes_differ else None)
            if switched is None or tf2_still_random:
                self.training_mode = INFERENCE
                self.report.notes.append(
                    "Both sides' training modes are random (dropout), and no two programs "
                    "draw the same masks: the one_update, steps and metric rungs trained both "
                    "sides in inference mode (TF1's eval_feed, TF2's training=False), so they "
                    "do not compare the dropout rates or batch norm's training mode."
                )
                return []
            self.report.notes.append(
                "Both sides' training modes are random (dropout), and no two programs draw "
                f"the same masks: the training rungs ran in training mode with dropout off "
                f"(TF1 {switched}, the TF2 model's "
                f"{len(self.silenced_dropout)} Keras dropout layers at rate 0), so they do not "
                "compare dropout masks (the forward rung compares the rates as each side "
                "sets them)."
            )
            tf1_training = run(TRAINING)
        return [TRAINING] if _output_gap(tf1_training, run(INFERENCE)) != 0 else []

    def _switch_off_tf1_dropout(self, images, labels,
                                inference: Optional[np.ndarray]) -> Optional[str]:
        """Switches TF1's dropout off for the training rungs, if it can, and
        says how; None if it cannot.

        First by the one train_feed placeholder whose eval_feed value makes
        TF1's training mode deterministic (keep_prob). `inference` is TF1's
        inference output when TF2's training mode does more than drop out
        (batch norm): a placeholder that also turns TF1's training mode into
        inference (one is_training for dropout and batch norm) is then no
        dropout switch. Failing that, by feeding 0 to the rate tensors of
        TF1's tf.nn.dropout ops, which leaves the rest of the training mode
        as it is."""
        outputs = self.tf1.endpoints["outputs"]

        def deterministic_and_training(candidate: dict) -> bool:
            feed = {self.tf1.images: images, self.tf1.labels: labels, **candidate}
            first, second = (self.session.run(outputs, feed_dict=feed) for _ in range(2))
            return _output_gap(first, second) == 0 and (
                inference is None or _output_gap(first, inference) != 0)

        for tensor in self.tf1.train_feed:
            if tensor not in self.tf1.eval_feed:
                continue
            candidate = {**self.tf1.train_feed, tensor: self.tf1.eval_feed[tensor]}
            if deterministic_and_training(candidate):
                self.train_feed = candidate
                return f"fed {tensor.op.name} its eval_feed value"
        rates = [tensor for _, tensor in causes.tf1_dropout_rates(self.tf1.graph)
                 if tensor.shape.is_fully_defined() and self.tf1.graph.is_feedable(tensor)]
        if rates:
            candidate = {**self.tf1.train_feed,
                         **{tensor: np.zeros(tensor.shape, tensor.dtype.as_numpy_dtype)
                            for tensor in rates}}
            if deterministic_and_training(candidate):
                self.train_feed = candidate
                return f"fed its {len(rates)} tf.nn.dropout rate tensors 0"
        return None

    def tf1_inference_is_random(self) -> bool:
        """Whether TF1's outputs on the first batch differ between two runs."""
        images, labels = self.batch(0)
        first, second = (self.session.run(self.tf1.endpoints["outputs"],
                                          self.feed(images, labels, INFERENCE))
                         for _ in range(2))
        return _output_gap(first, second) != 0

    def restore_dropout(self) -> None:
        """Gives the Keras dropout layers back the rates they were built with."""
        for layer, rate in self.silenced_dropout:
            layer.rate = rate
        self.silenced_dropout = []

    def _tf1_point(self, session, images, labels, mode: str) -> _Point:
        if "loss" not in self.tf1.endpoints:
            outputs = session.run(self.tf1.endpoints["outputs"],
                                  feed_dict=self.feed(images, labels, mode))
            return _Point(outputs, None, [])
        outputs, loss, gradients = session.run(
            [self.tf1.endpoints["outputs"], self.tf1.endpoints["loss"], self.tf1.gradients],
            feed_dict=self.feed(images, labels, mode),
        )
        return _Point(outputs, np.asarray(loss), list(gradients))

    def _tf2_point(self, images, labels, mode: str) -> _Point:
        variables = [v2 for _, v2 in self.pairs]
        if "loss" not in self.tf1.endpoints:
            return _Point(_to_numpy(self.tf2.call(images, training=mode == TRAINING)), None, [])
        with tf.GradientTape() as tape:
            outputs = self.tf2.call(images, training=mode == TRAINING)
            try:
                loss = self.tf2.loss(labels, outputs)
            except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
                raise errors.FixableError(
                    f"The TF2 side's loss_fn(labels, outputs) failed on labels "
                    f"{list(np.shape(labels))} {np.asarray(labels).dtype} and outputs "
                    f"{[list(value.shape) for value in output_items(_to_numpy(outputs)).values()]}"
                    f": {str(error).strip()}{_labels_hint('TF2', labels)}") from error
        gradients = tape.gradient(loss, variables)
        return _Point(
            _to_numpy(outputs), np.asarray(loss),
            [None if g is None else np.asarray(g) for g in gradients],
        )

    def training(self) -> _TrainingEvidence:
        if self._training is None:
            tf1 = self._tf1_trajectory(self.session, self.start_values)
            self._training = _TrainingEvidence(tf1=tf1, tf2=self._tf2_trajectory(), controls=[])
            self.add_controls(1)
        return self._training

    def add_controls(self, total: int) -> int:
        """Trains perturbed TF1 controls until there are `total`, each with
        its own draw of perturbations; returns how many it added."""
        training = self.training()
        added = 0
        while len(training.controls) < total:
            control = len(training.controls)
            start = noise.perturb_all(self.start_values, self.control_seed(control))
            training.controls.append(_Control(start, self._tf1_trajectory(
                self.control_session, start, reference=training.tf1, control=control)))
            added += 1
        return added

    def _tf1_trajectory(self, session, start_values, reference: Optional[_Trajectory] = None,
                        control: int = 0) -> _Trajectory:
        """N TF1 steps from start_values. With a reference run it is control
        run `control`: every batch, and every hyperparameter as the reference
        used it, moved one ulp. Equivalent programs round their constants
        differently (Keras takes 1 - β2 in float64, TF1 in float32), and
        Adam's 1 / (1 - β2) makes that rounding visible."""
        tf1, endpoints = self.tf1, self.tf1.endpoints
        all_variables = tf1.variables + tf1.state_variables
        session.run(tf1.initializer)
        tf1.loader.load(session, start_values)
        fetches = [endpoints["loss"], endpoints["train_op"], tf1.hyperparameters]
        feedable = sorted(name for name, tensor in tf1.hyperparameters.items()
                          if tf1.graph.is_feedable(tensor))
        losses, hyperparameters, after_one = [], [], {}
        began = time.perf_counter()
        for step in range(self.steps):
            images, labels = self.batch(step)
            feed = self.feed(images, labels, self.training_mode)
            if reference is not None:
                feed[tf1.images] = self.perturbed(images, step, control)
                feed.update({
                    tf1.hyperparameters[name]: noise.perturb_last_bit(
                        reference.hyperparameters[step][name],
                        seed=self.control_seed(control) + index)
                    for index, name in enumerate(feedable)
                })
            loss, _, used = session.run(fetches, feed_dict=feed)
            losses.append(float(loss))
            hyperparameters.append(used)
            if step == 0:
                after_one = tf1_weights.read(session, all_variables)
        seconds = time.perf_counter() - began
        rates = [float(used["learning_rate"]) if "learning_rate" in used else None
                 for used in hyperparameters]
        return _Trajectory(losses, after_one, tf1_weights.read(session, all_variables),
                           rates, hyperparameters, seconds)

    def _tf2_trajectory(self) -> _Trajectory:
        tf2 = self.tf2
        self._assign_tf2(self.start_values)
        train_step = tf2.train_step or tf2_steps.make_train_step(
            tf2.model, tf2.loss, tf2.optimizer,
            training=self.training_mode == TRAINING and _accepts_training(tf2.model))
        losses, rates, after_one = [], [], {}
        began = time.perf_counter()
        for step in range(self.steps):
            rates.append(causes.tf2_learning_rate(tf2.optimizer))
            losses.append(float(train_step(*self.batch(step))))
            if step == 0:
                after_one = self._read_tf2()
        seconds = time.perf_counter() - began
        return _Trajectory(losses, after_one, self._read_tf2(), rates, [], seconds)

    def compare(self, rung: str, compared: Mapping[str, "Compared"]) -> dict[str, "_Judged"]:
        """Judges each named TF1/TF2 value: against the rung's fixed tolerance
        if one was given, else against the floor its drifts measure."""
        tolerance = self.tolerances.get(rung)
        judged = {}
        for name, values in compared.items():
            reference = np.asarray(values.reference, dtype=np.float64)
            candidate = np.asarray(values.candidate, dtype=np.float64)
            if reference.shape != candidate.shape:
                raise _ShapeMismatch(
                    name, f"{name}: TF1 shape {list(reference.shape)} vs TF2 "
                          f"{list(candidate.shape)}.")
            gap = noise.max_abs_difference(reference, candidate)
            if tolerance is None:
                floor = max([values.minimum_floor()]
                            + [noise.max_abs_difference(a, b) for a, b in values.drifts])
                judgement = noise.judge(gap, floor, self.noise_factor)
                judged[name] = _Judged(judgement.verdict, gap, floor, judgement.factor,
                                       values.scale)
            else:
                beyond = np.any(abs_difference(reference, candidate)
                                > allowed_difference(tolerance, reference))
                verdict = (noise.IDENTICAL if gap == 0 else
                           BEYOND_TOLERANCE if beyond else WITHIN_TOLERANCE)
                judged[name] = _Judged(verdict, gap, None, None, values.scale)
        return judged

    def judge(self, rung: str, compared: Mapping[str, "Compared"]) -> RungResult:
        """compare(), summed up in one RungResult named after the worst value."""
        try:
            judged = self.compare(rung, compared)
        except _ShapeMismatch as mismatch:
            return RungResult(rung, "failed", noise.SYSTEMATIC, tolerance=self.bound(rung),
                              where=mismatch.name, detail=mismatch.detail)
        return self.result(rung, judged, f"{len(compared)} compared")

    def result(self, rung: str, judged: Mapping[str, "_Judged"], compared: str) -> RungResult:
        """The RungResult of judged values: failed if any is systematic or
        beyond its tolerance; `where` names the worst."""
        where, worst = max(judged.items(), key=lambda item: item[1].badness)
        failed = worst.failed
        if failed and worst.floor is not None:
            detail = (f"'{where}' differs systematically: gap {worst.gap:.3g} is "
                      f"{_format_factor(worst.factor)} its noise floor {worst.floor:.3g}.")
        elif failed:
            detail = f"'{where}' differs beyond {self.tolerances[rung]} (max |Δ| {worst.gap:.3g})."
        else:
            detail = f"{compared}; the worst, {where}, {worst.verdict}."
        return RungResult(
            rung, "failed" if failed else "passed", worst.verdict, max_abs_diff=worst.gap,
            floor=worst.floor, factor=worst.factor,
            max_rel_diff=worst.gap / worst.scale if worst.scale else None,
            tolerance=self.bound(rung), where=where, detail=detail,
        )

    def bound(self, rung: str) -> str:
        tolerance = self.tolerances.get(rung)
        return (f"noise ≤ {self.noise_factor:g}× floor" if tolerance is None
                else f"fixed: {tolerance}")


def variables_rung(context: Context) -> RungResult:
    """Rung 1: pairs the variables by the map (or infers it); names and shapes,
    the trainable ones and then the state (moving statistics)."""
    model = context.tf2.model
    tf2_trainable = list(model.trainable_variables)
    context.pairs, result = _match_variables(
        context.tf1.variables, tf2_trainable, context.variable_map)
    if result.status == "passed":
        context.state_pairs, state_result = _match_variables(
            context.tf1.state_variables, _tf2_state_variables(model), context.variable_map)
        state_result.detail = "State: " + state_result.detail
        if state_result.status == "failed":
            result = state_result
        else:
            result.detail += " " + state_result.detail
    context.report.variable_map = {
        tf1_weights.variable_name(v1): tf2_weights.variable_name(v2)
        for v1, v2 in context.pairs + context.state_pairs
    }
    return result


def _tf2_state_variables(model: Any) -> list[tf.Variable]:
    """The model's non-trainable variables, without Keras' random seed state
    (a dropout layer's generator, which has no TF1 counterpart)."""
    trainable = {id(v) for v in model.trainable_variables}
    return [v for v in getattr(model, "variables", ())
            if id(v) not in trainable
            and not tf2_weights.variable_name(v).endswith("seed_generator_state")]


def _tf2_layer_probe(model: Any) -> Optional[tuple[list[str], Callable]]:
    """(names, function images -> each layer's output) of a Keras model with
    known inputs (Sequential with an Input, or functional), else None."""
    inputs = getattr(model, "inputs", None)
    layers = getattr(model, "layers", None)
    if not inputs or not layers:
        return None
    try:
        probe = tf.keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                               [layer.output for layer in layers])
    except (ValueError, AttributeError, TypeError):
        return None
    return [layer.name for layer in layers], probe


def localise(context: Context) -> tuple[str, list[str]]:
    """(detail, causes): the first of the user's named TF1 layers whose
    values part from the TF2 layer matched to it by order and shape, on the
    first batch in inference mode, judged against the perturbed controls."""
    probe = _tf2_layer_probe(context.tf2.model)
    if not context.tf1.layers or probe is None:
        return (" Name the TF1 side's intermediate tensors in build_tf1's \"layers\" (and "
                "give the TF2 side a Keras model with an Input) to learn where they part.", [])
    tf2_names, tf2_probe = probe
    images, labels = context.batch(0)
    perturbed_images = context.perturbed(images, 0)
    tensors = list(context.tf1.layers.values())
    tf1_values = context.session.run(tensors, context.feed(images, labels, INFERENCE))
    tf1_controls = context.control_session.run(
        tensors, context.feed(perturbed_images, labels, INFERENCE))
    tf2_values = [np.asarray(value) for value in tf2_probe(images, training=False)]
    context._assign_tf2(noise.perturb_all(context.start_values, context.seed))
    tf2_controls = [np.asarray(value) for value in tf2_probe(perturbed_images, training=False)]
    context._assign_tf2(context.start_values)
    pairs, tf2_indices, next_tf2 = [], [], 0
    for tf1_name, tf1_value, tf1_control in zip(context.tf1.layers, tf1_values, tf1_controls):
        match = next((index for index in range(next_tf2, len(tf2_values))
                      if tf2_values[index].shape == tf1_value.shape), None)
        if match is None:
            continue
        pairs.append((tf1_name, tf2_names[match], tf1_value, tf1_control,
                      tf2_values[match], tf2_controls[match]))
        tf2_indices.append(match)
        next_tf2 = match + 1
    layer_map = ", ".join(f"{tf1_name} -> {tf2_name}" for tf1_name, tf2_name, *_ in pairs)
    for index, (tf1_name, tf2_name, tf1_value, tf1_control, tf2_value, tf2_control) in enumerate(
            pairs):
        compared = Compared(tf1_value, tf2_value, [(tf1_value, tf1_control),
                                                   (tf2_value, tf2_control)],
                            _magnitude(tf1_value))
        judged = context.compare("forward", {tf1_name: compared})[tf1_name]
        if judged.failed:
            floor = max(noise.max_abs_difference(a, b) for a, b in compared.drifts)
            detail = (f" The first named layer where they part is TF1 '{tf1_name}' / TF2 "
                      f"'{tf2_name}' (gap {judged.gap:.3g}); the layers before it agree "
                      f"(layers matched by order and shape: {layer_map}).")
            permutation = causes.permuted_features(
                tf1_value, tf2_value, context.noise_factor * max(floor, compared.minimum_floor()))
            # The ops and Keras layers since the last layer that agreed.
            previous_tf1 = ([context.tf1.layers[pairs[index - 1][0]]] if index else
                            [context.tf1.images])
            new_operations = (_upstream_operations([context.tf1.layers[tf1_name]])
                              - _upstream_operations(previous_tf1))
            tf2_layers = context.tf2.model.layers[
                (tf2_indices[index - 1] + 1 if index else 0):tf2_indices[index] + 1]
            activation = causes.activations(
                tf1_name, [operation.type for operation in new_operations],
                [layer.name for layer in tf2_layers],
                [_keras_activation(layer) for layer in tf2_layers])
            return detail, [message.format(tf1=tf1_name, tf2=tf2_name)
                            for message in permutation] + activation
    return (f" Every named layer agrees ({layer_map}): they part after the last one.", [])


def _keras_activation(layer: Any) -> Optional[str]:
    """The activation a Keras layer applies, by Keras' name ("relu"), or None."""
    try:
        activation = layer.get_config().get("activation")
    except NotImplementedError:  # A custom layer without get_config.
        activation = None
    if isinstance(activation, str):
        return activation
    if isinstance(activation, Mapping):  # A serialised activation object.
        return activation.get("config", {}).get("name") or activation.get("class_name")
    names = {tf.keras.layers.ReLU: "relu", tf.keras.layers.ELU: "elu",
             tf.keras.layers.LeakyReLU: "leaky_relu", tf.keras.layers.Softmax: "softmax"}
    return next((name for kind, name in names.items() if isinstance(layer, kind)), None)


def _first_items(*outputs: Any) -> list[np.ndarray]:
    """The first output of each structure: the one the forward causes read."""
    return [next(iter(output_items(structure).values())) for structure in outputs]


def _loss_value(loss: Optional[np.ndarray]) -> float:
    """The loss as a float; NaN where the TF1 side has none, which no
    loss-based cause matches."""
    return math.nan if loss is None else float(loss)


def _mode_label(name: str, mode: str) -> str:
    """`name`, marked when it was measured in training mode."""
    return name if mode == INFERENCE else f"{name} ({mode} mode)"


def forward_rung(context: Context) -> RungResult:
    """Rung 2: outputs and loss on the first batch from the same weights, in
    inference mode and, where it gives other outputs, in training mode."""
    context.start()
    try:
        points = context.points()
    except _RandomOnOneSide as random_side:
        return _random_on_one_side(context, random_side.side)
    dropout = _dropout_rate_result(context)
    if dropout is not None:
        return dropout
    inference = points[INFERENCE]
    repeat_gap = _output_gap(inference.tf2.outputs, inference.tf2_outputs_again)
    if repeat_gap:
        return _tf2_repeats_differently(context, inference, repeat_gap)
    compared = _forward_compared(context, points)
    if isinstance(compared, RungResult):
        return compared
    result = context.judge("forward", compared)
    if result.status == "failed":
        _explain_forward_failure(context, points, compared, result)
    return result


def _random_on_one_side(context: Context, side: str) -> RungResult:
    """The forward rung's failure when only `side`'s training mode is random."""
    other = "TF2" if side == "TF1" else "TF1"
    return RungResult(
        "forward", "failed", noise.SYSTEMATIC, tolerance=context.bound("forward"),
        where=_mode_label("outputs", TRAINING),
        detail=(f"the {side} side's training mode is random (two calls on the "
                f"same input and weights differ) and the {other} side's is not."),
        likely_causes=[f"Dropout on the {side} side only: the {other} side "
                       "lacks a dropout layer, or does not switch it on in training mode "
                       "(TF1: keep_prob in train_feed; TF2: training=True reaching the "
                       "layer)."],
    )


def _tf2_repeats_differently(
    context: Context, inference: _PointEvidence, repeat_gap: float
) -> RungResult:
    """The forward rung's failure when the TF2 model answers the same input
    twice differently in inference mode."""
    # A side that answers the same input twice differently cannot be
    # compared value by value, and its drift is no noise floor.
    return RungResult(
        "forward", "failed", noise.SYSTEMATIC, max_abs_diff=repeat_gap,
        tolerance=context.bound("forward"), where="outputs",
        detail=(f"the TF2 model gave outputs {repeat_gap:.3g} apart for the same input "
                "and weights, called twice."),
        likely_causes=causes.forward(
            *_first_items(inference.tf1.outputs, inference.tf2.outputs,
                          inference.tf2_outputs_again),
            _loss_value(inference.tf1.loss), _loss_value(inference.tf2.loss), False,
            context.report.device),
    )


def _forward_compared(
    context: Context, points: dict[str, _PointEvidence]
) -> dict[str, Compared] | RungResult:
    """Each output (and the loss) per mode, paired with its controls; or the
    failure when the two sides return different output structures."""
    compared = {}
    for mode, point in points.items():
        tf1_items = output_items(point.tf1.outputs)
        tf2_items = output_items(point.tf2.outputs)
        if tf1_items.keys() != tf2_items.keys():
            return RungResult(
                "forward", "failed", noise.SYSTEMATIC, tolerance=context.bound("forward"),
                where="outputs",
                detail=(f"the two sides return different outputs: TF1 {sorted(tf1_items)}, "
                        f"TF2 {sorted(tf2_items)}. Return the same structure (one tensor, or "
                        "a dict with the same keys) from build_tf1's outputs and the TF2 model."),
            )
        tf1_controls = output_items(point.tf1_control.outputs)
        tf2_controls = output_items(point.tf2_control.outputs)
        for key, tf1_values in tf1_items.items():
            compared[_mode_label(key, mode)] = Compared(
                tf1_values, tf2_items[key],
                [(tf1_values, tf1_controls[key]), (tf2_items[key], tf2_controls[key])],
                _magnitude(tf1_values))
        if point.tf1.loss is None:
            continue
        compared[_mode_label("loss", mode)] = Compared(
            point.tf1.loss, point.tf2.loss,
            [(point.tf1.loss, point.tf1_control.loss), (point.tf2.loss, point.tf2_control.loss)],
            abs(float(point.tf1.loss)))
    return compared


def _explain_forward_failure(
    context: Context,
    points: dict[str, _PointEvidence],
    compared: dict[str, Compared],
    result: RungResult,
) -> None:
    """Sets the failed forward result's likely causes (and, where the outputs
    part, the layer where they do)."""
    mode = TRAINING if result.where.endswith(f"({TRAINING} mode)") else INFERENCE
    point = points[mode]
    outputs_compared = {name: values for name, values in compared.items()
                        if name.startswith("outputs") and _mode_label("", mode) in name}
    outputs_agree = context.judge("forward", outputs_compared).status != "failed"
    result.likely_causes = causes.forward(
        *_first_items(point.tf1.outputs, point.tf2.outputs, point.tf2_outputs_again),
        _loss_value(point.tf1.loss), _loss_value(point.tf2.loss), outputs_agree,
        context.report.device,
    )
    if outputs_agree and point.tf1.loss is not None:
        result.likely_causes += _loss_only_causes(context, point)
    result.likely_causes += _layer_setting_causes(context, point)
    if TRAINING in points and mode == INFERENCE:
        result.likely_causes += causes.modes_swapped(
            *_first_items(points[TRAINING].tf1.outputs, point.tf2.outputs))
    if mode == INFERENCE and context.tf1_inference_is_random():
        result.likely_causes.insert(0, (
            "TF1 answers the same input twice differently in inference mode: its "
            "eval_feed leaves dropout on (keep_prob: 1.0 belongs in eval_feed), or a "
            "random op runs outside any mode switch."))
    if not outputs_agree:
        detail, found = localise(context)
        result.detail += detail
        result.likely_causes = found + result.likely_causes


def _loss_only_causes(context: Context, point: _PointEvidence) -> list[str]:
    """Causes of losses that differ where the outputs agree: weight decay or
    label smoothing on one side."""
    kernels = {name: context.start_values[name] for name in context.names
               if np.ndim(context.start_values[name]) >= 2}
    return causes.weight_decay(
        float(point.tf1.loss), float(point.tf2.loss), kernels
    ) + causes.label_smoothing(
        _first_items(point.tf1.outputs)[0], context.batch(0)[1],
        float(point.tf1.loss), float(point.tf2.loss), _keras_label_smoothing(context.tf2))


def gradients_rung(context: Context) -> RungResult:
    """Rung 3: the gradient of the loss per variable at the same point, in
    each mode the forward rung compared."""
    points = context.points()
    names = context.names
    missing = [n for n, g in zip(names, points[INFERENCE].tf2.gradients) if g is None]
    if missing:
        return RungResult(
            "gradients", "failed", noise.SYSTEMATIC, where=missing[0],
            detail=f"TF2 has no gradient for {missing}: the loss does not depend on them.",
            likely_causes=["The TF2 model does not use these variables in its call "
                           "(a layer skipped, or a bias created but not added)."],
        )
    compared = {
        _mode_label(name, mode): Compared(g1, g2, [(g1, c1), (g2, c2)], _magnitude(g1))
        for mode, point in points.items()
        for name, g1, g2, c1, c2 in zip(
            names, point.tf1.gradients, point.tf2.gradients,
            point.tf1_control.gradients, point.tf2_control.gradients)
    }
    result = context.judge("gradients", compared)
    if result.status == "failed":
        point = points[TRAINING if result.where.endswith(f"({TRAINING} mode)") else INFERENCE]
        result.likely_causes = causes.gradients(names, point.tf1.gradients, point.tf2.gradients)
    return result


def _judged_with_more_controls(context: Context, rung: str,
                               judge: Callable[[], RungResult]) -> RungResult:
    """judge(), a verdict against the controls trained so far: against the
    first control's floor and, if that is systematic, again against the
    floor of CONFIRMING_CONTROLS controls.

    Rounding noise is not always small and smooth: a ReLU input or a batch
    statistic near a threshold lands on one side of it in one run and on the
    other in the next, and Adam turns the flipped gradient into a whole
    learning-rate step. One control catches such a flip only by chance, so a
    true pair could fail on the run where the TF2 side has one and the
    control has none. A real mistake stays far above the larger floor too.
    """
    result = judge()
    if result.verdict != noise.SYSTEMATIC or result.floor is None:
        return result
    added = context.add_controls(CONFIRMING_CONTROLS)
    if not added:
        return result
    confirmed = judge()
    context.report.notes.append(
        f"The first perturbed control put rung '{rung}' at {_format_factor(result.factor)} its "
        f"floor ({result.where}); {added} more controls were trained, and against the largest "
        f"drift of all {CONFIRMING_CONTROLS} it is {confirmed.verdict}, "
        f"{_format_factor(confirmed.factor)} the floor ({confirmed.where}).")
    return confirmed


def one_update_rung(context: Context) -> RungResult:
    """Rung 4: the update Δw of one optimizer step, judged relative to its size."""
    training = context.training()
    start = context.start_values
    deltas = {name: (_delta(training.tf1.after_one[name], start[name]),
                     _delta(training.tf2.after_one[name], start[name]))
              for name in context.names + context.state_names}

    def compared() -> dict[str, Compared]:
        # Rounding the updated weight moves Δw by up to an ulp of the weight.
        return {
            name: Compared(tf1_delta, tf2_delta,
                           [(tf1_delta, _delta(control.trajectory.after_one[name],
                                               control.start[name]))
                            for control in training.controls],
                           _magnitude(tf1_delta),
                           floor_minimum=noise.rounding_floor(training.tf1.after_one[name]))
            for name, (tf1_delta, tf2_delta) in deltas.items()
        }

    result = _judged_with_more_controls(
        context, "one_update", lambda: context.judge("one_update", compared()))
    if result.status == "failed" and result.where in context.state_names:
        tf1_delta, tf2_delta = deltas[result.where]
        result.likely_causes = causes.moving_average_rate(
            result.where, tf1_delta, tf2_delta,
            _keras_momentum(context.tf2.model, context.state_pairs_by_name[result.where]))
    elif result.status == "failed":
        tf1_delta, tf2_delta = deltas[result.where]
        result.likely_causes = _optimizer_causes(context, training, 0)
        ratio = causes.update_ratio(
            tf1_delta, tf2_delta,
            causes.clipping_evidence(context.tf2.optimizer, context.tf1.graph))
        if ratio:
            result.likely_causes.append(ratio)
        model_losses = list(getattr(context.tf2.model, "losses", ()))
        if context.tf2.train_step is not None and context.tf2.add_model_losses and model_losses:
            # The gradients rung added model.losses and agreed.
            result.likely_causes.append(
                f"The gradients agree with the model's {len(model_losses)} regularisation "
                "losses added, and the TF2 side trains with its own train_step: a step that "
                "leaves model.losses out (fit adds them) steps without the weight decay.")
        result.detail += (f" Relative to the update's size ({_magnitude(tf1_delta):.3g}) "
                          f"the gap is {result.max_rel_diff:.3g}.")
    return result


def steps_rung(context: Context) -> RungResult:
    """Rung 5: every step's loss, and the final weights, over N steps; the
    floor of step t is the perturbed TF1 runs' largest drift up to step t
    (noise.judge_steps)."""
    training = context.training()
    _record_training(context, training)
    result = _judged_with_more_controls(context, "steps",
                                        lambda: _judge_steps(context, training))
    if result.status == "failed":
        step = context.report.first_divergent_step
        result.likely_causes = _optimizer_causes(
            context, training, context.steps - 1 if step is None else step)
    return result


def _record_training(context: Context, training: _TrainingEvidence) -> None:
    """The report's account of the N steps: losses, times, largest gaps."""
    report = context.report
    report.tf1_losses, report.tf2_losses = training.tf1.losses, training.tf2.losses
    report.control_losses = training.controls[0].trajectory.losses
    report.tf1_seconds, report.tf2_seconds = training.tf1.seconds, training.tf2.seconds
    report.max_abs_loss_diff = float(np.max(abs_difference(training.tf1.losses,
                                                           training.tf2.losses)))
    report.max_abs_weight_diff = max(
        noise.max_abs_difference(training.tf1.final[n], training.tf2.final[n])
        for n in context.names + context.state_names)
    nonfinite = np.nonzero(~np.isfinite(training.tf1.losses))[0]
    if nonfinite.size:
        report.notes.append(
            f"The TF1 loss is non-finite from step {int(nonfinite[0])} on: training "
            "diverged (the TF2 side is compared step by step all the same)."
        )


def _judge_steps(context: Context, training: _TrainingEvidence) -> RungResult:
    """The steps rung's verdict against the controls trained so far; sets the
    report's first_divergent_step when the losses part."""
    tf1_losses = np.asarray(training.tf1.losses, dtype=np.float64)
    tf2_losses = np.asarray(training.tf2.losses, dtype=np.float64)
    tolerance = context.tolerances.get("steps")
    if tolerance is None:
        judgements = noise.judge_steps(
            tf1_losses, tf2_losses, [control.trajectory.losses for control in training.controls],
            context.tf1.endpoints["loss"].dtype.as_numpy_dtype, context.noise_factor)
        parted = [index for index, judgement in enumerate(judgements) if judgement.systematic]
        step = parted[0] if parted else int(np.argmax([j.factor for j in judgements]))
        judgement = judgements[step]
        loss = _Judged(judgement.verdict, judgement.gap, judgement.floor, judgement.factor,
                       abs(tf1_losses[step]))
    else:
        gaps = abs_difference(tf1_losses, tf2_losses)
        beyond = np.nonzero(gaps > allowed_difference(tolerance, tf1_losses))[0]
        step = int(beyond[0]) if beyond.size else int(np.argmax(gaps))
        verdict = (noise.IDENTICAL if not np.any(gaps) else
                   BEYOND_TOLERANCE if beyond.size else WITHIN_TOLERANCE)
        loss = _Judged(verdict, float(gaps[step]), None, None, abs(tf1_losses[step]))
    weights = context.compare("steps", {
        f"final {name}": Compared(
            training.tf1.final[name], training.tf2.final[name],
            [(training.tf1.final[name], control.trajectory.final[name])
             for control in training.controls],
            _magnitude(training.tf1.final[name]))
        for name in context.names + context.state_names
    })
    # Where the losses part says more than the final weights do, so a
    # systematic loss is named first.
    judged = {f"loss at step {step}": loss}
    result = context.result(
        "steps", judged if loss.failed else {**judged, **weights},
        f"{len(tf1_losses)} steps' losses and {len(weights)} final weights compared")
    context.report.first_divergent_step = None
    if result.status == "failed" and loss.failed:
        context.report.first_divergent_step = step
        result.detail = (f"the losses part at step {step}: TF1 {tf1_losses[step]:.9g} vs "
                         f"TF2 {tf2_losses[step]:.9g}. " + result.detail)
    return result


def metric_rung(context: Context) -> Optional[RungResult]:
    """Rung 6: the held-out metric after N steps, and whether it beats chance."""
    if context.eval_data is None:
        return None
    report = context.report
    if "steps" in context.tf1.skipped:
        report.notes.append("The TF1 side cannot train, so the metric rung compares both "
                            "sides at the starting weights.")
    else:
        context.training()  # Both sides and the control, trained N steps.
    eval_images, eval_labels = context.eval_data
    feed = {context.tf1.images: eval_images, **context.tf1.eval_feed}
    outputs_tensor = context.tf1.endpoints["outputs"]
    tf1_outputs = context.session.run(outputs_tensor, feed_dict=feed)
    control_outputs = context.control_session.run(outputs_tensor, feed_dict=feed)
    tf2_outputs = _to_numpy(context.tf2.call(eval_images, training=False))
    metric = context.metric or default_metric(tf1_outputs)
    report.tf1_metric = metric(tf1_outputs, eval_labels)
    report.tf2_metric = metric(tf2_outputs, eval_labels)
    control_metric = metric(control_outputs, eval_labels)
    # Accuracy moves in steps of one example: the smallest floor it has.
    resolution = (100.0 / len(eval_labels) if metric is accuracy_percent
                  else noise.rounding_floor(np.float32(report.tf1_metric)))
    result = context.judge("metric", {"metric": Compared(
        report.tf1_metric, report.tf2_metric, [(report.tf1_metric, control_metric)],
        abs(report.tf1_metric), floor_minimum=resolution)})
    result.detail = f"TF1 {report.tf1_metric:.6g} vs TF2 {report.tf2_metric:.6g}: {result.detail}"
    if result.status == "failed":
        result.likely_causes = [
            "Every earlier rung passed, so the sides differ only in evaluation: dropout "
            "or batch norm in training mode when evaluating, or another metric definition."
        ]
    elif metric is accuracy_percent:
        checks = [statistics.chance_check(np.argmax(outputs, axis=1), _class_ids(eval_labels))
                  for outputs in (tf1_outputs, tf2_outputs)]
        message = statistics.both_at_chance_message(*checks)
        if message:
            result.status, result.verdict, result.detail = "failed", AT_CHANCE, message
    return result


RUNG_FUNCTIONS = (variables_rung, forward_rung, gradients_rung, one_update_rung,
                  steps_rung, metric_rung)


def initial_values_rung(context: Context) -> RungResult:
    """The opt-in rung after variables: each side's own initial values per
    mapped variable (compat_tests.initial_values). TF1's initialisers run in
    the control session, whose values the later rungs overwrite, so the
    compared session starts the same with or without this rung; the TF2
    model still holds what it was created with (nothing is copied yet)."""
    pairs = context.pairs + context.state_pairs
    context.control_session.run(context.tf1.initializer)
    tf1_values = tf1_weights.read(context.control_session, [v1 for v1, _ in pairs])
    tf2_values = {tf1_weights.variable_name(v1): v2.numpy() for v1, v2 in pairs}
    checks = initialisers.compare(tf1_values, tf2_values, context.report.variable_map)
    context.report.initial_value_checks = checks
    failed = [check for check in checks if check.passed is False]
    random_count = sum(check.level is not None for check in checks)
    bound = (f"constants exactly; α {initialisers.DEFAULT_ALPHA:g} over "
             f"{random_count} random variables")
    judged = sum(check.passed is not None for check in checks)
    if not failed:
        return RungResult("initial_values", "passed", "same initialisers", tolerance=bound,
                          where=None, detail=f"{judged} of {len(checks)} variables judged, "
                          "each side's initialisers alike.")
    return RungResult(
        "initial_values", "failed", noise.SYSTEMATIC, tolerance=bound, where=failed[0].name,
        detail=(f"{len(failed)} of {len(checks)} variables start differently: "
                + "; ".join(f"'{check.name}' ({check.kind}: {check.reason})" for check in failed)
                + "."),
        likely_causes=[_initialiser_cause(check) for check in failed],
    )


def _initialiser_cause(check: initialisers.VariableCheck) -> str:
    """What to change for one variable that starts differently."""
    if check.kind == initialisers.CONSTANT:
        return (f"Initialiser of '{check.name}': TF1 starts it at {check.tf1.minimum:g}, the "
                f"TF2 '{check.tf2_name}' at {check.tf2.minimum:g}: give the Keras layer "
                f"tf.keras.initializers.Constant({check.tf1.minimum:g}).")
    return (f"Initialiser of '{check.name}': TF1 draws mean {check.tf1.mean:.3g}, std "
            f"{check.tf1.std:.3g}, range [{check.tf1.minimum:.3g}, {check.tf1.maximum:.3g}]; "
            f"the TF2 '{check.tf2_name}' mean {check.tf2.mean:.3g}, std {check.tf2.std:.3g}, "
            f"range [{check.tf2.minimum:.3g}, {check.tf2.maximum:.3g}]: give the Keras layer "
            "the initialiser TF1 uses (e.g. TF1's truncated_normal(stddev=s) is "
            "tf.keras.initializers.TruncatedNormal(stddev=s), its glorot_uniform Keras' "
            "default GlorotUniform).")


def rung_functions(check_initial_values: bool) -> tuple[Callable[[Context], Any], ...]:
    """The rungs run_ladder runs, in order; the initial_values rung only when asked."""
    if not check_initial_values:
        return RUNG_FUNCTIONS
    return (RUNG_FUNCTIONS[0], initial_values_rung, *RUNG_FUNCTIONS[1:])


def _optimizer_causes(context: Context, training: _TrainingEvidence, step: int) -> list[str]:
    """What the optimizers' own settings, and the rates used at `step`, point at."""
    tf1 = context.tf1
    found = causes.hyperparameter_mismatches(
        tf1.optimizer_family,
        {name: float(value) for name, value in training.tf1.hyperparameters[0].items()
         if name != "learning_rate"},
        tf1.nesterov, context.tf2.optimizer, None,
    )
    # The first step up to `step` whose rates differ: a loss parts one step
    # after the update that made it.
    rates = [causes.learning_rate_at(s, training.tf1.learning_rates[s],
                                     training.tf2.learning_rates[s]) for s in range(step + 1)]
    schedules = causes.learning_rate_schedules(
        training.tf1.learning_rates, training.tf2.learning_rates, _tf1_schedule_steps(context))
    return found + schedules + [rate for rate in rates if rate][:1]


def _tf1_schedule_steps(context: Context) -> dict[str, tuple[float, float]]:
    """{name: (initial value, value now)} of the variables TF1's learning
    rate is computed from (a global step), in the compared session, which
    holds TF1's state after the N steps."""
    rate = context.tf1.hyperparameters.get("learning_rate")
    if rate is None:
        return {}
    upstream = _upstream_operations([rate])
    # Only scalars: a schedule reads a step counter, and what else lies
    # upstream of the rate (a graph that routes it through the model's
    # tensors) has no single value to report.
    variables = [variable for variable in context.tf1.graph.get_collection(
        tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
        if variable.op in upstream and variable.shape.rank == 0]
    if not variables:
        return {}
    with context.tf1.graph.as_default():  # initial_value is a graph-mode property.
        initial = context.session.run([variable.initial_value for variable in variables])
    now = context.session.run(variables)
    return {tf1_weights.variable_name(variable): (float(first), float(second))
            for variable, first, second in zip(variables, initial, now)}


def _keras_layers(model: Any) -> list[Any]:
    """Every Keras layer inside `model`, nested models' layers included."""
    found, pending = [], list(getattr(model, "layers", ()))
    while pending:
        layer = pending.pop()
        found.append(layer)
        pending.extend(getattr(layer, "layers", ()))
    return found


def _keras_momentum(model: Any, variable: tf.Variable) -> Optional[float]:
    """The momentum of the Keras layer that owns `variable`, or None."""
    for layer in _keras_layers(model):
        if hasattr(layer, "momentum") and any(v is variable for v in layer.variables):
            return float(layer.momentum)
    return None


def _keras_label_smoothing(tf2: Tf2Side) -> Optional[float]:
    """The label_smoothing of the TF2 loss object (or compiled loss), if it has one."""
    for loss in (tf2.loss_fn, getattr(tf2.model, "loss", None)):
        value = getattr(loss, "label_smoothing", None)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _layer_setting_causes(context: Context, point: _Point) -> list[str]:
    """Causes read from the layers' settings on both sides: a TF2 dtype
    policy that computes in another dtype, and batch-norm epsilons."""
    layers = _keras_layers(context.tf2.model)
    tf1_dtype = str(_first_items(point.tf1.outputs)[0].dtype)
    found = causes.dtype_policies(tf1_dtype, [
        (layer.name, getattr(layer.dtype_policy, "name", str(layer.dtype_policy)),
         str(layer.compute_dtype))
        for layer in reversed(layers) if hasattr(layer, "dtype_policy")
        and not getattr(layer, "layers", None)])
    found += causes.batch_norm_epsilon(
        causes.tf1_batch_norm_epsilons(context.tf1.graph),
        [(layer.name, float(layer.epsilon)) for layer in reversed(layers)
         if isinstance(layer, tf.keras.layers.BatchNormalization)])
    return found


def _dropout_rate_result(context: Context) -> Optional[RungResult]:
    """A failed forward rung when both sides drop out at other rates: TF1's
    dropout ops as its train_feed sets them against the Keras Dropout
    layers' rates as built (the training rungs may run with dropout off, so
    no later rung would see it)."""
    tf1_dropout = causes.tf1_dropout_rates(context.tf1.graph)
    silenced = {id(layer): rate for layer, rate in context.silenced_dropout}
    tf2_rates = [(layer.name, float(silenced.get(id(layer), layer.rate)))
                 for layer in reversed(_keras_layers(context.tf2.model))
                 if isinstance(layer, tf.keras.layers.Dropout)]
    if not tf1_dropout or not tf2_rates:
        return None
    images, labels = context.batch(0)
    # The user's own training feed, not the one with dropout switched off.
    values = context.session.run([tensor for _, tensor in tf1_dropout],
                                 feed_dict={context.tf1.images: images,
                                            context.tf1.labels: labels,
                                            **context.tf1.train_feed})
    tf1_rates = [(scope, float(value)) for (scope, _), value in zip(tf1_dropout, values)]
    found = causes.dropout_rates(tf1_rates, tf2_rates)
    if not found:
        return None
    return RungResult(
        "forward", "failed", noise.SYSTEMATIC, tolerance="rates equal", where="dropout rate",
        detail=("the two sides drop out at other rates in training: TF1 "
                + ", ".join(f"{rate:.6g}" for _, rate in tf1_rates) + "; TF2 "
                + ", ".join(f"{rate:.6g}" for _, rate in tf2_rates) + "."),
        likely_causes=found)


def _silence_keras_dropout(model: Any) -> list[tuple[Any, float]]:
    """Sets each Keras Dropout layer's rate to 0 (Keras skips dropout at rate
    0); returns (layer, rate) to restore them."""
    silenced = [(layer, layer.rate) for layer in _keras_layers(model)
                if isinstance(layer, tf.keras.layers.Dropout) and layer.rate > 0]
    for layer, _ in silenced:
        layer.rate = 0.0
    return silenced


def _to_numpy(outputs: Any) -> Any:
    """The outputs (a tensor, or a dict, tuple or list of them) as numpy."""
    return tf.nest.map_structure(np.asarray, outputs)


def output_items(outputs: Any, name: str = "outputs") -> dict[str, np.ndarray]:
    """{"outputs": array} for one output; {"outputs[key]": array} per key of
    a dict, or per index of a tuple or list."""
    if isinstance(outputs, Mapping):
        items = sorted(outputs.items())
    elif isinstance(outputs, (tuple, list)):
        items = list(enumerate(outputs))
    else:
        return {name: np.asarray(outputs)}
    return {f"{name}[{key}]": np.asarray(value) for key, value in items}


def _output_gap(reference: Any, candidate: Any) -> float:
    """The largest |Δ| between two outputs of the same structure."""
    reference, candidate = output_items(reference), output_items(candidate)
    if reference.keys() != candidate.keys():
        return math.inf
    return max(noise.max_abs_difference(reference[key], candidate[key]) for key in reference)


def _delta(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """after - before, exact in float64 for float32 values."""
    return np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)


def _magnitude(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))


def allowed_difference(tolerance: Tolerance, reference: np.ndarray) -> np.ndarray:
    """The largest |Δ| `tolerance` allows at each element of `reference`:
    max(atol, rtol × |reference|), a non-finite reference counting as 0."""
    magnitude = np.nan_to_num(np.abs(reference), nan=0.0, posinf=0.0)
    return np.maximum(tolerance.atol, tolerance.rtol * magnitude)


def assert_equivalent(*args: Any, **kwargs: Any) -> LadderReport:
    """Runs `run_ladder(*args, **kwargs)`; raises AssertionError with the
    readable report if any rung fails, else returns the report."""
    report = run_ladder(*args, **kwargs)
    if not report.passed:
        raise AssertionError("TF1 and TF2 sides differ.\n" + report.format())
    return report


def _check_arguments(images, labels, batch_size, steps, tolerances, noise_factor) -> None:
    if len(images) != len(labels):
        raise errors.FixableError(
            f"train_data has {len(images)} images but {len(labels)} labels; "
            "pass arrays of the same length."
        )
    if steps < 1:
        raise errors.FixableError(f"steps must be >= 1, got {steps}.")
    unknown = sorted(set(tolerances or {}) - set(NUMERIC_RUNGS))
    if unknown:
        raise errors.FixableError(
            f"Unknown tolerance rungs {unknown}; expected some of {list(NUMERIC_RUNGS)}."
        )
    # batch_indices validates batch_size against the data size.
    batching.batch_indices(0, 0, batch_size, len(images))
    if noise_factor < 1:
        raise errors.FixableError(f"noise_factor must be >= 1, got {noise_factor}.")


# The rungs that need each optional endpoint of a TF1 side.
_RUNGS_NEEDING = {"loss": ("gradients", "one_update", "steps"), "train_op": ("one_update", "steps")}


def _tf1_endpoints(built: Any) -> dict[str, Any]:
    """Accepts a dict or an object with attributes outputs/loss/train_op
    (and optionally train_feed/eval_feed/layers/skipped/notes). Loss and
    train op may be left out when "skipped" names the rungs that need them."""
    names = ("outputs", "loss", "train_op", "train_feed", "eval_feed", "layers", "skipped",
             "notes")
    if isinstance(built, Mapping):
        found = {k: built[k] for k in names if k in built and built[k] is not None}
    else:
        found = {k: getattr(built, k) for k in names if getattr(built, k, None) is not None}
    skipped = found.get("skipped", {})
    unknown = sorted(set(skipped) - set(RUNGS))
    if unknown:
        raise errors.FixableError(f"build_tf1's 'skipped' names unknown rungs {unknown}; rungs are "
                         f"{list(RUNGS)}.")
    missing = [k for k in ("outputs", "loss", "train_op") if k not in found
               and not set(_RUNGS_NEEDING.get(k, RUNGS)) <= set(skipped)]
    if missing:
        raise errors.FixableError(
            f"build_tf1 must return outputs, loss and train_op (a dict or an "
            f"object with those attributes); missing: {missing}."
        )
    return found


def _tf1_layers(declared: Any) -> dict[str, tf.Tensor]:
    """{name: tensor} of build_tf1's "layers": a dict, or a list named by op."""
    if declared is None:
        return {}
    if isinstance(declared, Mapping):
        return dict(declared)
    if isinstance(declared, (list, tuple)):
        return {tensor.op.name: tensor for tensor in declared}
    raise errors.FixableError(
        f"build_tf1's 'layers' must be a dict {{name: tensor}} or a list of tensors in "
        f"the order the model computes them, got {type(declared).__name__}."
    )


def _labels_hint(side: str, labels: np.ndarray) -> str:
    """What to change when `side`'s loss does not take labels like these."""
    if np.ndim(labels) == 2 and np.shape(labels)[1] > 1:
        return (f". The labels are one-hot; if the {side} loss takes class ids (a sparse "
                "cross-entropy), pass integer labels to both sides (labels.argmax(1); "
                "compat_tests.check: --labels=integer, or integer labels in the .npz), or "
                f"use the {side} loss for one-hot labels.")
    if np.ndim(labels) == 1 and np.issubdtype(np.asarray(labels).dtype, np.integer):
        return (f". The labels are class ids; if the {side} loss takes one-hot labels, pass "
                "one-hot labels to both sides (compat_tests.check: --labels=one_hot), or use "
                f"the {side} loss for class ids (a sparse cross-entropy).")
    return "."


def _tf1_feeds(
    endpoints: Mapping[str, Any], graph: tf.Graph, images: tf.Tensor, labels: tf.Tensor
) -> tuple[dict[tf.Tensor, Any], dict[tf.Tensor, Any]]:
    """The declared train and eval feeds; every placeholder the endpoints read
    must be in both, or be the images or labels."""
    feeds = {}
    for mode in ("train_feed", "eval_feed"):
        declared = endpoints.get(mode) or {}
        if not isinstance(declared, Mapping):
            raise errors.FixableError(
                f"build_tf1's {mode!r} must be a dict {{placeholder tensor: value}}, got "
                f"{type(declared).__name__}."
            )
        feeds[mode] = {
            graph.as_graph_element(key) if isinstance(key, str) else key: value
            for key, value in declared.items()
        }
    needed = _upstream_operations(
        [*tf.nest.flatten(endpoints["outputs"]),
         *(endpoints[k] for k in ("loss", "train_op") if k in endpoints)])
    for operation in graph.get_operations():
        if operation.type != "Placeholder" or operation not in needed:
            continue
        if operation in (images.op, labels.op):
            continue
        missing = [mode for mode, feed in feeds.items()
                   if not any(tensor.op is operation for tensor in feed)]
        if missing:
            name = operation.name
            raise errors.FixableError(
                f"The TF1 graph reads placeholder {name!r}, which build_tf1 does not feed "
                f"in {' or '.join(missing)}. Return its value for a training step and for "
                f"inference with the other endpoints, e.g. \"train_feed\": {{{name}: 0.5}}, "
                f"\"eval_feed\": {{{name}: 1.0}} for a keep_prob (True and False for an "
                "is_training), or make it a tf.compat.v1.placeholder_with_default."
            )
    return feeds["train_feed"], feeds["eval_feed"]


def _upstream_operations(targets: Sequence[Any]) -> set[tf.Operation]:
    """Every operation that `targets` (tensors or operations) depend on,
    through data and control inputs."""
    pending = [target if isinstance(target, tf.Operation) else target.op for target in targets]
    seen = set()
    while pending:
        operation = pending.pop()
        if operation in seen:
            continue
        seen.add(operation)
        pending.extend(tensor.op for tensor in operation.inputs)
        pending.extend(operation.control_inputs)
    return seen


def _match_variables(
    tf1_variables: Sequence[tf.Variable],
    tf2_variables: Sequence[tf.Variable],
    variable_map: VariableMap,
) -> tuple[list[tuple[tf.Variable, tf.Variable]], RungResult]:
    """Pairs variables under the map (or infers it); rung 1's result."""
    remaining_tf2 = {tf2_weights.variable_name(v): v for v in tf2_variables}
    pairs, unmatched_tf1 = _pair_variables(tf1_variables, remaining_tf2, variable_map)
    misshaped, causes = _misshaped_pairs(pairs)
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
    where = (unmatched_tf1_names or [m.split(" ")[0] for m in misshaped]
             or sorted(remaining_tf2) or [None])[0]
    return pairs, RungResult(
        "variables", "failed" if failed else "passed",
        noise.SYSTEMATIC if failed else None, tolerance="names and shapes",
        where=where, detail="; ".join(details) + ".", likely_causes=causes,
    )


def _pair_variables(
    tf1_variables: Sequence[tf.Variable],
    remaining_tf2: dict[str, tf.Variable],
    variable_map: VariableMap,
) -> tuple[list[tuple[tf.Variable, tf.Variable]], list[tf.Variable]]:
    """(pairs, TF1 variables without a counterpart), under the map or, with
    none, by equal names first and then by creation order and shape. Pops
    each paired TF2 variable from `remaining_tf2`."""
    pairs, unmatched_tf1 = [], []
    if variable_map is not None:
        lookup = variable_map if callable(variable_map) else variable_map.get
        for v1 in tf1_variables:
            target = _tf2_target(lookup(tf1_weights.variable_name(v1)), remaining_tf2)
            if target is None:
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
    return pairs, unmatched_tf1


def _misshaped_pairs(
    pairs: Sequence[tuple[tf.Variable, tf.Variable]]
) -> tuple[list[str], list[str]]:
    """(the pairs whose shapes differ, described; the causes they point at)."""
    misshaped, causes = [], []
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
    return misshaped, causes


def _below_model(name: str) -> str:
    """A Keras variable path without its first component, the model's name."""
    return name.split("/", 1)[1] if "/" in name else name


def _tf2_target(target: Optional[str], remaining: Mapping[str, Any]) -> Optional[str]:
    """The TF2 name a variable map's `target` means, among `remaining`.

    Keras prefixes variable paths with the model's name, which is numbered
    by the process (`sequential/dense/kernel`, then `sequential_1/...` for a
    second model), so a target also matches the one name with the same path
    below the model, or, given without a model prefix, the one name whose
    path below the model it is.
    """
    if target is None or target in remaining:
        return target
    candidates = [name for name in remaining
                  if _below_model(name) in (target, _below_model(target))]
    return candidates[0] if len(candidates) == 1 else None


def _finish(report: LadderReport) -> LadderReport:
    done = {r.rung for r in report.rungs}
    for rung in RUNGS:
        if rung not in done:
            report.rungs.append(RungResult(rung, "not run"))
    return report
