"""Legacy TF1 models, written as the public tutorials wrote them: tf.layers and tf-slim.

These need legacy Keras: `tf.compat.v1.layers` and tf-slim raise under
TensorFlow 2.16+ with Keras 3 (``AttributeError: `dense` is not available with
Keras 3``). They build again in a tf.compat.v1 graph with tf-keras and tf-slim
installed (`pip install '.[legacy]'`) and TF_USE_LEGACY_KERAS=1 set in the
environment before TensorFlow is imported. That switches tf.keras for the
whole process, the TF2 side included, so they run in a child process
(tf1_graph/legacy/train_and_save.py), never in the test process.

Each model module (mnist_deep, fully_connected_feed, slim_lenet,
batch_norm_mlp) has `build(images, labels)` with compat_tests.ladder's TF1
contract and `LABELS`, the labels its loss takes ("one_hot" or "integer", as
compat_tests.check's --labels). Importing a module never touches legacy
Keras, so the modules import under Keras 3 too; calling `build` there raises
LegacyKerasError with the fix. tf2_eager/legacy holds their TF2 ports under
the same module names.
"""

import importlib
import importlib.util
import os
from types import ModuleType
from runtime import errors

# The legacy models by name, as train_and_save's --model takes them.
MODEL_NAMES = ("mnist_deep", "fully_connected_feed", "slim_lenet", "batch_norm_mlp")
INSTALL_COMMAND = "pip install '.[legacy]'"
ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1"}


class LegacyKerasError(RuntimeError):
    """TensorFlow runs with Keras 3, or tf-keras or tf-slim is missing."""


def legacy_keras_problems() -> list[str]:
    """What stops tf.compat.v1.layers and tf-slim from building, or []."""
    problems = [
        f"{package} is not installed" for package, module in
        (("tf-keras", "tf_keras"), ("tf-slim", "tf_slim"))
        if importlib.util.find_spec(module) is None
    ]
    import tensorflow as tf

    # Under TF_USE_LEGACY_KERAS=1, tf.keras is tf_keras' API; under Keras 3
    # it is keras._tf_keras.keras, whose tf.compat.v1.layers raise.
    if not tf.keras.__name__.startswith("tf_keras"):
        problems.append(
            "TensorFlow was imported with Keras 3 (TF_USE_LEGACY_KERAS="
            f"{os.environ.get('TF_USE_LEGACY_KERAS')!r} at import time)"
        )
    return problems


def require_legacy_keras() -> None:
    """Raises LegacyKerasError, with the fix, unless legacy Keras is active."""
    problems = legacy_keras_problems()
    if problems:
        raise LegacyKerasError(
            "The legacy TF1 models need tf.compat.v1.layers and tf-slim, which do not "
            f"build here: {'; '.join(problems)}. Install them with {INSTALL_COMMAND} and "
            "set TF_USE_LEGACY_KERAS=1 before importing TensorFlow (in a child process: "
            "it switches tf.keras for the TF2 side too), e.g. `TF_USE_LEGACY_KERAS=1 "
            "python -m tf1_graph.legacy.train_and_save --model=mnist_deep ...`."
        )


def layers() -> ModuleType:
    """tf.compat.v1.layers, once require_legacy_keras() has passed."""
    require_legacy_keras()
    import tensorflow as tf

    return tf.compat.v1.layers


def slim() -> ModuleType:
    """The tf_slim package, once require_legacy_keras() has passed."""
    require_legacy_keras()
    return importlib.import_module("tf_slim")


def model_module(name: str) -> ModuleType:
    """tf1_graph.legacy.NAME for one of MODEL_NAMES."""
    if name not in MODEL_NAMES:
        raise errors.FixableError(
            f"Unknown legacy model {name!r}; expected one of {', '.join(MODEL_NAMES)}.")
    return importlib.import_module(f"tf1_graph.legacy.{name}")
