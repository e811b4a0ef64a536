"""Points each TF1 idiom of a legacy Python file at its TF2-native form.

    python -m tf2_eager.migration_report path/to/legacy.py [more.py ...]

The file is parsed with `ast`, never imported or run. Each finding is one
line: file:line, the TF1 expression, its TF2 form, and the row of
MIGRATION.md (and the file of this project) that shows both and the test
that proves them equal. `tf_upgrade_v2` rewrites `tf.X` to `tf.compat.v1.X`;
this names what to write instead. A file that does not parse exits with
code 2. Importing this module never imports TensorFlow.
"""

import ast
import dataclasses
import sys
from typing import Optional, Sequence

from absl import app

# The exit code for a file that cannot be read or parsed.
EXIT_UNREADABLE = 2


@dataclasses.dataclass(frozen=True)
class Idiom:
    """The TF2 form of one TF1 idiom.

    Attributes:
      tf2_form: What to write in TF2, in a phrase.
      reference: The file of this project that shows the TF2 form.
    """

    tf2_form: str
    reference: str


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
}

_SESSIONS = ("tf.Session", "tf.InteractiveSession")
_INITIALIZERS = (
    "tf.global_variables_initializer", "tf.initialize_all_variables",
    "tf.local_variables_initializer", "tf.variables_initializer",
)
_RANDOM_OPS = ("tf.truncated_normal", "tf.random_normal", "tf.random_uniform")
_SUMMARY_WRITERS = ("FileWriter", "merge_all", "merge")
_SUMMARY_OPS = ("scalar", "histogram", "image", "audio", "text")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One TF1 idiom at one place of a file."""

    path: str
    line: int
    expression: str
    row: str

    def format(self) -> str:
        idiom = IDIOMS[self.row]
        return (
            f"{self.path}:{self.line}: {self.expression} -> {idiom.tf2_form}. "
            f"MIGRATION.md row `{self.row}`; TF2 code: {idiom.reference}"
        )


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


def _normalise(name: str) -> str:
    """Spells tf.compat.v1.X and tensorflow.X as tf.X, the TF1 spelling."""
    for prefix in ("tensorflow.compat.v1.", "tf.compat.v1.", "tensorflow."):
        if name.startswith(prefix):
            return "tf." + name[len(prefix):]
    return name


def _is_unflattened_shape(node: Optional[ast.AST]) -> bool:
    """Whether a placeholder's shape literal is [None, 28, 28, ...]."""
    if not isinstance(node, (ast.List, ast.Tuple)) or len(node.elts) < 3:
        return False
    sides = [element.value for element in node.elts[1:3] if isinstance(element, ast.Constant)]
    return sides == [28, 28]


class _IdiomFinder(ast.NodeVisitor):
    """Collects (line, expression, row) for every TF1 idiom of a module."""

    def __init__(self):
        self.found: list[tuple[int, str, str]] = []
        # Names bound to a Session, so that session.run(...) is recognised
        # even without a feed_dict.
        self._sessions: set[str] = set()

    def _add(self, node: ast.AST, expression: str, row: str) -> None:
        self.found.append((node.lineno, expression, row))

    def _remember_session(self, value: ast.AST, target: Optional[ast.AST]) -> None:
        called = isinstance(value, ast.Call) and _dotted_name(value.func)
        if called and _normalise(called) in _SESSIONS and isinstance(target, ast.Name):
            self._sessions.add(target.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._remember_session(node.value, target)
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self._remember_session(item.context_expr, item.optional_vars)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        dotted = _dotted_name(node.func)
        keywords = {keyword.arg for keyword in node.keywords}
        if dotted:
            self._check_call(node, dotted, _normalise(dotted), keywords)
        if "reduction_indices" in keywords:
            self._add(node, f"{dotted or 'a call'}(reduction_indices=...)", "reduction_indices")
        self.generic_visit(node)

    def _check_call(self, node: ast.Call, dotted: str, name: str, keywords: set) -> None:
        method = name.rsplit(".", 1)[-1]
        receiver = name.rsplit(".", 1)[0] if "." in name else ""
        if name == "tf.placeholder":
            self._add(node, dotted, "placeholder")
            shape = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "shape"), None)
            if _is_unflattened_shape(shape):
                self._add(node, f"{dotted}(..., {ast.unparse(shape)})", "unflattened_images")
        elif name in _SESSIONS:
            self._add(node, dotted, "session")
        elif method in ("run", "eval") and ("feed_dict" in keywords or receiver in self._sessions):
            self._add(node, f"{dotted}({'feed_dict=...' if 'feed_dict' in keywords else '...'})",
                      "session_run")
        elif name in _INITIALIZERS:
            self._add(node, dotted, "initializer")
        elif name.startswith("tf.train.") and name.endswith("Optimizer"):
            self._add(node, dotted, "optimizer")
        elif name == "tf.train.Saver":
            self._add(node, dotted, "saver")
        elif receiver == "tf.summary" and (
            method in _SUMMARY_WRITERS or (method in _SUMMARY_OPS and "step" not in keywords)
        ):
            self._add(node, dotted, "summary")
        elif name == "tf.set_random_seed":
            self._add(node, dotted, "seed")
        elif name == "tf.log":
            self._add(node, dotted, "log")
        elif name in ("tf.argmax", "tf.argmin") and "dimension" in keywords:
            self._add(node, f"{dotted}(..., dimension=...)", "argmax_dimension")
        elif method == "read_data_sets":
            self._add(node, dotted, "read_data_sets")
        elif name.startswith(("tf.layers.", "tf.contrib.layers.")):
            self._add(node, dotted, "layers")
        elif name in _RANDOM_OPS:
            self._add(node, dotted, "random_ops")
        elif name == "tf.nn.dropout" and "keep_prob" in keywords:
            self._add(node, f"{dotted}(..., keep_prob=...)", "dropout_keep_prob")
        elif name in ("tf.variable_scope", "tf.get_variable"):
            self._add(node, dotted, "variable_scope")
        elif name.startswith("tf.saved_model.") and (
            "builder" in name.lower() or name.endswith("simple_save")
        ):
            self._add(node, dotted, "saved_model")


def find_idioms(source: str, path: str) -> list[Finding]:
    """Lists the TF1 idioms of Python source, in the order of the file.

    Args:
      source: The file's text.
      path: Its path, for the findings.

    Raises:
      SyntaxError: If the source does not parse as Python 3.
    """
    finder = _IdiomFinder()
    finder.visit(ast.parse(source, filename=path))
    return [Finding(path, line, expression, row)
            for line, expression, row in sorted(finder.found, key=lambda found: found[0])]


def main(argv: Sequence[str]) -> None:
    if len(argv) < 2:
        raise app.UsageError("Pass one or more Python files to report on.")
    for path in argv[1:]:
        try:
            with open(path, encoding="utf-8") as file:
                source = file.read()
            findings = find_idioms(source, path)
        except OSError as error:
            print(f"error: cannot read {path}: {error.strerror}.", file=sys.stderr)
            sys.exit(EXIT_UNREADABLE)
        except (SyntaxError, ValueError) as error:
            # ast.parse raises ValueError for source with null bytes.
            where = f"{path}:{error.lineno}" if isinstance(error, SyntaxError) else path
            message = error.msg if isinstance(error, SyntaxError) else str(error)
            print(
                f"error: {where}: cannot parse the file ({message}). The report reads "
                "Python 3 source without running it; fix the syntax first (Python 2 "
                "code: run 2to3 on it).",
                file=sys.stderr,
            )
            sys.exit(EXIT_UNREADABLE)
        for finding in findings:
            print(finding.format())
        print(f"{path}: {len(findings)} TF1 idioms; see MIGRATION.md for each row.")


if __name__ == "__main__":
    app.run(main)
