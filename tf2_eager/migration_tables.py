"""TensorFlow's own TF1 -> TF2 tables, read without importing TensorFlow.

`tf_upgrade_v2` works from tables shipped in the tensorflow package
(`tensorflow/tools/compatibility`): symbol renames, argument reorders, keyword
renames, call transformers and deprecated modules. The TF2 API itself is
listed by the generated `__init__.py` files of `tensorflow/_api/v2`. This
module reads both with `ast`: importing TensorFlow costs seconds and a
report over a source tree should not need it. The tables are found through
`importlib.util.find_spec("tensorflow")`, which locates the package without
running it.
"""

import ast
import dataclasses
import functools
import importlib.util
import os
from typing import Optional
from runtime import errors

# The table files of tensorflow/tools/compatibility that are read, by role.
_RENAMES_FILE = "renames_v2.py"
_MANUAL_RENAMES_FILE = "all_renames_v2.py"
_REORDERS_FILE = "reorders_v2.py"
_DEPRECATIONS_FILE = "module_deprecations_v2.py"
_UPGRADE_FILE = "tf_upgrade_v2.py"


@dataclasses.dataclass(frozen=True)
class UpgradeTables:
    """What `tf_upgrade_v2` knows about each TF1 symbol.

    Attributes:
      renames: {"tf.log": "tf.math.log", "tf.Session":
        "tf.compat.v1.Session", ...}: every rename tf_upgrade_v2 applies.
      reorders: {"tf.nn.softmax_cross_entropy_with_logits": ["labels",
        "logits", ...]}: the TF1 argument order tf_upgrade_v2 assumes when it
        turns positional arguments into keywords.
      keyword_renames: {"tf.argmax": {"dimension": "axis"}, ...}; a None
        value means the keyword is dropped.
      transformed: Functions whose calls tf_upgrade_v2 rewrites with code of
        its own (e.g. tf.nn.dropout's keep_prob -> rate = 1 - keep_prob).
      deprecated_modules: {"tf.contrib": message, "tf.flags": message}:
        modules tf_upgrade_v2 cannot convert and reports as errors.
      directory: The tensorflow/tools/compatibility directory read.
    """

    renames: dict
    reorders: dict
    keyword_renames: dict
    transformed: frozenset
    deprecated_modules: dict
    directory: str


def tensorflow_directory() -> str:
    """The installed tensorflow package's directory, found without importing it.

    Raises:
      ValueError: If TensorFlow is not installed.
    """
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.origin:
        raise errors.FixableError(
            "The migration report reads TensorFlow's own upgrade tables "
            "(tensorflow/tools/compatibility) and its TF2 API listing; install "
            "tensorflow (pip install tensorflow) in this environment.")
    return os.path.dirname(spec.origin)


def _parse(path: str) -> ast.Module:
    with open(path, encoding="utf-8") as file:
        return ast.parse(file.read(), filename=path)


def _module_constants(tree: ast.Module) -> dict:
    """{name: value} of a module's top-level assignments of literals."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                # A value built from other names (a tuple of a constant and
                # a message, a call): only literals are tables.
                continue
    return constants


def _attribute_dicts(tree: ast.Module) -> dict:
    """{attribute: ast.Dict} of every `self.attribute = {...}` in the file."""
    found = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Attribute)
                and isinstance(node.targets[0].value, ast.Name)
                and node.targets[0].value.id == "self"
                and isinstance(node.value, ast.Dict)):
            found.setdefault(node.targets[0].attr, node.value)
    return found


def _string_keys(dictionary: ast.Dict) -> frozenset:
    return frozenset(key.value for key in dictionary.keys
                     if isinstance(key, ast.Constant) and isinstance(key.value, str))


def _deprecation_messages(tree: ast.Module) -> dict:
    """{module: message} of MODULE_DEPRECATIONS, whose values name tuples."""
    messages = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
            # (ast_edits.ERROR, "message"): the message is the last literal.
            text = node.value.elts[-1]
            try:
                messages[node.targets[0].id] = ast.literal_eval(text)
            except ValueError:
                continue
    deprecations = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                and node.targets[0].id == "MODULE_DEPRECATIONS"):
            for key, value in zip(node.value.keys, node.value.values):
                deprecations[key.value] = messages.get(getattr(value, "id", ""), "")
    return deprecations


@functools.lru_cache(maxsize=None)
def load(directory: Optional[str] = None) -> UpgradeTables:
    """Reads tf_upgrade_v2's tables from `directory` (default: the installed TF's).

    Raises:
      ValueError: If TensorFlow or its compatibility tables are missing.
    """
    directory = directory or os.path.join(tensorflow_directory(), "tools", "compatibility")
    if not os.path.isfile(os.path.join(directory, _RENAMES_FILE)):
        raise errors.FixableError(
            f"{directory} holds no {_RENAMES_FILE}: this TensorFlow build ships "
            "without tf_upgrade_v2's tables, which the migration report reads.")
    renames = dict(_module_constants(_parse(os.path.join(directory, _RENAMES_FILE)))["renames"])
    manual = _module_constants(_parse(os.path.join(directory, _MANUAL_RENAMES_FILE)))
    renames.update(manual["manual_symbol_renames"])
    reorders = _module_constants(_parse(os.path.join(directory, _REORDERS_FILE)))["reorders"]
    upgrade = _attribute_dicts(_parse(os.path.join(directory, _UPGRADE_FILE)))
    keyword_renames = ast.literal_eval(upgrade["function_keyword_renames"])
    return UpgradeTables(
        renames=renames,
        reorders=reorders,
        keyword_renames=keyword_renames,
        transformed=_string_keys(upgrade["function_transformers"]),
        deprecated_modules=_deprecation_messages(
            _parse(os.path.join(directory, _DEPRECATIONS_FILE))),
        directory=directory,
    )


class Tf2Api:
    """Which `tf.a.b` names TF2 has, from the package's generated API files.

    TF2's top level is tensorflow/__init__.py; each submodule tf.a.b is
    tensorflow/_api/v2/a/b/__init__.py. Both list their names as
    `from ... import name` lines, read here without running them.
    """

    def __init__(self, root: Optional[str] = None):
        self._root = root or tensorflow_directory()

    def _module_file(self, parts: tuple) -> str:
        if not parts:
            return os.path.join(self._root, "__init__.py")
        return os.path.join(self._root, "_api", "v2", *parts, "__init__.py")

    def is_module(self, parts: tuple) -> bool:
        return os.path.isfile(self._module_file(parts))

    @functools.lru_cache(maxsize=None)
    def names(self, parts: tuple) -> frozenset:
        """The public names of TF2 module tf.<parts> (parts=() for tf)."""
        names = set()
        for node in _parse(self._module_file(parts)).body:
            if isinstance(node, ast.ImportFrom):
                names.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, ast.Assign):
                names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        return frozenset(names)

    def missing_prefix(self, name: str, base: tuple = ()) -> Optional[str]:
        """The first prefix of "tf.a.b.c" that TF2 lacks, or None if TF2 has it.

        Args:
          name: A canonical TF1 name, "tf.a.b.c".
          base: The API to look in: () for tf, ("compat", "v1") for
            tf.compat.v1 (the name is then looked up as tf.compat.v1.a.b.c
            and the prefix returned still reads "tf.a...").

        Names under a class (tf.estimator.ModeKeys.TRAIN) are checked up to
        the class: the API files list classes, not their attributes.
        """
        parts = name.split(".")[1:]
        module: tuple = base
        for index, part in enumerate(parts):
            if self.is_module(module + (part,)):
                module += (part,)
                continue
            if part not in self.names(module):
                return ".".join(["tf", *parts[:index + 1]])
            return None
        return None

    @functools.lru_cache(maxsize=None)
    def parameters(self, name: str) -> Optional[tuple]:
        """The parameter names of TF2's function or class `name` ("tf.a.b"), in order.

        Read from the Python source the API file imports it from (e.g.
        tf.nn.moments is tensorflow.python.ops.nn_impl.moments_v2); a class
        gives its __init__'s parameters without self. None when TF2 lacks
        the name or its definition is not a plain def or class there.
        """
        parts = name.split(".")[1:]
        if not parts:
            return None
        module, attribute = tuple(parts[:-1]), parts[-1]
        if not self.is_module(module):
            return None
        source = None
        for node in _parse(self._module_file(module)).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if (alias.asname or alias.name) == attribute:
                        source = (node.module, alias.name)
        if source is None or not source[0].startswith("tensorflow."):
            return None
        path = os.path.join(os.path.dirname(self._root), *source[0].split(".")) + ".py"
        if not os.path.isfile(path):
            return None
        return _definition_parameters(_parse(path), source[1])


def _definition_parameters(tree: ast.Module, name: str) -> Optional[tuple]:
    """The positional parameter names of top-level def or class `name` of `tree`."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            arguments = node.args
            return tuple(argument.arg for argument in arguments.posonlyargs + arguments.args)
        if isinstance(node, ast.ClassDef) and node.name == name:
            for member in node.body:
                if isinstance(member, ast.FunctionDef) and member.name == "__init__":
                    arguments = member.args
                    return tuple(argument.arg for argument in (
                        arguments.posonlyargs + arguments.args)[1:])
            return None
    return None
