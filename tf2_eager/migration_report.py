"""Reports every TF1 idiom of a legacy codebase, the silent changes first.

    python -m tf2_eager.migration_report PATH [PATH ...] \
        [--format=text|json|sarif] [--fail_on=silent|breaks|style|never] \
        [--output=FILE]

A PATH is a `.py` file, a `.ipynb` notebook (its code cells) or a directory
searched recursively for both. Files are parsed with `ast`, never imported or
run; importing this module never imports TensorFlow either. Every `tf.X` is
checked against TensorFlow's own upgrade tables and TF2 API listing
(tf2_eager/migration_tables.py), import aliases followed (`import tensorflow
as T`, `import tensorflow.compat.v1 as tf1`, `from tensorflow.contrib import
slim`, `from tensorflow import keras`). Each finding has a severity:

- silent: runs in TF2 and computes something else (positional keep_prob,
  pre-1.0 argument orders, positional arguments TF2 moved, BatchNorm
  statistics that never update, optimizer defaults, a hand-written
  log(softmax) cross-entropy, TF32, tf.executing_eagerly() in a Session
  block); the finding says what the number becomes;
- breaks: gone or changed in TF2, fails at import or first call;
- style: runs (through tf.compat.v1, say) but is TF1 code.

Each finding names its MIGRATION.md row (or says "TF1 symbol, no
MIGRATION.md row") and what `tf_upgrade_v2` does with it: fixes it, renames it
to tf.compat.v1 only, gets it wrong, or leaves it.

Exit codes: 0 when nothing at or above --fail_on was found, 1 when something
was, 2 when a file could not be read or parsed (the others are still
reported, and --fail_on=never does not change this) or the command line is
wrong.
"""

import ast
import collections
import dataclasses
import functools
import json
import os
import sys
from typing import Iterable, Iterator, Optional, Sequence

from absl import app
from absl import flags as absl_flags

from flags import migration_report as report_flags
from tf2_eager import migration_tables

EXIT_FOUND = 1
# The exit code for a file that cannot be read or parsed, and for a wrong
# command line.
EXIT_UNREADABLE = 2
SEVERITIES = report_flags.SEVERITIES

# What tf_upgrade_v2 does with a finding.
UPGRADE_FIXES = "fixes it"
UPGRADE_COMPAT_ONLY = "renames it to tf.compat.v1 only"
UPGRADE_WRONG = "gets it wrong"
UPGRADE_LEAVES = "leaves it"

NO_ROW = "TF1 symbol, no MIGRATION.md row"


@dataclasses.dataclass(frozen=True)
class Idiom:
    """The TF2 form of one TF1 idiom: one row of MIGRATION.md's table.

    Attributes:
      tf2_form: What to write in TF2, in a phrase.
      reference: The file of this project that shows the TF2 form, or None
        when the project has no TF2 code for it (the row says what to write).
    """

    tf2_form: str
    reference: Optional[str]


# {MIGRATION.md row id: Idiom}; every id is a row of MIGRATION.md's table
# (migration_report_test.py checks both ways).
IDIOMS = {
    "placeholder": Idiom(
        "a function argument: the model's __call__(images), or a tf.function's "
        "parameter with an input_signature", "tf2_eager/softmax_regression.py"),
    "session": Idiom(
        "no Session: ops run eagerly; wrap hot code in tf.function", "tf2_eager/train.py"),
    "session_run": Idiom(
        "a call: loss = train_step(images, labels), a tf.function taking the "
        "fed values as arguments", "tf2_eager/steps.py"),
    "initializer": Idiom(
        "nothing: TF2 variables hold their value from creation", "tf2_eager/mlp.py"),
    "optimizer": Idiom(
        "tf.keras.optimizers.* (SGD, Adam(epsilon=1e-8), ...); RMSprop differs "
        "from TF1's (see Tf1RMSProp)", "tf2_eager/optimizers.py"),
    "saver": Idiom(
        "tf.train.Checkpoint(model=model, optimizer=optimizer); old Saver "
        "checkpoints restore through the name table", "tf2_eager/checkpoints.py"),
    "summary": Idiom(
        "tf.summary.create_file_writer(dir) and tf.summary.scalar(name, value, "
        "step=step) under writer.as_default()", "tf2_eager/summaries.py"),
    "seed": Idiom(
        "tf.random.set_seed (global) or tf.keras.utils.set_random_seed; an "
        "explicit tf.random.Generator.from_seed", "tf2_eager/initializers.py"),
    "log": Idiom("tf.math.log", "tf2_eager/classifier.py"),
    "reduction_indices": Idiom("axis=", "tf2_eager/classifier.py"),
    "argmax_dimension": Idiom("tf.argmax(..., axis=)", "tf2_eager/classifier.py"),
    "read_data_sets": Idiom(
        "mnist_data.load_dataset(name, data_dir), which reads the same IDX files",
        "mnist_data/sources.py"),
    "layers": Idiom(
        "tf.keras.layers.Dense / Conv2D, or tf.Variables in a tf.Module "
        "(tf.compat.v1.layers raise under Keras 3)", "tf2_eager/mlp.py"),
    "random_ops": Idiom(
        "tf.random.truncated_normal / normal / uniform, or a tf.random.Generator",
        "tf2_eager/initializers.py"),
    "dropout_keep_prob": Idiom(
        "tf.nn.dropout(x, rate=1 - keep_prob), only when training", "tf2_eager/mlp.py"),
    "variable_scope": Idiom(
        "a tf.Module: its name_scope names the variables it creates", "tf2_eager/mlp.py"),
    "saved_model": Idiom(
        "tf.saved_model.save(model, dir, signatures=...)", "tf2_eager/export.py"),
    "unflattened_images": Idiom(
        "images as [batch, 784] rows: tf.reshape(images, [-1, 784]) before a "
        "MatMul ([None, 28, 28] into MatMul is the documents' crash)",
        "mnist_data/checks.py"),
    "wrap_function": Idiom(
        "a TF2 rewrite; until then tf.compat.v1.wrap_function(build, signature) runs "
        "the graph builder as a TF2 function", "tf2_eager/legacy_graph.py"),
    "assign": Idiom(
        "v.assign(x) on the tf.Variable: it runs at once, also inside a tf.function",
        "tf2_eager/optimizers.py"),
    "towers": Idiom(
        "tf.distribute.MirroredStrategy: strategy.run per replica, gradients "
        "all-reduced; no per-GPU copies of the model", "tf2_eager/distributed.py"),
    "cluster": Idiom(
        "TF_CONFIG and tf.distribute.MultiWorkerMirroredStrategy: gradients are "
        "all-reduced, no parameter servers", "tf2_eager/distributed.py"),
    "dropout_positional": Idiom(
        "tf.nn.dropout(x, rate=1 - keep_prob): TF2's second argument is the rate",
        "tf2_eager/mlp.py"),
    "cross_entropy_order": Idiom(
        "keywords: tf.nn.softmax_cross_entropy_with_logits(labels=labels, "
        "logits=logits)", "tf2_eager/classifier.py"),
    "concat_axis_first": Idiom(
        "tf.concat(values, axis) / tf.split(value, num_or_size_splits, axis), "
        "the axis last", None),
    "in_top_k_order": Idiom(
        "tf.math.in_top_k(targets=labels, predictions=logits, k=k), by keyword", None),
    "batch_norm_updates": Idiom(
        "tf.keras.layers.BatchNormalization called with training=True: Keras "
        "updates the moving statistics itself", None),
    "app_flags_logging": Idiom(
        "absl: app.run(main), `from absl import flags`, absl.logging", "flags/definitions.py"),
    "estimator": Idiom(
        "a Keras model and a training loop (model.fit or a tf.function step); "
        "callbacks or plain code instead of SessionRunHooks", "tf2_eager/hooks.py"),
    "monitored_session": Idiom(
        "a plain loop: tf.train.Checkpoint + CheckpointManager for restarts, "
        "tf.summary for logs, a step counter for stopping", "tf2_eager/loop.py"),
    "config_proto": Idiom(
        "tf.config: set_memory_growth(gpu, True), set_visible_devices, "
        "threading.set_*_parallelism_threads; tf.profiler for RunMetadata", None),
    "contrib": Idiom(
        "the replacement named in the finding (tf.contrib is gone in TF2)", None),
    "gfile": Idiom("tf.io.gfile (exists, GFile, makedirs, rmtree, ...)", None),
    "collections": Idiom(
        "Python attributes: model.losses, model.trainable_variables, "
        "model.updates; no graph collections", "tf2_eager/mlp.py"),
    "gradients": Idiom(
        "tf.GradientTape: tape.gradient(loss, variables)", "tf2_eager/steps.py"),
    "shape_value": Idiom("x.shape[i], an int or None, without .value", None),
    "tensor_dict_key": Idiom(
        "key by tensor.ref() (or by name): TF2 tensors are unhashable", None),
    "variable_in_function": Idiom(
        "create variables once, outside the tf.function (in __init__ or on the "
        "first call only)", "tf2_eager/mlp.py"),
    "optimizer_two_variable_sets": Idiom(
        "one Keras optimizer per set of variables (a Keras 3 optimizer is "
        "built for the variables of its first call)", None),
    "keras_optimizers_legacy": Idiom(
        "tf.keras.optimizers.* (Keras 3), or the tf_keras package with "
        "TF_USE_LEGACY_KERAS=1", None),
    "naive_cross_entropy": Idiom(
        "the fused loss on the logits: tf.nn.softmax_cross_entropy_with_logits("
        "labels=, logits=) or tf.keras.losses.CategoricalCrossentropy(from_logits=True)",
        "tf2_eager/classifier.py"),
    "eager_in_session": Idiom(
        "eager code outside the Session block (or a tf.function called with "
        "values); graph code inside it, run with session.run", None),
    "tf32": Idiom(
        "tf.config.experimental.enable_tensor_float_32_execution(False) where "
        "float32 matmuls must match TF1's (TF2 turns TF32 on by default)",
        "compat_tests/conftest.py"),
    "argument_order": Idiom(
        "keywords for every argument after the ones TF1 and TF2 share "
        "(tf_upgrade_v2 names them by the TF1 order)", None),
    "frozen_graph": Idiom(
        "tf.saved_model.save / tf.saved_model.load; a frozen GraphDef loads "
        "through tf.compat.v1.wrap_function + tf.graph_util.import_graph_def",
        "tf2_eager/legacy_graph.py"),
}

# Canonical TF1 names (tf.X) or prefixes ending in "." -> MIGRATION.md row.
# The first match wins, so specific names come before their module.
_FAMILY_ROWS = (
    ("tf.placeholder", "placeholder"), ("tf.placeholder_with_default", "placeholder"),
    ("tf.Session", "session"), ("tf.InteractiveSession", "session"),
    ("tf.global_variables_initializer", "initializer"),
    ("tf.initialize_all_variables", "initializer"),
    ("tf.local_variables_initializer", "initializer"),
    ("tf.initialize_local_variables", "initializer"),
    ("tf.variables_initializer", "initializer"), ("tf.initialize_variables", "initializer"),
    ("tf.train.ClusterSpec", "cluster"), ("tf.train.Server", "cluster"),
    ("tf.train.replica_device_setter", "cluster"),
    ("tf.train.SyncReplicasOptimizer", "cluster"),
    ("tf.train.Saver", "saver"),
    ("tf.train.SummaryWriter", "summary"), ("tf.summary.FileWriter", "summary"),
    ("tf.summary.merge_all", "summary"), ("tf.summary.merge", "summary"),
    ("tf.Summary", "summary"), ("tf.scalar_summary", "summary"), ("tf.histogram_summary", "summary"),
    ("tf.image_summary", "summary"), ("tf.audio_summary", "summary"),
    ("tf.merge_all_summaries", "summary"), ("tf.merge_summary", "summary"),
    ("tf.set_random_seed", "seed"), ("tf.log", "log"),
    ("tf.layers.", "layers"),
    ("tf.truncated_normal", "random_ops"), ("tf.random_normal", "random_ops"),
    ("tf.random_uniform", "random_ops"),
    ("tf.variable_scope", "variable_scope"), ("tf.get_variable", "variable_scope"),
    ("tf.saved_model.builder.", "saved_model"), ("tf.saved_model.Builder", "saved_model"),
    ("tf.saved_model.simple_save", "saved_model"),
    ("tf.saved_model.loader.", "saved_model"),
    ("tf.wrap_function", "wrap_function"),
    ("tf.assign", "assign"), ("tf.assign_add", "assign"), ("tf.assign_sub", "assign"),
    ("tf.app.", "app_flags_logging"), ("tf.flags.", "app_flags_logging"),
    ("tf.logging.", "app_flags_logging"),
    ("tf.estimator.", "estimator"), ("tf.train.SessionRunHook", "estimator"),
    ("tf.train.SessionRunArgs", "estimator"), ("tf.train.LoggingTensorHook", "estimator"),
    ("tf.train.StopAtStepHook", "estimator"), ("tf.train.NanTensorHook", "estimator"),
    ("tf.train.CheckpointSaverHook", "estimator"), ("tf.train.SummarySaverHook", "estimator"),
    ("tf.train.StepCounterHook", "estimator"), ("tf.train.FinalOpsHook", "estimator"),
    ("tf.train.FeedFnHook", "estimator"), ("tf.train.GlobalStepWaiterHook", "estimator"),
    ("tf.train.ProfilerHook", "estimator"),
    ("tf.train.MonitoredTrainingSession", "monitored_session"),
    ("tf.train.MonitoredSession", "monitored_session"),
    ("tf.train.SingularMonitoredSession", "monitored_session"),
    ("tf.train.Supervisor", "monitored_session"), ("tf.train.Scaffold", "monitored_session"),
    ("tf.ConfigProto", "config_proto"), ("tf.GPUOptions", "config_proto"),
    ("tf.RunOptions", "config_proto"), ("tf.RunMetadata", "config_proto"),
    ("tf.GraphOptions", "config_proto"), ("tf.OptimizerOptions", "config_proto"),
    ("tf.contrib.", "contrib"),
    ("tf.gfile.", "gfile"),
    ("tf.get_collection", "collections"), ("tf.get_collection_ref", "collections"),
    ("tf.add_to_collection", "collections"), ("tf.add_to_collections", "collections"),
    ("tf.GraphKeys", "collections"),
    ("tf.gradients", "gradients"),
    ("tf.GraphDef", "frozen_graph"), ("tf.import_graph_def", "frozen_graph"),
    ("tf.graph_util.", "frozen_graph"),
)

# tf.contrib submodule -> what to use instead, named in each contrib finding.
CONTRIB_REPLACEMENTS = {
    "layers": "tf.keras.layers (initializers: tf.keras.initializers, "
              "regularizers: tf.keras.regularizers)",
    "slim": "tf.keras.layers and a Keras model, or the tf-slim package",
    "learn": "tf.keras models; the MNIST reader: mnist_data.load_dataset",
    "framework": "tf.Variable / tf.compat.v1.train.get_or_create_global_step; "
                 "arg_scope: plain functools.partial",
    "rnn": "tf.keras.layers.LSTMCell / GRUCell / RNN",
    "cudnn_rnn": "tf.keras.layers.LSTM / GRU (they pick the CuDNN kernel)",
    "seq2seq": "tensorflow_addons.seq2seq (archived) or Keras layers",
    "lookup": "tf.lookup",
    "data": "tf.data",
    "distribute": "tf.distribute",
    "opt": "tf.keras.optimizers",
    "metrics": "tf.keras.metrics",
    "losses": "tf.keras.losses",
    "summary": "tf.summary (create_file_writer, scalar(..., step=))",
    "image": "tf.image, or tensorflow_addons.image (archived)",
    "keras": "tf.keras",
    "eager": "nothing: TF2 runs eagerly",
    "training": "tf.data for input pipelines, tf.distribute for replicas",
    "saved_model": "tf.saved_model.save / load",
    "predictor": "tf.saved_model.load(dir).signatures['serving_default']",
    "tpu": "tf.distribute.TPUStrategy",
    "quantize": "the tensorflow-model-optimization package",
    "crf": "tensorflow_addons.text (archived)",
    "gan": "the tensorflow-gan package",
    "distributions": "the tensorflow-probability package",
    "bayesflow": "the tensorflow-probability package",
    "tensor_forest": "the tensorflow-decision-forests package",
    "text": "the tensorflow-text package",
    "tensorboard": "tf.summary",
    "checkpoint": "tf.train.Checkpoint",
}

# Names TF 1.0 renamed ({pre-1.0 name: its 1.0 name}). TensorFlow 1.x shipped
# them in tf_upgrade.py, which TF 2 packages no longer carry, so the common
# ones are written out here; TF2 has neither spelling of most.
PRE_1_0_RENAMES = {
    "tf.mul": "tf.multiply", "tf.sub": "tf.subtract", "tf.neg": "tf.negative",
    "tf.pack": "tf.stack", "tf.unpack": "tf.unstack", "tf.select": "tf.where",
    "tf.batch_matmul": "tf.matmul", "tf.listdiff": "tf.setdiff1d", "tf.complex_abs": "tf.abs",
    "tf.scalar_summary": "tf.summary.scalar", "tf.histogram_summary": "tf.summary.histogram",
    "tf.image_summary": "tf.summary.image", "tf.audio_summary": "tf.summary.audio",
    "tf.merge_summary": "tf.summary.merge", "tf.merge_all_summaries": "tf.summary.merge_all",
    "tf.train.SummaryWriter": "tf.summary.FileWriter",
    "tf.initialize_all_variables": "tf.global_variables_initializer",
    "tf.initialize_local_variables": "tf.local_variables_initializer",
    "tf.initialize_variables": "tf.variables_initializer",
    "tf.all_variables": "tf.global_variables",
    "tf.nn.rnn": "tf.contrib.rnn.static_rnn, tf.nn.static_rnn from 1.2",
    "tf.nn.seq2seq": "tf.contrib.legacy_seq2seq",
}

# Private tensorflow.python modules that TF1 programs imported for TF1 work
# -> their row. Other tensorflow.python imports are private helpers, not TF1 API.
_PRIVATE_MODULE_ROWS = {
    "tf.python.saved_model.builder": "saved_model",
    "tf.python.saved_model.signature_def_utils": "saved_model",
    "tf.python.tools.freeze_graph": "frozen_graph",
    "tf.python.tools.optimize_for_inference_lib": "frozen_graph",
    "tf.python.framework.graph_util": "frozen_graph",
}

# Facts about a whole tree, each shown by source text in any one of its files:
# the training loop that runs UPDATE_OPS (so BatchNorm's moving statistics are
# updated) often lives in another file than the model, and a conftest.py or
# main() turns TF32 off for every file.
RUNS_UPDATE_OPS = "runs UPDATE_OPS"
TURNS_TF32_OFF = "turns TF32 off"
_TREE_MARKERS = {
    RUNS_UPDATE_OPS: ("UPDATE_OPS", "updates_collections=None"),
    TURNS_TF32_OFF: ("enable_tensor_float_32_execution(False)",
                     "enable_tensor_float_32_execution(enabled=False)"),
}

_SESSION_FACTORIES = (
    "tf.Session", "tf.InteractiveSession", "tf.train.MonitoredTrainingSession",
    "tf.train.MonitoredSession", "tf.train.SingularMonitoredSession",
)
_SUMMARY_OPS = ("scalar", "histogram", "image", "audio", "text")
_BATCH_NORMS = (
    "tf.layers.batch_normalization", "tf.contrib.layers.batch_norm",
    "tf.contrib.slim.batch_norm", "tf.contrib.slim.layers.batch_norm",
)
_CROSS_ENTROPIES = (
    "tf.nn.softmax_cross_entropy_with_logits", "tf.nn.sigmoid_cross_entropy_with_logits",
)
# Functions whose outputs are probabilities: the log of one is a hand-written
# cross-entropy.
_PROBABILITIES = ("tf.nn.softmax", "tf.nn.sigmoid", "tf.sigmoid", "tf.math.sigmoid")
_LOGS = ("tf.log", "tf.math.log")
# Reordered functions with a detector of their own, which also says what the
# swap does to the number.
_OWN_ORDER_CHECKS = _CROSS_ENTROPIES + ("tf.nn.in_top_k", "tf.math.in_top_k")
# Calls whose positional arguments TF1 and TF2 order differently.
_POSITIONAL_ORDERS = ("tf.concat", "tf.split", "tf.nn.in_top_k", "tf.math.in_top_k")
_TF32_SWITCH = "tf.config.experimental.enable_tensor_float_32_execution"
# TF32 rounds matmul inputs to a 10-bit mantissa: results move by about 1e-3
# relative, so a comparison tighter than this relies on full float32.
_TF32_RELATIVE_ERROR = 1e-3
# Comparisons whose rtol= / atol= state the precision a file relies on.
_CLOSENESS_CHECKS = ("assert_allclose", "assertAllClose", "allclose", "isclose", "assert_near")
# Calls that run float32 matmuls or convolutions, which TF32 rounds.
_MATMULS = ("matmul", "conv1d", "conv2d", "conv3d", "dense", "Dense", "Conv2D", "einsum")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One TF1 idiom at one place of a file.

    Attributes:
      path: The file.
      line: 1-based line (in the notebook cell, for a notebook).
      column: 0-based column.
      expression: The TF1 code, shortened (e.g. "tf.nn.dropout(h, 0.9)").
      row: The MIGRATION.md row id, or None for a TF1 symbol with no row.
      severity: "silent", "breaks" or "style".
      message: What happens in TF2 (for silent: what the number becomes).
      upgrade: What tf_upgrade_v2 does: one of the UPGRADE_* phrases.
      upgrade_detail: How, e.g. "renames it to tf.compat.v1.Session".
      symbol: The canonical TF1 name, e.g. "tf.Session" (grouping key of
        row-less findings).
      cell: The notebook code cell (0-based index among all cells), or None.
    """

    path: str
    line: int
    column: int
    expression: str
    row: Optional[str]
    severity: str
    message: str
    upgrade: str
    upgrade_detail: str
    symbol: str
    cell: Optional[int] = None

    @property
    def group(self) -> str:
        """The row id, or the symbol for a finding with no MIGRATION.md row."""
        return self.row or self.symbol


@dataclasses.dataclass(frozen=True)
class FileReport:
    """The findings of one file, or why it could not be read.

    Attributes:
      path: The file.
      findings: Ordered by severity, then line.
      error: Why the file (or, in a notebook, a cell) could not be read or
        parsed; None when all of it was.
      error_line: The line that does not parse, when known.
    """

    path: str
    findings: tuple
    error: Optional[str] = None
    error_line: Optional[int] = None

    def error_location(self) -> str:
        return f"{self.path}:{self.error_line}" if self.error_line else self.path

    @property
    def parsed(self) -> bool:
        return self.error is None


def _dotted_name(node: ast.AST) -> Optional[str]:
    """"tf.compat.v1.placeholder" for that attribute chain, None for others."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _family_row(name: str) -> Optional[str]:
    if name.endswith(".read_data_sets") or name.startswith("tf.examples."):
        return "read_data_sets"
    for prefix, row in _FAMILY_ROWS:
        if name == prefix or (prefix.endswith(".") and name.startswith(prefix)):
            return row
        if not prefix.endswith(".") and name.startswith(prefix + "."):
            return row
    if name.startswith("tf.train.") and name.endswith("Optimizer"):
        return "optimizer"
    return None


def _constant_number(node: Optional[ast.AST]) -> Optional[float]:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(
            node.value, bool):
        return float(node.value)
    return None


def _short(node: ast.AST, limit: int = 60) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _keyword(node: ast.Call, name: str) -> Optional[ast.AST]:
    return next((keyword.value for keyword in node.keywords if keyword.arg == name), None)


class _Resolver:
    """Maps a file's names for TensorFlow to canonical TF1 names ("tf.X")."""

    def __init__(self):
        # {local name: (canonical prefix, spelled through tf.compat.v1)}.
        # `tf` is TensorFlow even in a file (or notebook part) that does not
        # import it, as in tutorials split across cells.
        self.aliases = {"tf": ("tf", False)}
        self.imports_compat_v1 = False

    def bind_import(self, module: str, asname: Optional[str]) -> Optional[str]:
        """Records `import module [as asname]`; returns its canonical name."""
        canonical, compat = self.canonical_module(module)
        if canonical is None:
            return None
        if asname:
            self.aliases[asname] = (canonical, compat)
        elif "." not in module:
            self.aliases[module] = (canonical, compat)
        return canonical

    def bind_from(self, module: str, name: str, asname: Optional[str]) -> Optional[str]:
        """Records `from module import name [as asname]`; returns name's canonical form."""
        canonical, compat = self.canonical_module(module + "." + name)
        if canonical is None:
            return None
        self.aliases[asname or name] = (canonical, compat)
        return canonical

    def canonical_module(self, dotted: str) -> tuple:
        parts = dotted.split(".")
        if parts[0] == "keras":
            return "tf." + dotted, False
        if parts[0] != "tensorflow":
            return None, False
        rest = parts[1:]
        if rest[:2] == ["compat", "v1"]:
            self.imports_compat_v1 = True
            return ".".join(["tf", *rest[2:]]), True
        if rest[:2] == ["compat", "v2"]:
            # TF2 code spelled explicitly: nothing to report under it.
            return None, False
        return ".".join(["tf", *rest]), False

    def resolve(self, dotted: str) -> tuple:
        """("tf.X", through_compat_v1) for a name chain, or (None, False)."""
        root, _, rest = dotted.partition(".")
        if root not in self.aliases:
            return None, False
        canonical, compat = self.aliases[root]
        name = canonical + ("." + rest if rest else "")
        if name.startswith("tf.compat.v1.") or name == "tf.compat.v1":
            return "tf" + name[len("tf.compat.v1"):], True
        if name.startswith("tf.compat.v2"):
            return None, False
        return name, compat


class _Detector(ast.NodeVisitor):
    """Collects the findings of one module."""

    def __init__(self, path: str, tables: migration_tables.UpgradeTables,
                 api: migration_tables.Tf2Api, source: str, elsewhere: frozenset):
        self._path = path
        self._tables = tables
        self._api = api
        self._resolver = _Resolver()
        self._findings: dict = {}
        # (line, symbol) of every finding, so that an attribute of a reported
        # symbol on the same line (tf.RunOptions.FULL_TRACE next to
        # tf.RunOptions(...)) is not reported again.
        self._symbols_by_line: set = set()
        self._sessions: set = set()
        # Names bound to a tensor made by a tf.* call other than a
        # placeholder, for the dict-key check.
        self._tensors: set = set()
        # {name: (call, shape, spelling)} of placeholders shaped [batch, 28, 28],
        # and the names multiplied as they are (matmul, dense, @).
        self._unflattened: dict = {}
        self._multiplied: set = set()
        # Dicts fed to Session.run: their tensor keys go with the Session.
        self._feed_dicts: set = set()
        # {optimizer name: [(call node, variable set text)]}.
        self._keras_optimizers: dict = collections.defaultdict(list)
        self._loop_depth = 0
        # Names bound to a softmax or sigmoid output.
        self._probabilities: set = set()
        # One set per enclosing `with` of a Session or Graph.as_default():
        # the names assigned inside it, which hold graph tensors there.
        self._session_blocks: list = []
        # Names bound to a tf.Graph(), whose as_default() opens a graph block.
        self._graphs: set = set()
        self._batch_norms: list = []
        # The training loop that runs UPDATE_OPS often lives in another file
        # of the tree than the model that creates the BatchNorm layers.
        self._mentions_update_ops = RUNS_UPDATE_OPS in _tree_facts(source) | elsewhere
        # TF2 summary code gives the step once, to the writer or globally.
        self._has_default_step = any(text in source for text in (
            "create_file_writer", "as_default(step", "set_step("))
        # Tolerances tighter than TF32's, found where a file that multiplies
        # matrices compares results: (call, tolerance) in source order.
        self._tight_tolerances: list = []
        self._runs_matmuls = False
        self._turns_tf32_off = TURNS_TF32_OFF in elsewhere

    # -- recording ------------------------------------------------------------

    def _add(self, node: ast.AST, expression: str, row: Optional[str], severity: str,
             message: str, upgrade: str, upgrade_detail: str, symbol: str) -> None:
        key = (node.lineno, node.col_offset, row or symbol)
        if key not in self._findings:
            self._findings[key] = Finding(
                self._path, node.lineno, node.col_offset, expression, row, severity,
                message, upgrade, upgrade_detail, symbol)
            self._symbols_by_line.add((node.lineno, symbol))

    def findings(self) -> list:
        self._finish_batch_norms()
        self._finish_unflattened()
        self._finish_optimizers()
        self._finish_tolerances()
        return list(self._findings.values())

    def _upgrade(self, name: str, compat: bool) -> tuple:
        """(action, detail) of tf_upgrade_v2 for canonical `name`."""
        if compat or self._resolver.imports_compat_v1:
            return UPGRADE_LEAVES, "leaves tf.compat.v1 code as it is"
        renamed = self._tables.renames.get(name)
        if renamed:
            if renamed.startswith("tf.compat.v1."):
                return UPGRADE_COMPAT_ONLY, f"renames it to {renamed}"
            return UPGRADE_FIXES, f"renames it to {renamed}"
        module = self._deprecated_module(name)
        if module:
            return UPGRADE_LEAVES, f"leaves it and reports: {module} cannot be converted"
        if name in self._tables.transformed:
            return UPGRADE_FIXES, "rewrites the call"
        return UPGRADE_LEAVES, "does not know this name"

    def _deprecated_module(self, name: str) -> Optional[str]:
        matches = [module for module in self._tables.deprecated_modules
                   if name == module or name.startswith(module + ".")]
        return max(matches, key=len) if matches else None

    # -- every TF1 symbol --------------------------------------------------------

    def _check_symbol(self, node: ast.AST, dotted: str, name: str, compat: bool) -> None:
        """Reports `name` if TF2 lacks or changed it, or if it is spelled through compat.v1."""
        if name.startswith("tf.keras"):
            if ".optimizers.legacy" in name:
                self._add(node, dotted, "keras_optimizers_legacy", "breaks",
                          "Keras 3 has no optimizers.legacy: ImportError at first use",
                          UPGRADE_LEAVES, "does not know this name", name)
            return
        if name.startswith("tf.python."):
            self._check_private(node, dotted, name)
            return
        symbol = self._renamed_prefix(name) or name
        if name != symbol and (node.lineno, symbol) in self._symbols_by_line:
            return
        action, detail = self._upgrade(symbol, compat)
        row = _family_row(symbol)
        if symbol.startswith("tf.contrib") and row in (None, "contrib"):
            submodule = symbol.split(".")[2] if symbol.count(".") >= 2 else ""
            replacement = CONTRIB_REPLACEMENTS.get(submodule, "no direct replacement")
            self._add(node, dotted, "contrib", "breaks",
                      f"tf.contrib is gone in TF2; use {replacement}", action, detail, symbol)
            return
        missing = self._missing(name, compat)
        if row == "layers" and not missing:
            # tf.compat.v1.layers exists but raises under Keras 3.
            missing = symbol
        changed = symbol in self._tables.renames or self._deprecated_module(symbol)
        if missing:
            severity = "breaks"
            message = f"TF2 has no {missing}: AttributeError at first use"
            if missing in PRE_1_0_RENAMES:
                message = (f"a pre-1.0 name (TF 1.0 renamed it {PRE_1_0_RENAMES[missing]}); "
                           f"TF2 has no {missing}: AttributeError at first use")
            if compat:
                message = (f"tf.compat.v1 has no {missing[3:]} under TF 2.16+ and Keras 3: "
                           "it fails at first use")
        elif not (changed or row):
            # A name TF2 has as it was (tf.float32, tf.nn.relu): clean.
            return
        elif compat:
            severity, message = "style", "runs through tf.compat.v1 in graph mode: TF1 code"
        elif changed:
            severity = "style"
            message = (f"TF2 has {symbol} with another signature or behaviour; "
                       "check each call against its TF2 documentation")
        else:
            severity = "style"
            message = f"TF2 keeps {symbol} for graph-mode code; TF2 code does without it"
        self._add(node, dotted, row, severity, message, action, detail, symbol)

    def _check_private(self, node: ast.AST, dotted: str, name: str) -> None:
        """Reports a use of a private tensorflow.python module that does TF1 work."""
        module = next((module for module in _PRIVATE_MODULE_ROWS
                       if name.startswith(module + ".")), None)
        if module is None:
            return
        self._add(node, dotted, _PRIVATE_MODULE_ROWS[module], "style",
                  f"{module.replace('tf.', 'tensorflow.', 1)} is private: TF2 keeps it for "
                  "its own use, and the row's public TF2 way replaces it",
                  UPGRADE_LEAVES, "does not rename private modules", name)

    def _renamed_prefix(self, name: str) -> Optional[str]:
        """The longest prefix of `name` that tf_upgrade_v2 renames."""
        parts = name.split(".")
        for end in range(len(parts), 1, -1):
            prefix = ".".join(parts[:end])
            if prefix in self._tables.renames:
                return prefix
        return None

    def _missing(self, name: str, compat: bool) -> Optional[str]:
        return self._api.missing_prefix(name, base=("compat", "v1") if compat else ())

    # -- imports ------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            canonical = self._resolver.bind_import(alias.name, alias.asname)
            if canonical:
                self._check_import(node, f"import {alias.name}", canonical,
                                   alias.name.startswith("tensorflow.compat.v1"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.module:
            return
        for alias in node.names:
            canonical = self._resolver.bind_from(node.module, alias.name, alias.asname)
            if canonical:
                self._check_import(node, f"from {node.module} import {alias.name}", canonical,
                                   node.module.startswith("tensorflow.compat.v1"))

    def _check_import(self, node: ast.AST, expression: str, canonical: str, compat: bool) -> None:
        parts = canonical.split(".")
        if len(parts) < 2 or parts[1] in ("python", "keras", "compat", "core", "tools"):
            # tensorflow.python.* is private, not TF1 API; keras is checked where used.
            return
        if parts[1] == "examples":
            self._add(node, expression, "read_data_sets", "breaks",
                      "TF2 ships no tensorflow.examples: ModuleNotFoundError at import",
                      UPGRADE_LEAVES, "does not know this module", "tf.examples")
            return
        if parts[1] == "contrib" or not self._api.is_module(tuple(parts[1:])) and self._missing(
                canonical, compat):
            self._check_symbol(node, expression, canonical, compat)

    # -- names, attributes and calls --------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "value" and self._is_shape_subscript(node.value):
            self._add(node, _short(node), "shape_value", "breaks",
                      "TF2 shapes hold ints: AttributeError: 'int' object has no attribute 'value'",
                      UPGRADE_LEAVES, "does not know this attribute", "Dimension.value")
        if node.attr == "allow_growth":
            self._add(node, _short(node), "config_proto", "breaks",
                      "TF2 has no Session config: set memory growth with "
                      "tf.config.experimental.set_memory_growth", UPGRADE_LEAVES,
                      "does not know this attribute", "tf.GPUOptions")
        dotted = _dotted_name(node)
        if dotted is None:
            self.generic_visit(node)
            return
        name, compat = self._resolver.resolve(dotted)
        if name and not _is_example_use(name):
            self._check_symbol(node, dotted, name, compat)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self._resolver.aliases and node.id != "tf":
            # A name imported from TensorFlow and used bare (`slim`, `input_data`).
            name, compat = self._resolver.resolve(node.id)
            if name and name.count(".") >= 2 and not _is_example_use(name):
                self._check_symbol(node, node.id, name, compat)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Store) and isinstance(node.slice, ast.Name):
            self._check_tensor_key(node.slice)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if id(node) not in self._feed_dicts:
            for key in node.keys:
                if isinstance(key, ast.Name):
                    self._check_tensor_key(key)
        self.generic_visit(node)

    def _check_tensor_key(self, key: ast.Name) -> None:
        if key.id in self._tensors:
            self._add(key, key.id, "tensor_dict_key", "breaks",
                      "TF2 tensors are unhashable: TypeError: Tensor is unhashable. "
                      "Instead, use tensor.ref() as the key",
                      UPGRADE_LEAVES, "does not know this use", "tf.Tensor.__hash__")

    def _is_shape_subscript(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Subscript):
            return False
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            return True
        return isinstance(value, ast.Call) and isinstance(
            value.func, ast.Attribute) and value.func.attr == "get_shape"

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._remember(node.value, target)
            if self._session_blocks:
                self._session_blocks[-1].update(
                    element.id for element in ([target] + getattr(target, "elts", []))
                    if isinstance(element, ast.Name))
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self._remember(item.context_expr, item.optional_vars)
        opens_graph = any(self._opens_graph(item.context_expr) for item in node.items)
        if opens_graph:
            self._session_blocks.append(set())
        self.generic_visit(node)
        if opens_graph:
            self._session_blocks.pop()

    def _opens_graph(self, context: ast.AST) -> bool:
        """Whether `with context:` makes a graph the default: a Session, or a Graph's as_default()."""
        if not isinstance(context, ast.Call):
            return False
        function = context.func
        if isinstance(function, ast.Attribute) and function.attr == "as_default":
            receiver = function.value
            if isinstance(receiver, ast.Name):
                return receiver.id in self._graphs
            return isinstance(receiver, ast.Call) and self._resolver.resolve(
                _dotted_name(receiver.func) or "")[0] == "tf.Graph"
        return self._resolver.resolve(_dotted_name(function) or "")[0] in _SESSION_FACTORIES

    def _remember(self, value: ast.AST, target: Optional[ast.AST]) -> None:
        if not isinstance(target, ast.Name) or not isinstance(value, ast.Call):
            return
        dotted = _dotted_name(value.func)
        name = self._resolver.resolve(dotted)[0] if dotted else None
        method = dotted.rsplit(".", 1)[-1] if dotted else ""
        if name in _SESSION_FACTORIES or method in (
                "prepare_or_wait_for_session", "managed_session"):
            self._sessions.add(target.id)
        elif name == "tf.placeholder":
            shape = value.args[1] if len(value.args) > 1 else _keyword(value, "shape")
            if _is_unflattened_shape(shape):
                self._unflattened[target.id] = (value, shape, dotted)
        elif name and name.startswith("tf.keras.optimizers."):
            self._keras_optimizers[target.id] = []
        elif name in _PROBABILITIES:
            self._probabilities.add(target.id)
        elif name == "tf.Graph":
            self._graphs.add(target.id)
        elif name and _makes_tensor(name):
            self._tensors.add(target.id)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        is_tf_function = any(self._resolver.resolve(_dotted_name(
            decorator.func if isinstance(decorator, ast.Call) else decorator) or "")[0]
            == "tf.function" for decorator in node.decorator_list)
        if is_tf_function:
            for inner in _unguarded_calls(node.body):
                dotted = _dotted_name(inner.func)
                if dotted and self._resolver.resolve(dotted)[0] == "tf.Variable":
                    self._add(inner, _short(inner), "variable_in_function", "breaks",
                              "ValueError: tf.function only supports singleton "
                              "tf.Variables created on the first call",
                              UPGRADE_LEAVES, "does not know this use", "tf.function")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_For(self, node: ast.For) -> None:
        self._loop_depth += 1
        self.generic_visit(node)
        self._loop_depth -= 1

    visit_While = visit_For

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult):
            for operand in (node.left, node.right):
                self._note_matmul_operand(operand)
        self.generic_visit(node)

    def _note_matmul_operand(self, operand: ast.AST) -> None:
        if isinstance(operand, ast.Name):
            self._multiplied.add(operand.id)

    def visit_Call(self, node: ast.Call) -> None:
        self._check_result_method(node)
        self._note_precision(node)
        dotted = _dotted_name(node.func)
        if dotted:
            name, compat = self._resolver.resolve(dotted)
            if name:
                self._check_call(node, dotted, name, compat)
            self._check_method(node, dotted)
        if "reduction_indices" in {keyword.arg for keyword in node.keywords} and not (
                dotted and self._resolver.resolve(dotted)[0]):
            self._add(node, f"{dotted or 'a call'}(reduction_indices=...)", "reduction_indices",
                      "breaks", "TF2 has no reduction_indices: TypeError", UPGRADE_FIXES,
                      "renames it to axis", "reduction_indices")
        self.generic_visit(node)

    def _check_result_method(self, node: ast.Call) -> None:
        """Methods called on a value: op.run(), tensor.eval(), tensor.numpy()."""
        if not isinstance(node.func, ast.Attribute):
            return
        method, receiver = node.func.attr, node.func.value
        made_by = (self._resolver.resolve(_dotted_name(receiver.func) or "")[0]
                   if isinstance(receiver, ast.Call) else None)
        # Only ops and tensors: a strategy's or a session's run() is no finding here.
        if made_by and not (_makes_tensor(made_by) or _family_row(made_by) in (
                "initializer", "assign")):
            made_by = None
        if method in ("run", "eval") and made_by:
            # tf.global_variables_initializer().run(): an op run in the default Session.
            self._add(node, f"{_short(receiver)}.{method}()", "session_run", "breaks",
                      f"TF2 ops and tensors have no .{method}(): there is no default Session; "
                      "ops run when called", UPGRADE_LEAVES,
                      "leaves the call (it renames tf.Session only)", f"Operation.{method}")
        elif method == "numpy" and self._session_blocks and (made_by or (
                isinstance(receiver, ast.Name) and receiver.id in self._session_blocks[-1])):
            self._add(node, f"{_short(receiver)}.numpy()", "eager_in_session", "breaks",
                      "inside a `with` Session (or Graph.as_default()) block ops build graph "
                      "tensors: AttributeError: 'SymbolicTensor' object has no attribute "
                      "'numpy'", UPGRADE_LEAVES, "does not know this use", "Tensor.numpy")

    def _note_precision(self, node: ast.Call) -> None:
        """Notes matmuls, the TF32 switch turned off, and tolerances tighter than TF32's."""
        function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
            node.func, "id", "")
        if function in _MATMULS:
            self._runs_matmuls = True
        elif function == _TF32_SWITCH.rsplit(".", 1)[1]:
            argument = node.args[0] if node.args else _keyword(node, "enabled")
            self._turns_tf32_off |= isinstance(argument, ast.Constant) and argument.value is False
        elif function in _CLOSENESS_CHECKS:
            tolerances = [_constant_number(_keyword(node, name)) for name in ("rtol", "atol")]
            tolerances = [value for value in tolerances if value is not None]
            if tolerances and max(tolerances) < _TF32_RELATIVE_ERROR:
                self._tight_tolerances.append((node, max(tolerances)))

    def _check_method(self, node: ast.Call, dotted: str) -> None:
        """Calls recognised by their method name, whatever the receiver."""
        receiver, _, method = dotted.rpartition(".")
        keywords = {keyword.arg for keyword in node.keywords}
        feeds = "feed_dict" in keywords or any(isinstance(arg, ast.Dict) for arg in node.args)
        if method in ("run", "eval") and (feeds or receiver in self._sessions):
            shown = "feed_dict=..." if feeds else "..."
            self._add(node, f"{dotted}({shown})", "session_run", "breaks",
                      "TF2 has no Session to run ops in: ops run when called",
                      UPGRADE_LEAVES, "leaves the call (it renames tf.Session only)", "Session.run")
        elif method in ("make_initializable_iterator", "make_one_shot_iterator"):
            self._add(node, dotted, None, "breaks",
                      f"TF2 datasets have no {method}: iterate the dataset, or iter(dataset)",
                      UPGRADE_COMPAT_ONLY, f"rewrites it as tf.compat.v1.data.{method}(dataset)",
                      f"tf.data.Dataset.{method}")
        elif method == "read_data_sets":
            self._add(node, dotted, "read_data_sets", "breaks",
                      "TF2 ships no MNIST reader (tensorflow.examples, tf.contrib.learn)",
                      UPGRADE_LEAVES, "does not know this reader", "read_data_sets")
        elif method in ("apply_gradients", "minimize") and receiver in self._keras_optimizers:
            variables = _variable_set(node, method)
            self._keras_optimizers[receiver].append((node, variables))
        if method in ("matmul", "dense"):
            for argument in node.args[:2 if method == "matmul" else 1]:
                self._note_matmul_operand(argument)
        if method in ("run", "eval"):
            self._feed_dicts.update(id(argument) for argument in [
                *node.args, *(keyword.value for keyword in node.keywords)]
                if isinstance(argument, ast.Dict))

    def _check_call(self, node: ast.Call, dotted: str, name: str, compat: bool) -> None:
        """The project's detectors for calls of canonical TF1 name `name`."""
        keywords = {keyword.arg for keyword in node.keywords}
        self._check_renamed_keywords(node, dotted, name, compat, keywords)
        if name in self._tables.reorders and name not in _OWN_ORDER_CHECKS and not compat:
            self._check_argument_order(node, dotted, name)
        if name in _LOGS and node.args and self._is_probability(node.args[0]):
            self._add(node, f"{dotted}({_short(node.args[0])})", "naive_cross_entropy", "silent",
                      "the log of softmax (or sigmoid) probabilities: once one underflows to 0 "
                      "the loss is -inf and its gradient NaN, where the fused "
                      "softmax_cross_entropy_with_logits (Keras: from_logits=True) stays finite",
                      UPGRADE_LEAVES, "renames tf.log to tf.math.log and keeps the formula",
                      name)
        # The names below are disjoint, so at most one detector applies.
        if name == "tf.nn.dropout":
            self._check_dropout(node, dotted, compat)
        elif name in _CROSS_ENTROPIES and len(node.args) >= 2:
            self._check_cross_entropy(node, dotted, name, compat)
        elif name in _POSITIONAL_ORDERS:
            self._check_positional_order(node, dotted, name, compat)
        elif name in _BATCH_NORMS or (name.endswith(".batch_norm") and "slim" in name):
            self._batch_norms.append((node, dotted))
        elif name in ("tf.train.AdamOptimizer", "tf.train.RMSPropOptimizer"):
            self._check_optimizer_defaults(node, dotted, name, compat)
        else:
            self._check_context_call(node, dotted, name, compat, keywords)

    def _check_renamed_keywords(
        self, node: ast.Call, dotted: str, name: str, compat: bool, keywords: set[str]
    ) -> None:
        """Keywords that TF2's `name` renamed or dropped (reduction_indices=, dimension=)."""
        renamed_keywords = self._tables.keyword_renames.get(name, {})
        for keyword in sorted(keywords & set(renamed_keywords)):
            new = renamed_keywords[keyword]
            row = {"reduction_indices": "reduction_indices", "dimension": "argmax_dimension"}.get(
                keyword)
            self._add(node, f"{dotted}(..., {keyword}=...)", row,
                      "style" if compat else "breaks",
                      (f"tf.compat.v1 keeps {keyword}=; " if compat else "")
                      + f"TF2's {name} has no {keyword}= argument: TypeError",
                      UPGRADE_LEAVES if compat else UPGRADE_FIXES,
                      "leaves tf.compat.v1 code as it is" if compat
                      else f"renames it to {new}=" if new else "drops it",
                      f"{name}({keyword}=)")

    def _check_positional_order(self, node: ast.Call, dotted: str, name: str, compat: bool) -> None:
        """Calls whose positional arguments changed order: tf.concat and
        tf.split with the axis first, in_top_k(predictions, targets)."""
        if name in ("tf.concat", "tf.split") and node.args and isinstance(
                node.args[0], ast.Constant) and isinstance(node.args[0].value, int):
            self._add(node, f"{dotted}({_short(node.args[0])}, ...)", "concat_axis_first", "breaks",
                      f"pre-1.0 order (axis first); TF >= 1.0 reads {_short(node.args[0])} as the "
                      "values and fails (ValueError or InvalidArgumentError)",
                      UPGRADE_LEAVES, "keeps the arguments where they are", name)
        elif name in ("tf.nn.in_top_k", "tf.math.in_top_k") and len(node.args) >= 2:
            # tf.compat.v1 keeps the TF1 order, so the call is right until it moves.
            self._add(node, f"{dotted}({_short(node.args[0])}, {_short(node.args[1])}, ...)",
                      "in_top_k_order", "style" if compat else "breaks",
                      ("right under tf.compat.v1; " if compat else "")
                      + "TF2's order is (targets, predictions, k): the TF1 order fails with "
                      "\"Value for attr 'T' of float is not in the list of allowed values\"",
                      *((UPGRADE_LEAVES, "leaves tf.compat.v1 code as it is") if compat else
                        (UPGRADE_FIXES, "names them by the TF1 order: "
                         + ", ".join(self._tables.reorders.get(name, ())[:3]))),
                      name)

    def _check_context_call(
        self, node: ast.Call, dotted: str, name: str, compat: bool, keywords: set[str]
    ) -> None:
        """Calls that break or mislead by where they stand: tf.device on a GPU
        in a loop, the TF32 switch, tf.executing_eagerly in a Session block,
        tf.gradients, and summary ops without a step."""
        if name == "tf.device" and self._loop_depth and node.args and "gpu" in ast.unparse(
                node.args[0]).lower():
            self._add(node, f"{dotted}({_short(node.args[0])}) in a loop", "towers", "style",
                      "one model copy per GPU with hand-averaged gradients: it runs, but TF2 "
                      "code builds the model once under a tf.distribute strategy",
                      UPGRADE_LEAVES, "does not know this pattern", "tf.device")
        elif name == _TF32_SWITCH and _is_true(
                node.args[0] if node.args else _keyword(node, "enabled")):
            self._add(node, f"{dotted}(True)", "tf32", "silent",
                      "TF32 on: Ampere and newer GPUs round float32 matmul and convolution "
                      "inputs to a 10-bit mantissa (relative error ~1e-3, TF1 computed in full "
                      "float32); TF2 does this by default already, so tolerances of 1e-5 fail "
                      "on such GPUs", UPGRADE_LEAVES, "does not know this TF2 switch", name)
        elif name == "tf.executing_eagerly" and self._session_blocks:
            self._add(node, dotted, "eager_in_session", "silent",
                      "inside a `with` Session (or Graph.as_default()) block it returns False: "
                      "the eager branch of this code never runs there",
                      UPGRADE_LEAVES, "does not know this use", name)
        elif name == "tf.gradients":
            self._add(node, dotted, "gradients", "breaks",
                      "RuntimeError: tf.gradients is not supported when eager execution "
                      "is enabled (it works only inside a tf.function)",
                      UPGRADE_LEAVES, "turns positional arguments into keywords, keeps tf.gradients",
                      name)
        elif name.startswith("tf.summary.") and name.rsplit(".", 1)[-1] in _SUMMARY_OPS and (
                "step" not in keywords and not compat and not self._has_default_step):
            self._add(node, dotted, "summary", "breaks",
                      "TF2's summary ops write to the default writer at an explicit step: "
                      "with no default writer they write nothing (and return False), with "
                      "one but no step they raise ValueError",
                      UPGRADE_COMPAT_ONLY, f"renames it to tf.compat.v1.{name[3:]}", name)

    def _is_probability(self, node: ast.AST) -> bool:
        """Whether `node` is a softmax or sigmoid output (a call, or a name bound to one)."""
        if isinstance(node, ast.Name):
            return node.id in self._probabilities
        return isinstance(node, ast.Call) and self._resolver.resolve(
            _dotted_name(node.func) or "")[0] in _PROBABILITIES

    def _check_argument_order(self, node: ast.Call, dotted: str, name: str) -> None:
        """Positional arguments that TF1 and TF2 bind to different parameters.

        tf_upgrade_v2's reorder table gives the TF1 order of each function
        whose TF2 signature moved; TF2's own order is read from its source.
        A name TF2 lacks fails at first use and is reported as such.
        """
        tf1_order = self._tables.reorders[name]
        if all(parameter is None for parameter in tf1_order[:len(node.args)]):
            # Only the leading arguments TF1 and TF2 share are positional.
            return
        tf2_order = self._api.parameters(name) if not self._missing(name, False) else None
        if tf2_order is None:
            return
        renamed = self._tables.keyword_renames.get(name, {})
        moved = []
        for index, argument in enumerate(node.args[:len(tf1_order)]):
            tf1_parameter = tf1_order[index]
            if tf1_parameter is None or isinstance(argument, ast.Starred):
                continue
            tf2_parameter = tf2_order[index] if index < len(tf2_order) else None
            if tf2_parameter not in (tf1_parameter, renamed.get(tf1_parameter, tf1_parameter)):
                moved.append((index, argument, tf1_parameter, tf2_parameter))
        if not moved:
            return
        binds = "; ".join(
            f"argument {index + 1} ({_short(argument, 30)}) is TF1's {tf1} and "
            + (f"TF2's {tf2}" if tf2 else "beyond TF2's positional parameters")
            for index, argument, tf1, tf2 in moved)
        keywords = ", ".join(
            f"drops {tf1}" if renamed.get(tf1, tf1) is None else f"{tf1}="
            for _, _, tf1, _ in moved)
        if all(tf2 for _, _, _, tf2 in moved):
            severity = "silent"
            message = (f"TF2's {name} orders its parameters differently: {binds}; it runs "
                       "with the value in another role (or fails where the value does not fit)")
        else:
            severity = "breaks"
            message = f"TF2's {name} takes fewer positional arguments: {binds}: TypeError"
        self._add(node, f"{dotted}({', '.join(_short(a, 20) for a in node.args)})",
                  "argument_order", severity, message, UPGRADE_FIXES,
                  f"names them by the TF1 order: {keywords}", name)

    def _check_dropout(self, node: ast.Call, dotted: str, compat: bool) -> None:
        if "keep_prob" in {keyword.arg for keyword in node.keywords}:
            self._add(node, f"{dotted}(..., keep_prob=...)", "dropout_keep_prob",
                      "style" if compat else "breaks",
                      "TF2's tf.nn.dropout has no keep_prob: TypeError",
                      UPGRADE_FIXES if not compat else UPGRADE_LEAVES,
                      "rewrites it as rate=1 - (keep_prob)" if not compat
                      else "leaves tf.compat.v1 code as it is", "tf.nn.dropout")
        elif len(node.args) >= 2 and _keyword(node, "rate") is None:
            keep = node.args[1]
            number = _constant_number(keep)
            if number is not None:
                effect = f"keep {number:g} → drops {number * 100:g} %"
            else:
                effect = (f"{_short(keep)} is a keep probability and TF2 reads it as the "
                          "rate: keep 0.9 → drops 90 %, keep 1.0 (evaluation) → drops all")
            where = "when moved to tf.nn.dropout" if compat else "in TF2"
            self._add(node, f"{dotted}({_short(node.args[0])}, {_short(keep)})",
                      "dropout_positional", "silent",
                      f"the second argument is the rate {where}: {effect}",
                      UPGRADE_FIXES if not compat else UPGRADE_LEAVES,
                      "rewrites it as rate=1 - (keep_prob)" if not compat
                      else "leaves tf.compat.v1 code as it is", "tf.nn.dropout")

    def _check_cross_entropy(self, node: ast.Call, dotted: str, name: str, compat: bool) -> None:
        first, second = _short(node.args[0]), _short(node.args[1])
        if compat:
            # TF 2's tf.compat.v1 takes positional arguments as (labels, logits)
            # too (measured on TF 2.21), so the swap is as silent there.
            upgrade, detail = UPGRADE_LEAVES, "leaves tf.compat.v1 code as it is"
        elif name in self._tables.reorders:
            # tf_upgrade_v2 names positional arguments by the TF 1.x order.
            keywords = self._tables.reorders[name]
            upgrade, detail = (UPGRADE_WRONG, f"turns them into {keywords[0]}={first}, "
                               f"{keywords[1]}={second} (the TF 1.x order)")
            if name in self._tables.transformed:
                detail += f" and wraps {first} in tf.stop_gradient"
        else:
            upgrade, detail = UPGRADE_LEAVES, "keeps them positional, in the wrong order"
        self._add(node, f"{dotted}({first}, {second})", "cross_entropy_order", "silent",
                  f"pre-1.0 order (logits, labels); TF2's is (labels, logits): {first} becomes "
                  f"the labels and {second} the logits, the loss is another number and the "
                  "gradient flows into the wrong tensor", upgrade, detail, name)

    def _check_optimizer_defaults(self, node: ast.Call, dotted: str, name: str,
                                  compat: bool) -> None:
        if name == "tf.train.AdamOptimizer":
            if _keyword(node, "epsilon") is not None or len(node.args) >= 4:
                return
            message = ("TF1's default epsilon is 1e-8, Keras Adam's 1e-7: moving to "
                       "tf.keras.optimizers.Adam() changes every step; pass epsilon=1e-8 "
                       "(still not bit-equal: see Tf1Adam)")
        else:
            message = ("TF1's RMSProp starts its mean square at 1 (epsilon 1e-10), Keras "
                       "RMSprop at 0 (epsilon 1e-7): the first steps differ by orders of "
                       "magnitude; use Tf1RMSProp to keep TF1's numbers")
        action, detail = self._upgrade(name, compat)
        self._add(node, dotted, "optimizer", "silent", message, action, detail, name)

    # -- checks that need the whole file ------------------------------------------------

    def _finish_batch_norms(self) -> None:
        if self._mentions_update_ops:
            return
        for node, dotted in self._batch_norms:
            name = self._resolver.resolve(dotted)[0]
            action, detail = self._upgrade(name, False)
            self._add(node, dotted, "batch_norm_updates", "silent",
                      "nothing runs tf.GraphKeys.UPDATE_OPS: the moving mean and variance "
                      "stay at 0 and 1, so inference (training=False) normalises with them "
                      "and its accuracy differs from training's",
                      action, detail, name)

    def _finish_tolerances(self) -> None:
        if not self._runs_matmuls or self._turns_tf32_off:
            return
        for node, tolerance in self._tight_tolerances:
            self._add(node, f"{_short(node.func)}(..., {tolerance:g})", "tf32", "silent",
                      f"compares float32 matmul results to {tolerance:g}, tighter than TF32's "
                      "~1e-3: TF2 turns TF32 on by default, so on an Ampere or newer GPU these "
                      "numbers move and the comparison fails; call "
                      "tf.config.experimental.enable_tensor_float_32_execution(False)",
                      UPGRADE_LEAVES, "does not look at precision", "TF32 default")

    def _finish_unflattened(self) -> None:
        for name, (value, shape, dotted) in self._unflattened.items():
            if name not in self._multiplied:
                # Reshaped before any MatMul, or fed to convolutions: correct.
                continue
            self._add(value, f"{dotted}(..., {ast.unparse(shape)})", "unflattened_images",
                      "breaks", "a [batch, 28, 28] tensor into a MatMul fails: In[0] and "
                      "In[1] must have compatible batch dimensions",
                      UPGRADE_LEAVES, "does not look at shapes", "tf.placeholder")

    def _finish_optimizers(self) -> None:
        for calls in self._keras_optimizers.values():
            seen = []
            for node, variables in calls:
                if seen and variables not in seen:
                    self._add(node, _short(node), "optimizer_two_variable_sets", "breaks",
                              f"this optimizer was built for {seen[0]}; Keras 3 raises "
                              f"ValueError: Unknown variable for {variables}",
                              UPGRADE_LEAVES, "does not know this use",
                              "keras.optimizers.Optimizer")
                if variables not in seen:
                    seen.append(variables)


def _is_true(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_example_use(name: str) -> bool:
    """Whether `name` uses a tensorflow.examples module other than to read MNIST.

    The import is reported (TF2 ships no tensorflow.examples); each use of the
    module's model functions (mnist.inference, mnist.IMAGE_PIXELS) would
    repeat that finding.
    """
    return name.startswith("tf.examples.") and not name.endswith(".read_data_sets")


# Modules whose lower-case functions return tensors.
_TENSOR_MODULES = ("tf", "tf.nn", "tf.math", "tf.random", "tf.linalg", "tf.image", "tf.strings")


def _makes_tensor(name: str) -> bool:
    """Whether calling canonical `name` returns a tf.Tensor or tf.Variable."""
    module, _, function = name.rpartition(".")
    if name == "tf.Variable":
        return True
    return module in _TENSOR_MODULES and function[:1].islower() and _family_row(name) is None


def _is_unflattened_shape(node: Optional[ast.AST]) -> bool:
    """Whether a placeholder's shape literal is [batch, 28, 28]: images a MatMul cannot take.

    [batch, 28, 28, 1] is a convnet's input and [batch, 784] is flat: neither is.
    """
    if not isinstance(node, (ast.List, ast.Tuple)) or len(node.elts) != 3:
        return False
    sides = [element.value for element in node.elts[1:] if isinstance(element, ast.Constant)]
    return sides == [28, 28]


def _unguarded_calls(body: Sequence[ast.stmt]) -> Iterator[ast.Call]:
    """Calls in `body` that run on every call: not under an `if`, not in a nested def."""
    for statement in body:
        if isinstance(statement, (ast.If, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                yield node


def _variable_set(node: ast.Call, method: str) -> str:
    """The text naming the variables an optimizer call updates."""
    if method == "minimize":
        argument = node.args[1] if len(node.args) > 1 else _keyword(node, "var_list")
    else:
        argument = node.args[0] if node.args else _keyword(node, "grads_and_vars")
        if isinstance(argument, ast.Call) and _dotted_name(argument.func) == "zip" and len(
                argument.args) == 2:
            argument = argument.args[1]
    return _short(argument) if argument is not None else "?"


_SEVERITY_ORDER = {severity: index for index, severity in enumerate(SEVERITIES)}


def find_idioms(source: str, path: str,
                tables: Optional[migration_tables.UpgradeTables] = None,
                api: Optional[migration_tables.Tf2Api] = None,
                elsewhere: frozenset = frozenset()) -> list:
    """Lists the TF1 idioms of Python source: silent first, then by line.

    Args:
      source: The file's text.
      path: Its path, for the findings.
      tables: tf_upgrade_v2's tables; default: the installed TensorFlow's.
      api: TF2's API listing; default: the installed TensorFlow's.
      elsewhere: Facts shown by other files of the tree (RUNS_UPDATE_OPS:
        BatchNorm layers here are updated; TURNS_TF32_OFF: comparisons here
        get full float32 matmuls).

    Raises:
      SyntaxError: If the source does not parse as Python 3.
      ValueError: If it holds null bytes, or TensorFlow's tables are missing.
    """
    tree = ast.parse(source, filename=path)
    detector = _Detector(path, tables or migration_tables.load(),
                         api or _installed_api(), source, elsewhere)
    detector.visit(tree)
    return sorted(detector.findings(), key=lambda finding: (
        _SEVERITY_ORDER[finding.severity], finding.line, finding.column))


@functools.lru_cache(maxsize=None)
def _installed_api() -> migration_tables.Tf2Api:
    # One listing per process, so that each API file is parsed once per run.
    return migration_tables.Tf2Api()


def _notebook_cells(text: str) -> list:
    """The code cells of a notebook as sources, IPython magics blanked."""
    notebook = json.loads(text)
    cells = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            cells.append(None)
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        # %magics and !shell lines are not Python; blank them, keeping lines.
        lines = ["" if line.lstrip().startswith(("%", "!")) else line
                 for line in source.split("\n")]
        cells.append("\n".join(lines))
    return cells


def _read(path: str) -> tuple:
    """(text, None), or (None, why the file cannot be read)."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read(), None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        return None, f"cannot read the file ({reason})"


def report_file(path: str, elsewhere: frozenset = frozenset()) -> FileReport:
    """Reads and reports one .py file or notebook; never raises for bad input.

    Args:
      path: A .py file or a .ipynb notebook.
      elsewhere: Facts shown by other files of the tree (see find_idioms).
    """
    text, error = _read(path)
    if error:
        return FileReport(path, (), error)
    if path.endswith(".ipynb"):
        return _report_notebook(path, text, elsewhere)
    try:
        return FileReport(path, tuple(find_idioms(text, path, elsewhere=elsewhere)))
    except SyntaxError as error:
        return FileReport(path, (), _parse_error(error.msg), error.lineno)
    except ValueError as error:
        # ast.parse raises ValueError for source with null bytes.
        return FileReport(path, (), _parse_error(str(error)))


def _parse_error(reason: str) -> str:
    return (f"cannot parse the file ({reason}). The report reads Python 3 source without "
            "running it; fix the syntax first (Python 2 code: run 2to3 on it)")


def _report_notebook(path: str, text: str, elsewhere: frozenset) -> FileReport:
    try:
        cells = _notebook_cells(text)
    except (json.JSONDecodeError, AttributeError) as error:
        return FileReport(path, (), f"cannot read the notebook's JSON ({error})")
    # Cells share imports, so they are reported as one program: the cells
    # joined, each finding mapped back to its cell and line.
    starts, lines, cell_errors = [], [], []
    for index, source in enumerate(cells):
        if source is None:
            continue
        try:
            ast.parse(source)
        except (SyntaxError, ValueError) as error:
            cell_errors.append(f"cell {index}: {error.msg if isinstance(error, SyntaxError) else error}")
            continue
        starts.append((len(lines) + 1, index))
        lines.extend(source.split("\n"))
    findings = []
    for finding in find_idioms("\n".join(lines), path, elsewhere=elsewhere):
        start, cell = max(entry for entry in starts if entry[0] <= finding.line)
        findings.append(dataclasses.replace(finding, line=finding.line - start + 1, cell=cell))
    error = ("cannot parse " + "; ".join(cell_errors)) if cell_errors else None
    return FileReport(path, tuple(findings), error)


def source_files(paths: Iterable[str]) -> list:
    """The .py and .ipynb files of `paths`, directories searched recursively, sorted."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for directory, subdirectories, names in os.walk(path):
                # Hidden directories (.git, .ipynb_checkpoints) hold no project code.
                subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
                found.extend(os.path.join(directory, name) for name in names
                             if name.endswith((".py", ".ipynb")))
            files.extend(sorted(found))
        else:
            files.append(path)
    return files


def report_tree(paths: Iterable[str]) -> list:
    """One FileReport per .py / .ipynb file of `paths`, unparseable ones included."""
    files = source_files(paths)
    facts = [_tree_facts(_read(path)[0] or "") for path in files]
    return [report_file(path, elsewhere=frozenset().union(*facts[:index], *facts[index + 1:]))
            for index, path in enumerate(files)]


def _tree_facts(text: str) -> frozenset:
    """The tree facts (RUNS_UPDATE_OPS, TURNS_TF32_OFF) that a file's text shows."""
    return frozenset(fact for fact, markers in _TREE_MARKERS.items()
                     if any(marker in text for marker in markers))


def counts(findings: Iterable[Finding]) -> dict:
    """{"silent": n, "breaks": n, "style": n, "total": n}."""
    tally = collections.Counter(finding.severity for finding in findings)
    result = {severity: tally.get(severity, 0) for severity in SEVERITIES}
    result["total"] = sum(tally.values())
    return result


def groups(findings: Sequence[Finding]) -> list:
    """Findings grouped by (severity, row or symbol), silent groups first.

    Returns:
      [(severity, group, [findings in line order])].
    """
    grouped = collections.defaultdict(list)
    for finding in findings:
        grouped[(finding.severity, finding.group)].append(finding)
    return sorted(((severity, group, sorted(members, key=lambda f: (f.cell or 0, f.line)))
                   for (severity, group), members in grouped.items()),
                  key=lambda item: (_SEVERITY_ORDER[item[0]], -len(item[2]), item[1]))


def exit_code(reports: Sequence[FileReport], fail_on: str) -> int:
    """EXIT_UNREADABLE if a file was not parsed, else EXIT_FOUND or 0 by --fail_on.

    An unparsed file fails even --fail_on=never: its findings are unknown.
    """
    if any(not report.parsed for report in reports):
        return EXIT_UNREADABLE
    if fail_on == "never":
        return 0
    threshold = _SEVERITY_ORDER[fail_on]
    worst = [_SEVERITY_ORDER[finding.severity] for report in reports for finding in report.findings]
    return EXIT_FOUND if worst and min(worst) <= threshold else 0


def main(argv: Sequence[str]) -> None:
    # Imported here, not at the top: migration_report_formats imports this
    # module, and `python -m` runs this file as __main__ first.
    from tf2_eager import migration_report_formats as formats

    if len(argv) < 2:
        raise app.UsageError(
            "Pass one or more Python files, notebooks or directories to report on.",
            exitcode=EXIT_UNREADABLE)
    try:
        reports = report_tree(argv[1:])
    except ValueError as error:
        # TensorFlow's tables are missing: nothing can be reported.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_UNREADABLE)
    rendered = formats.render(reports, report_flags.FORMAT.value)
    if report_flags.OUTPUT.value:
        try:
            with open(report_flags.OUTPUT.value, "w", encoding="utf-8") as file:
                file.write(rendered)
        except OSError as error:
            print(f"error: cannot write --output={report_flags.OUTPUT.value}: {error.strerror}.",
                  file=sys.stderr)
            sys.exit(EXIT_UNREADABLE)
    else:
        sys.stdout.write(rendered)
    for report in reports:
        if not report.parsed:
            print(f"error: {report.error_location()}: {report.error}.", file=sys.stderr)
    code = exit_code(reports, report_flags.FAIL_ON.value)
    if code:
        sys.exit(code)


def _parse_flags(argv: Sequence[str]) -> list:
    """absl's parse, with a bad flag value exiting 2 (absl's own exit is 1, a finding's)."""
    try:
        return absl_flags.FLAGS(argv)
    except absl_flags.Error as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_UNREADABLE)


if __name__ == "__main__":
    app.run(main, flags_parser=_parse_flags)
