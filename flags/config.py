"""The training configuration both sides take: a frozen dataclass, no absl.

`flags.definitions` turns parsed absl flags into a `TrainConfig`; tests and
notebooks build one directly. The library functions (`tf1_graph.train.train`,
`tf2_eager.train.train`) never read FLAGS, only this object. Its fields are
flat, one per flag; from them it builds the model's own config
(`model_config`, flags/model_configs.py) and the optimizer's
(`optimizer_config`, flags/optimizer_config.py), which are all the model
builders and optimizers take.
"""

import dataclasses
import functools
import typing
from typing import Any, Optional

import numpy as np

from flags import model_configs
from flags import optimizer_config
from flags import presets
from mnist_data import initial_values
from runtime import errors

# The MNIST classifiers: tf1_graph.train and tf2_eager.train train them on a
# --dataset and report test accuracy.
CLASSIFIER_MODELS = ("softmax_regression", "mlp", "deep_mlp", "convnet")
# The gradient-learning notebook's and the report's small programs: each
# brings its own data (two fed vectors, a noisy line, scikit-learn's breast
# cancer rows) and runs through its module's experiment(config).
STANDALONE_MODELS = ("multiply", "linear_regression", "logistic_regression")
MODEL_NAMES = CLASSIFIER_MODELS + STANDALONE_MODELS

# How the cross-entropy is written. The documents use three forms:
# - "softmax_cross_entropy": mean of tf.nn.softmax_cross_entropy_with_logits,
#   the numerically stable form (Hvass-Labs tutorial 01).
# - "naive_sum": -reduce_sum(labels * log(softmax(logits))) over the whole
#   batch, as the Spanish notebook (and TF's 2015 "MNIST for ML beginners")
#   wrote it. log(0) makes it -inf once a probability underflows.
# - "naive_mean_x1000": -reduce_mean(labels * log(softmax(logits))) * 1000,
#   tensorflow-without-a-phd mnist_1.0 ("normalised for batches of 100
#   images, *10 because the mean included the 10 classes").
# - "naive_batch_mean": -reduce_mean(reduce_sum(labels * log(softmax), 1)),
#   the per-example sum averaged over the batch, as TF's "MNIST for ML
#   beginners" wrote it from release 0.8 on (with lr 0.5).
# - "softmax_cross_entropy_x100": the codelab's convnets,
#   reduce_mean(softmax_cross_entropy_with_logits) * 100.
# - "sparse_softmax_cross_entropy": integer labels, Keras'
#   sparse_categorical_crossentropy (the Keras notebook's MLP).
# - "clipped_cross_entropy": -reduce_mean(reduce_sum(labels *
#   log(clip(softmax, ε, 1 - ε)), 1)) with ε = CLIP_EPSILON, the
#   gradient-learning notebook's softmax with momentum; Keras'
#   categorical_crossentropy on probabilities clips the same way.
LOSS_FORMS = (
    "softmax_cross_entropy",
    "naive_sum",
    "naive_mean_x1000",
    "naive_batch_mean",
    "softmax_cross_entropy_x100",
    "sparse_softmax_cross_entropy",
    "clipped_cross_entropy",
)

# Probabilities are clipped to [CLIP_EPSILON, 1 - CLIP_EPSILON] before the log
# of "clipped_cross_entropy": Keras' backend epsilon, the same bound as
# mnist_data.breast_cancer.CLIP_EPSILON for the logistic regression.
CLIP_EPSILON = 1e-7

OPTIMIZERS = optimizer_config.OPTIMIZERS

# The optimizers each standalone model's document trains it with.
STANDALONE_OPTIMIZERS = {
    "multiply": ("gradient_descent",),
    "linear_regression": ("gradient_descent",),
    "logistic_regression": ("gradient_descent", "momentum"),
}

OPTIMIZER_SEMANTICS = optimizer_config.OPTIMIZER_SEMANTICS
ACTIVATIONS = model_configs.ACTIVATIONS
LEARNING_RATE_DECAYS = optimizer_config.LEARNING_RATE_DECAYS

WEIGHT_INITIALIZERS = model_configs.WEIGHT_INITIALIZERS

# The TF2 side's training steps per tf.function call when --steps_per_call
# is unset: at 10 the TF2 loop runs at or below TF1's feed_dict loop on every
# model (compat_tests/bench.py), where one call per step is 1.3-2.2x slower.
DEFAULT_STEPS_PER_CALL = 10

# "numpy": initial values and the batch order are drawn with numpy from
# --seed, so the TF1 and TF2 sides see exactly the same numbers (matched
# mode). "tensorflow": each side seeds and shuffles with TensorFlow's own
# random ops, as a program written for that side alone would.
RNG_SOURCES = ("numpy", "tensorflow")

# How the TF1 side gets its batches: "feed_dict" as the documents do, or
# "in_graph", the training set and batch order preloaded into the graph
# (tf1_graph/in_graph_input.py), which saves the per-step copy.
INPUT_PIPELINES = ("feed_dict", "in_graph")


# The settings that describe a model, by model: the fields of its config
# class (flags/model_configs.py), none for the standalone models. The
# training settings (_TRAINING_DEFAULTS) apply to every model.
MODEL_SETTINGS = {
    **{
        model: model_configs.setting_names(model_class)
        for model, model_class in model_configs.MODEL_CONFIGS.items()
    },
    **{model: () for model in STANDALONE_MODELS},
}
# Every model setting once, in the order the models first name them.
_MODEL_SETTING_NAMES = tuple(dict.fromkeys(
    name for settings in MODEL_SETTINGS.values() for name in settings
))
# What a setting reads as on a model that does not have it: no dropout and
# no uniform biases; the others stay None.
_ABSENT = {"dropout_keep": 1.0, "uniform_biases": False}
# The value of a training setting that the model's document does not set;
# the optimizer's are OptimizerConfig's defaults.
_TRAINING_DEFAULTS = {
    "steps": 1000,
    "batch_size": 100,
    "loss": "softmax_cross_entropy",
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run, shared by both sides.

    The fields are flat, one per flag. A model's own settings
    (MODEL_SETTINGS) left None take the defaults of its config class in
    flags/model_configs.py, which are its document's values; the training
    settings left None take the values of the preset DOCUMENT_PRESETS names
    (then _TRAINING_DEFAULTS, or OptimizerConfig's defaults, for what the
    document does not set). So `TrainConfig(model="convnet")` is the
    codelab's convnet. The model's settings are built once into
    `model_config` and the optimizer's into `optimizer_config`, each class
    checking its own values; the builders take those. A model's own settings
    stay None (or _ABSENT) for the other models, and giving one to a model
    that does not have it is refused.

    Attributes:
      model: One of MODEL_NAMES.
      dataset: A name from mnist_data.DATASET_NAMES.
      data_dir: Directory with the four IDX files, or None.
      steps: Number of training steps (batches), >= 1.
      batch_size: Examples per step, >= 1.
      learning_rate: Optimizer step size, > 0; with exponential decay, the
        rate at step 0.
      optimizer: One of OPTIMIZERS.
      momentum: Momentum of the "momentum" optimizer (and of "rmsprop").
      optimizer_semantics: One of OPTIMIZER_SEMANTICS (the TF2 side only).
      learning_rate_decay: "none", or "exponential": the codelab's
        min + (learning_rate - min) * exp(-step / decay_steps).
      min_learning_rate: The floor of the exponential decay.
      decay_steps: The exponential decay's time constant, in steps.
      hidden_sizes: Widths of the hidden layers (mlp, deep_mlp).
      activation: One of ACTIVATIONS, for hidden layers.
      dropout_keep: Probability of keeping a unit in training, in (0, 1];
        1 turns dropout off.
      bias_init: Initial value of every bias.
      uniform_biases: Draw the biases like "uniform" weights, in
        [-init_limit, init_limit], instead of bias_init (the
        gradient-learning notebook's softmax; softmax_regression only).
      conv_channels: Output channels of the convnet's three conv layers.
      conv_kernels: Their square kernel sizes.
      conv_strides: Their strides.
      dense_units: Width of the convnet's fully connected layer.
      loss: One of LOSS_FORMS.
      weight_init: One of WEIGHT_INITIALIZERS.
      init_stddev: Standard deviation of "truncated_normal" weights.
      init_limit: Half-width of "uniform" weights, drawn in [-limit, limit].
      seed: Seed for initial values and batch order, >= 0.
      rng: One of RNG_SOURCES.
      eval_at: Steps (0 = before training) after which test accuracy is
        recorded; the final step is always recorded.
      output_dir: Where a checkpoint and TensorBoard summaries are
        written, or None.
      checkpoint_every: With output_dir, also checkpoint every this many
        steps (0: only at the end).
      resume: Continue the run in output_dir from its last checkpoint.
      overwrite: Replace the run in output_dir instead of refusing it.
      export_dir: Where a SavedModel is exported at the end (a directory
        that must not exist yet), or None.
      quiet: Log no progress lines.
      input_pipeline: One of INPUT_PIPELINES (the TF1 side only).
      steps_per_call: Training steps per tf.function call on the TF2 side:
        1 calls the step from Python each time; more runs the loop inside
        the graph (tf2_eager/multi_step.py); None: steps_per_function_call's
        default.
      allow_nonfinite: Train on after a NaN or infinite loss instead of
        stopping with NonFiniteLossError.
      device: Where to run ("/CPU:0", "/GPU:0"), or None to let TensorFlow
        place ops (a GPU when there is one).
      allow_changed_settings: With resume, train on with settings (learning
        rate, seed, batch size, model, ...) that differ from those the run
        was started with, instead of refusing; both sides apply the new
        values.
    """

    model: str = "softmax_regression"
    dataset: str = "mnist_embedded"
    data_dir: Optional[str] = None
    steps: Optional[int] = None
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    optimizer: Optional[str] = None
    momentum: Optional[float] = None
    optimizer_semantics: str = "tf1"
    learning_rate_decay: Optional[str] = None
    min_learning_rate: Optional[float] = None
    decay_steps: Optional[float] = None
    loss: Optional[str] = None
    hidden_sizes: Optional[tuple[int, ...]] = None
    activation: Optional[str] = None
    dropout_keep: Optional[float] = None
    bias_init: Optional[float] = None
    uniform_biases: Optional[bool] = None
    conv_channels: Optional[tuple[int, ...]] = None
    conv_kernels: Optional[tuple[int, ...]] = None
    conv_strides: Optional[tuple[int, ...]] = None
    dense_units: Optional[int] = None
    weight_init: Optional[str] = None
    init_stddev: Optional[float] = None
    init_limit: Optional[float] = None
    seed: int = 0
    rng: str = "numpy"
    eval_at: Optional[tuple[int, ...]] = None
    output_dir: Optional[str] = None
    checkpoint_every: int = 0
    resume: bool = False
    overwrite: bool = False
    export_dir: Optional[str] = None
    quiet: bool = False
    input_pipeline: str = "feed_dict"
    steps_per_call: Optional[int] = None
    allow_nonfinite: bool = False
    device: Optional[str] = None
    allow_changed_settings: bool = False

    def __post_init__(self):
        errors.check_choice("model", self.model, MODEL_NAMES)
        self._refuse_foreign_settings()
        self._build_model_config()
        document = document_values(self.model)
        # eval_at stays None when left None: eval_steps takes the document's
        # points up to steps, so that dataclasses.replace(config, steps=N)
        # keeps working.
        for name, default in _TRAINING_DEFAULTS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, document.get(name, default))
        self._build_optimizer_config(document)
        self._check()

    def _build_model_config(self) -> None:
        """Makes model_config from the given model settings (its class checks
        them and fills in the rest), then copies its values back into the
        flat fields, and _ABSENT into the settings the model does not have."""
        own = MODEL_SETTINGS[self.model]
        model_class = model_configs.MODEL_CONFIGS.get(self.model)
        model_config = None if model_class is None else model_class(**{
            name: getattr(self, name) for name in own if getattr(self, name) is not None
        })
        # Not a dataclass field: it is derived from the flat fields, so
        # equality, asdict and replace() see only those.
        object.__setattr__(self, "_model_config", model_config)
        for name in _MODEL_SETTING_NAMES:
            value = getattr(model_config, name) if name in own else _ABSENT.get(name)
            object.__setattr__(self, name, value)

    def _build_optimizer_config(self, document: dict[str, Any]) -> None:
        """Makes optimizer_config from the given optimizer settings, then the
        document's, then its class's defaults, and copies its values back into
        the flat fields."""
        names = optimizer_config.SETTING_NAMES
        given = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        from_document = {name: document[name] for name in names if name in document}
        built = optimizer_config.OptimizerConfig(**(from_document | given))
        object.__setattr__(self, "_optimizer_config", built)
        for name in optimizer_config.SETTING_NAMES:
            object.__setattr__(self, name, getattr(built, name))

    @property
    def optimizer_config(self) -> optimizer_config.OptimizerConfig:
        """The optimizer and its learning-rate schedule, what the training op
        and the TF2 optimizer take (flags/optimizer_config.py)."""
        return self._optimizer_config

    @property
    def model_config(self) -> Optional[model_configs.ModelConfig]:
        """The model's own settings, what its builders take
        (flags/model_configs.py); None for the standalone models."""
        return self._model_config

    def _refuse_foreign_settings(self) -> None:
        """Raises ValueError for a setting given to a model that lacks it."""
        own = MODEL_SETTINGS[self.model]
        foreign = [
            name for name in _MODEL_SETTING_NAMES
            if name not in own and getattr(self, name) not in (None, _ABSENT.get(name))
        ]
        if foreign:
            raise errors.FixableError(
                f"--model={self.model} has no {', '.join('--' + name for name in foreign)}"
                f" (its own settings: {', '.join(own) or 'none'}); drop the flag or pick "
                "the model that has it."
            )

    def _check(self) -> None:
        """Raises FixableError for a value or a combination that cannot run."""
        self._check_values()
        self._check_combinations()
        self._check_run_settings()

    def _check_values(self) -> None:
        errors.check_choice("loss", self.loss, LOSS_FORMS)
        errors.check_choice("rng", self.rng, RNG_SOURCES)
        errors.check_choice("input_pipeline", self.input_pipeline, INPUT_PIPELINES)
        for field_name in ("steps", "batch_size", "steps_per_call"):
            value = getattr(self, field_name)
            if field_name == "steps_per_call" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise errors.FixableError(
                    f"{field_name} must be a positive integer, got {value!r}."
                )
        if self.seed < 0:
            raise errors.FixableError(f"seed must be >= 0, got {self.seed!r}.")
        if self.checkpoint_every < 0:
            raise errors.FixableError(
                f"checkpoint_every must be >= 0 (0: only at the end), got {self.checkpoint_every}."
            )

    def _check_combinations(self) -> None:
        if self.model in STANDALONE_OPTIMIZERS and (
            self.optimizer not in STANDALONE_OPTIMIZERS[self.model]
        ):
            raise errors.FixableError(
                f"--model={self.model} trains with "
                f"{' or '.join(STANDALONE_OPTIMIZERS[self.model])}, as its document "
                f"did; got --optimizer={self.optimizer}."
            )
        if self.eval_at is not None:
            check_eval_at(self.eval_at, self.steps)

    def _check_run_settings(self) -> None:
        if (self.resume or self.overwrite or self.checkpoint_every) and not self.output_dir:
            raise errors.FixableError(
                "--resume, --overwrite and --checkpoint_every act on the checkpoints in "
                "--output_dir; pass --output_dir=DIR."
            )
        if self.allow_changed_settings and not self.resume:
            raise errors.FixableError(
                "--allow_changed_settings applies to --resume; pass --resume or drop it."
            )
        if self.resume and self.overwrite:
            raise errors.FixableError(
                "--resume continues the run in --output_dir and --overwrite replaces it; "
                "pass one of the two."
            )
        if (self.input_pipeline == "in_graph" or (self.steps_per_call or 1) > 1) and self.rng != "numpy":
            raise errors.FixableError(
                "--input_pipeline=in_graph and --steps_per_call > 1 take their batches "
                "from the schedule of --rng=numpy; with --rng=tensorflow use the "
                "defaults (feed_dict, 1)."
            )
        if self.resume and self.rng != "numpy":
            raise errors.FixableError(
                "--resume continues the batch order only with --rng=numpy, where batches "
                "are a function of (seed, step); --rng=tensorflow shuffles with stateful "
                "random ops that a checkpoint does not capture."
            )

    @property
    def steps_per_function_call(self) -> int:
        """Training steps per tf.function call on the TF2 side: steps_per_call,
        or when it is unset DEFAULT_STEPS_PER_CALL with rng "numpy" (the
        in-graph loop takes its batches from the numpy schedule) and 1 with
        "tensorflow" (whose shuffle feeds one step per call)."""
        if self.steps_per_call is not None:
            return self.steps_per_call
        return DEFAULT_STEPS_PER_CALL if self.rng == "numpy" else 1

    @property
    def eval_steps(self) -> tuple[int, ...]:
        """The sorted steps at which test accuracy is recorded, final included."""
        if self.eval_at is None:
            points = trim_eval_at(document_values(self.model).get("eval_at", ()), self.steps)
        else:
            points = self.eval_at
        return tuple(sorted(set(points) | {self.steps}))

    @property
    def integer_labels(self) -> bool:
        """Whether the loss takes class ids rather than one-hot rows."""
        return self.loss.startswith("sparse")

    def draw_initial_values(self, shapes: dict[str, list[int]]) -> dict[str, np.ndarray]:
        """The numpy initial values of `--rng=numpy`, the same on both sides.

        Args:
          shapes: {variable name: shape} of the model's variables.
        """
        return initial_values.draw_parameters(
            shapes,
            self.weight_init,
            seed=self.seed,
            stddev=self.init_stddev,
            limit=self.init_limit,
            bias_constant=self.bias_init,
            bias_initializer="uniform" if self.uniform_biases else "constant",
        )

    def check_fits(self, train_size: int) -> None:
        """Raises ValueError if a batch cannot be drawn from `train_size` examples."""
        if self.batch_size > train_size:
            raise errors.FixableError(
                f"batch_size {self.batch_size} is larger than the training set "
                f"({train_size} examples); lower --batch_size or use a larger "
                "--dataset."
            )


def check_eval_at(eval_at: tuple[int, ...], steps: int) -> None:
    """Raises ValueError unless every eval step is within [0, steps]."""
    outside = [step for step in eval_at if not 0 <= step <= steps]
    if outside:
        raise errors.FixableError(
            f"eval_at steps {outside} are outside [0, steps={steps}]; "
            "raise --steps or drop those --eval_at values (name a document's "
            "experiment with --preset=NAME and a lower --steps keeps its points up to it)."
        )


def trim_eval_at(eval_at: tuple[int, ...], steps: int) -> tuple[int, ...]:
    """The evaluation points of a preset or document that a run of `steps`
    reaches; the last step is recorded anyway (TrainConfig.eval_steps)."""
    return tuple(step for step in eval_at if step <= steps)


_FIELD_NAMES = frozenset(field.name for field in dataclasses.fields(TrainConfig))


def _field_type(name: str) -> Any:
    """The type of TrainConfig field `name`, without its Optional."""
    hint = typing.get_type_hints(TrainConfig)[name]
    arguments = [argument for argument in typing.get_args(hint) if argument is not type(None)]
    return arguments[0] if typing.get_origin(hint) is typing.Union else hint


def typed_value(name: str, raw: presets.RawValue) -> Any:
    """Converts a flagfile's value of --NAME to the TrainConfig field's type.

    Raises:
      ValueError: If NAME is no TrainConfig field or the value does not parse.
    """
    if name not in _FIELD_NAMES:
        raise errors.FixableError(f"--{name} is not a training setting; a preset holds only those.")
    field_type = _field_type(name)
    try:
        if field_type is bool:
            if not isinstance(raw, bool):
                raise errors.FixableError(f"write --{name} or --no{name}")
            return raw
        if raw is True:
            raise errors.FixableError("it needs a value, --NAME=VALUE")
        if typing.get_origin(field_type) is tuple:
            return tuple(int(item) for item in raw.split(",") if item.strip())
        return field_type(raw)
    except ValueError as error:
        raise errors.FixableError(f"Cannot read --{name}={raw}: {error}.") from error


def _is_boolean_field(name: str) -> bool:
    return name in _FIELD_NAMES and _field_type(name) is bool


def preset_values(name_or_path: str) -> dict[str, Any]:
    """The typed TrainConfig settings of a preset (flags/presets.py)."""
    values = {}
    for name, raw in presets.read(name_or_path).items():
        if name.startswith("no") and raw is True and _is_boolean_field(name[2:]):
            values[name[2:]] = False
        else:
            values[name] = typed_value(name, raw)
    return values


@functools.lru_cache(maxsize=None)
def document_values(model: str) -> dict[str, Any]:
    """The settings of `model`'s document, its preset in DOCUMENT_PRESETS."""
    values = preset_values(presets.DOCUMENT_PRESETS[model])
    if values.get("model", model) != model:
        raise errors.FixableError(
            f"Preset {presets.DOCUMENT_PRESETS[model]} trains --model={values['model']}, "
            f"not {model}; flags/presets.py DOCUMENT_PRESETS must name {model}'s document."
        )
    values.pop("model", None)
    return values
