"""Runs a function in a child process under TensorFlow's deterministic configuration.

    python -m compat_tests.deterministic MODULE:FUNCTION '{"keyword": value}' RESULT.json

calls MODULE.FUNCTION(**keywords) with oneDNN's custom operations off, op
determinism on and a global seed set, and writes what it returns to
RESULT.json. Graph mode fuses MatMul+BiasAdd under oneDNN while eager mode
does not, so the same mathematics can differ in its last bits between the
two sides. In this configuration graph and eager mode agree to the bit on
CPU (wrap_function_test checks it for every tiny model,
checkpoint_bridge_test for two), so a bit-for-bit comparison tests the code
rather than the kernel TensorFlow picked. `run` starts the child from a
test: the pytest process has long imported TensorFlow, and
TF_ENABLE_ONEDNN_OPTS only takes effect before that.
"""

import importlib
import json
import os
import subprocess
import sys
import tempfile
from typing import Any, Mapping, Sequence

from runtime import local_cluster
from runtime import reporting
from runtime import errors

# Set in the child's environment, so that TensorFlow reads it on import.
ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "0"}
# The global seed of the child's eager context and tf.function graphs.
GLOBAL_SEED = 0
DEFAULT_TIMEOUT_SECONDS = 300.0
# The last characters of a failed child's stderr that the error quotes.
_STDERR_TAIL_CHARS = 3000


def run(
    target: str,
    keyword_arguments: Mapping[str, Any],
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Any:
    """Calls `target` with `keyword_arguments` in a deterministic child process.

    The child imports the project from this checkout (local_cluster's
    environment puts the repository first on PYTHONPATH). subprocess.run
    kills it when the time runs out or the caller is interrupted, and reaps
    it in every case.

    Args:
      target: "package.module:function"; the function takes JSON-serialisable
        keyword arguments and returns a JSON-serialisable value.
      keyword_arguments: The function's arguments.
      timeout_seconds: How long the child may take, TensorFlow's import
        included.

    Returns:
      What the function returned, read back from JSON.

    Raises:
      local_cluster.WorkerFailedError: If the child exits non-zero or runs
        out of time; the message ends with its stderr.
    """
    with tempfile.TemporaryDirectory(prefix="deterministic-") as directory:
        result_path = os.path.join(directory, "result.json")
        argv = local_cluster.python_module_argv(
            "compat_tests.deterministic", target, json.dumps(dict(keyword_arguments)), result_path
        )
        try:
            completed = subprocess.run(
                argv, env=local_cluster.child_environment(**ENVIRONMENT),
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_seconds,
            )
        except subprocess.TimeoutExpired as expired:
            raise local_cluster.WorkerFailedError(
                f"{target} did not finish within {timeout_seconds} s in the deterministic "
                f"child:\n{_tail(expired.stderr)}"
            ) from expired
        if completed.returncode != 0:
            raise local_cluster.WorkerFailedError(
                f"{target} failed in the deterministic child (exit code "
                f"{completed.returncode}):\n{_tail(completed.stderr)}"
            )
        with open(result_path) as result_file:
            return json.load(result_file)


def _tail(stderr: Any) -> str:
    # TimeoutExpired carries bytes even when the run asked for text.
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", errors="replace")
    return (stderr or "")[-_STDERR_TAIL_CHARS:]


def main(argv: Sequence[str]) -> None:
    """The child: checks the environment, enables op determinism, runs the target."""
    if len(argv) != 4:
        raise errors.FixableError(
            "Usage: python -m compat_tests.deterministic MODULE:FUNCTION JSON_KEYWORDS "
            f"RESULT.json; got {list(argv[1:])}."
        )
    target, keywords, result_path = argv[1:]
    wrong = {name: os.environ.get(name) for name, value in ENVIRONMENT.items()
             if os.environ.get(name) != value}
    if wrong:
        raise errors.FixableError(
            f"The deterministic configuration needs {ENVIRONMENT} in the environment before "
            f"TensorFlow is imported, got {wrong}; start it with compat_tests.deterministic.run."
        )
    module_name, separator, function_name = target.partition(":")
    if not separator:
        raise errors.FixableError(f"Expected MODULE:FUNCTION, got {target!r}.")
    # Imported after the checks, so that a child started wrongly stops
    # before TensorFlow has read its environment.
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    # Op determinism refuses to build a random op without a seed, even an
    # initializer whose value is overwritten; TensorFlow's guide pairs it
    # with a global seed. Graphs made with tf.Graph() need their own.
    tf.random.set_seed(GLOBAL_SEED)
    function = getattr(importlib.import_module(module_name), function_name)
    reporting.write_json(result_path, function(**json.loads(keywords)))


if __name__ == "__main__":
    main(sys.argv)
