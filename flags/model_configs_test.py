"""Each model's config class: its defaults are its document, bad values are refused."""

import dataclasses

import pytest

from flags import config as config_lib
from flags import model_configs


@pytest.mark.parametrize("model", sorted(model_configs.MODEL_CONFIGS))
def test_defaults_are_the_models_document(model):
    defaults = model_configs.MODEL_CONFIGS[model]()
    assert config_lib.TrainConfig(model=model).model_config == defaults
    # The flagfile's own values, field by field, where the document sets them.
    document = config_lib.document_values(model)
    for name in model_configs.setting_names(type(defaults)):
        if name in document:
            assert getattr(defaults, name) == document[name], name


@pytest.mark.parametrize("model", ["mlp", "deep_mlp", "convnet"])
def test_train_config_fills_its_flat_fields_from_the_model_config(model):
    config = config_lib.TrainConfig(model=model, dropout_keep=0.75)
    assert config.model_config.dropout_keep == 0.75
    for name in config_lib.MODEL_SETTINGS[model]:
        assert getattr(config, name) == getattr(config.model_config, name), name
    # Replacing a flat field rebuilds the model config from it.
    changed = dataclasses.replace(config, bias_init=0.5)
    assert changed.model_config.bias_init == 0.5


def test_standalone_models_have_no_model_config():
    for model in config_lib.STANDALONE_MODELS:
        assert config_lib.TrainConfig(model=model).model_config is None
        assert config_lib.MODEL_SETTINGS[model] == ()


# (model class, bad settings, the message's expectation and fix)
BAD_VALUES = [
    (model_configs.SoftmaxRegressionConfig, {"weight_init": "ones"},
     r"Unknown weight_init 'ones'; expected one of zeros, truncated_normal"),
    (model_configs.SoftmaxRegressionConfig, {"uniform_biases": True},
     r"needs --model=softmax_regression and --weight_init=uniform, got --weight_init=zeros"),
    (model_configs.MlpConfig, {"hidden_sizes": (512, 0)},
     r"hidden_sizes must be positive integers, got \(512, 0\); pass widths such as"),
    (model_configs.MlpConfig, {"activation": "tanh"},
     r"Unknown activation 'tanh'; expected one of relu, sigmoid"),
    (model_configs.DeepMlpConfig, {"dropout_keep": 0.0},
     r"dropout_keep must be in \(0, 1\], got 0.0; 1 turns dropout off"),
    (model_configs.ConvnetConfig, {"weight_init": "zeros"},
     r"got weight_init 'zeros'; pass --weight_init=truncated_normal"),
    (model_configs.ConvnetConfig, {"conv_kernels": (5, 5)},
     r"conv_channels, conv_kernels and conv_strides each take three values"),
    (model_configs.ConvnetConfig, {"conv_kernels": (5, 5, 1000)},
     r"Conv layer 3 takes a 14x14 input, so its kernel and stride must be at most 14"),
    (model_configs.ConvnetConfig, {"dense_units": 0},
     r"dense_units must be a positive integer, got 0; pass a width such as --dense_units=200"),
    (model_configs.ConvnetConfig, {"dropout_keep": 1.5},
     r"dropout_keep must be in \(0, 1\], got 1.5"),
]


@pytest.mark.parametrize("model_class, settings, message", BAD_VALUES)
def test_bad_values_are_refused_with_the_fix(model_class, settings, message):
    with pytest.raises(ValueError, match=message):
        model_class(**settings)
    # TrainConfig refuses them the same way, where the flags enter.
    model = next(name for name, cls in model_configs.MODEL_CONFIGS.items() if cls is model_class)
    with pytest.raises(ValueError, match=message):
        config_lib.TrainConfig(model=model, **settings)


def test_deep_mlp_is_the_mlp_with_the_codelabs_defaults():
    assert issubclass(model_configs.DeepMlpConfig, model_configs.MlpConfig)
    assert model_configs.DeepMlpConfig().hidden_sizes == (200, 100, 60, 30)
    assert model_configs.MlpConfig().hidden_sizes == (512,)
