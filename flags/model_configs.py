"""Each MNIST classifier's own settings: one frozen dataclass per model.

Each model has its own default config, as minGPT's components do: a class's
defaults are the values of its document (the flagfile that
flags/presets.py DOCUMENT_PRESETS names), so `MlpConfig()` is the Keras
notebook's MLP. `flags.config.TrainConfig` builds its model's config once,
as `config.model_config`, and the builders on both sides (tf1_graph's
`inference(images, model_config, keep_prob)`, tf2_eager's
`create(model_config, seed)`) take only that. A class checks its own values
when it is made, so a builder never meets a value it cannot build. No absl,
no TensorFlow.
"""

import dataclasses
from typing import Sequence

from mnist_data import checks
from runtime import errors

ACTIVATIONS = ("relu", "sigmoid")

# Initialisers for weight matrices ("glorot_uniform" is Keras' default);
# biases start at bias_init.
WEIGHT_INITIALIZERS = ("zeros", "truncated_normal", "uniform", "glorot_uniform")


def _check_dropout_keep(dropout_keep: float) -> None:
    if not 0 < dropout_keep <= 1:
        raise errors.FixableError(
            f"dropout_keep must be in (0, 1], got {dropout_keep!r}; 1 turns dropout off."
        )


def _check_widths(name: str, widths: Sequence[int], example: str) -> None:
    if isinstance(widths, (str, bytes)) or not all(
        isinstance(width, int) and not isinstance(width, bool) and width > 0 for width in widths
    ):
        raise errors.FixableError(
            f"{name} must be positive integers, got {tuple(widths)}; "
            f"pass widths such as --{name}={example}."
        )


# The Hvass-Labs tutorial 01 "Simple Linear Model" (hvass_softmax.cfg):
# weights and biases start at zero.
@dataclasses.dataclass(frozen=True)
class SoftmaxRegressionConfig:
    """logits = images @ weights + biases.

    Attributes:
      weight_init: One of WEIGHT_INITIALIZERS.
      init_stddev: Standard deviation of "truncated_normal" weights.
      init_limit: Half-width of "uniform" weights, drawn in [-limit, limit].
      bias_init: Initial value of every bias.
      uniform_biases: Draw the biases like "uniform" weights, in
        [-init_limit, init_limit], instead of bias_init (the
        gradient-learning notebook's softmax).
    """

    weight_init: str = "zeros"
    init_stddev: float = 0.1
    init_limit: float = 1.0
    bias_init: float = 0.0
    uniform_biases: bool = False

    def __post_init__(self):
        errors.check_choice("weight_init", self.weight_init, WEIGHT_INITIALIZERS)
        if self.uniform_biases and self.weight_init != "uniform":
            raise errors.FixableError(
                "uniform_biases draws biases like uniform weights, for the "
                "notebook's softmax_regression; it needs --model=softmax_regression "
                f"and --weight_init=uniform, got --weight_init={self.weight_init}."
            )


# The Keras notebook's MLP (keras_mlp.cfg): Dense(512, relu) -> Dense(10),
# Keras' glorot_uniform kernels and zero biases.
@dataclasses.dataclass(frozen=True)
class MlpConfig:
    """Dense layers with an activation (and dropout), then a dense layer to logits.

    Attributes:
      hidden_sizes: Widths of the hidden layers, positive integers.
      activation: One of ACTIVATIONS, after each hidden layer.
      dropout_keep: Probability of keeping a hidden unit in training, in
        (0, 1]; 1 turns dropout off (and builds no dropout ops).
      weight_init: One of WEIGHT_INITIALIZERS.
      init_stddev: Standard deviation of "truncated_normal" weights.
      init_limit: Half-width of "uniform" weights, drawn in [-limit, limit].
      bias_init: Initial value of every bias.
    """

    hidden_sizes: tuple[int, ...] = (512,)
    activation: str = "relu"
    dropout_keep: float = 1.0
    weight_init: str = "glorot_uniform"
    init_stddev: float = 0.1
    init_limit: float = 1.0
    bias_init: float = 0.0

    def __post_init__(self):
        _check_widths("hidden_sizes", self.hidden_sizes, "200,100,60,30")
        errors.check_choice("activation", self.activation, ACTIVATIONS)
        _check_dropout_keep(self.dropout_keep)
        errors.check_choice("weight_init", self.weight_init, WEIGHT_INITIALIZERS)


# tensorflow-without-a-phd mnist_2.1_five_layers_relu_lrdecay.py
# (codelab_2_1_five_layers_relu_lrdecay.cfg): 200-100-60-30 relu,
# truncated_normal(0.1) weights, biases 0.1.
@dataclasses.dataclass(frozen=True)
class DeepMlpConfig(MlpConfig):
    """The MLP with the codelab's five layers; the attributes are MlpConfig's."""

    hidden_sizes: tuple[int, ...] = (200, 100, 60, 30)
    weight_init: str = "truncated_normal"
    bias_init: float = 0.1


# tensorflow-without-a-phd mnist_3.0_convolutional.py
# (codelab_3_0_convolutional.cfg): conv 4, 8, 12 channels with 5x5 stride 1,
# 5x5 stride 2 and 4x4 stride 2, dense 200, truncated_normal(0.1) weights,
# biases 0.1, no dropout.
@dataclasses.dataclass(frozen=True)
class ConvnetConfig:
    """Three relu conv layers ("SAME"), a relu dense layer with dropout, logits.

    Attributes:
      conv_channels: Output channels of the three conv layers.
      conv_kernels: Their square kernel sizes.
      conv_strides: Their strides.
      dense_units: Width of the fully connected layer.
      dropout_keep: Probability of keeping a dense unit in training, in (0, 1].
      weight_init: "truncated_normal", the codelab's; the only one accepted.
      init_stddev: Standard deviation of the truncated_normal weights.
      bias_init: Initial value of every bias.
    """

    conv_channels: tuple[int, ...] = (4, 8, 12)
    conv_kernels: tuple[int, ...] = (5, 5, 4)
    conv_strides: tuple[int, ...] = (1, 2, 2)
    dense_units: int = 200
    dropout_keep: float = 1.0
    weight_init: str = "truncated_normal"
    init_stddev: float = 0.1
    bias_init: float = 0.1

    def __post_init__(self):
        if not len(self.conv_channels) == len(self.conv_kernels) == len(self.conv_strides) == 3:
            raise errors.FixableError(
                "conv_channels, conv_kernels and conv_strides each take three "
                f"values, got {self.conv_channels}, {self.conv_kernels}, "
                f"{self.conv_strides}."
            )
        for name, example in (
            ("conv_channels", "4,8,12"), ("conv_kernels", "5,5,4"), ("conv_strides", "1,2,2"),
        ):
            _check_widths(name, getattr(self, name), example)
        if isinstance(self.dense_units, bool) or not (
            isinstance(self.dense_units, int) and self.dense_units > 0
        ):
            raise errors.FixableError(
                f"dense_units must be a positive integer, got {self.dense_units!r}; "
                "pass a width such as --dense_units=200."
            )
        checks.check_conv_geometry(self.conv_kernels, self.conv_strides)
        _check_dropout_keep(self.dropout_keep)
        if self.weight_init != "truncated_normal":
            raise errors.FixableError(
                f"The convnet starts from truncated_normal weights, as the codelab "
                f"did, got weight_init {self.weight_init!r}; pass "
                "--weight_init=truncated_normal."
            )


# The classifiers' configs by --model. The standalone models
# (flags.config.STANDALONE_MODELS) have no settings of their own.
MODEL_CONFIGS = {
    "softmax_regression": SoftmaxRegressionConfig,
    "mlp": MlpConfig,
    "deep_mlp": DeepMlpConfig,
    "convnet": ConvnetConfig,
}
ModelConfig = SoftmaxRegressionConfig | MlpConfig | ConvnetConfig


def setting_names(model_class: type) -> tuple[str, ...]:
    """The settings of a model config class, in field order."""
    return tuple(field.name for field in dataclasses.fields(model_class))
