"""The optimizer's config: built from the document, checked where it enters."""

import math

import pytest

from flags import config as config_lib
from flags import optimizer_config


def test_a_models_optimizer_is_its_documents():
    convnet = config_lib.TrainConfig(model="convnet").optimizer_config
    assert convnet == optimizer_config.OptimizerConfig(
        optimizer="adam", learning_rate=0.003, learning_rate_decay="exponential",
        min_learning_rate=0.0001, decay_steps=2000.0,
    )
    # Hvass-Labs tutorial 01 sets only what the class's defaults are.
    assert config_lib.TrainConfig().optimizer_config == optimizer_config.OptimizerConfig()


def test_a_flag_overrides_the_document_and_the_flat_field_follows():
    config = config_lib.TrainConfig(model="mlp", learning_rate=0.01, optimizer_semantics="keras")
    assert config.optimizer_config.optimizer == "rmsprop"  # The Keras notebook's.
    assert config.optimizer_config.learning_rate == config.learning_rate == 0.01
    assert config.optimizer_config.optimizer_semantics == "keras"


def test_learning_rate_at_is_the_codelabs_decay():
    schedule = config_lib.TrainConfig(model="deep_mlp").optimizer_config
    assert schedule.learning_rate_at(0) == 0.003
    assert schedule.learning_rate_at(2000) == pytest.approx(0.0001 + 0.0029 * math.exp(-1))
    assert optimizer_config.OptimizerConfig().learning_rate_at(2000) == 0.5


@pytest.mark.parametrize("settings, message", [
    ({"optimizer": "sgd"}, r"Unknown optimizer 'sgd'; expected one of gradient_descent, momentum"),
    ({"optimizer_semantics": "torch"}, r"Unknown optimizer_semantics 'torch'; expected one of tf1"),
    ({"learning_rate": 0.0}, r"learning_rate must be > 0, got 0.0"),
    ({"learning_rate_decay": "exponential", "min_learning_rate": 1.0},
     r"Exponential decay needs 0 < min_learning_rate <= learning_rate"),
])
def test_bad_values_are_refused_with_the_fix(settings, message):
    with pytest.raises(ValueError, match=message):
        optimizer_config.OptimizerConfig(**settings)
    with pytest.raises(ValueError, match=message):
        config_lib.TrainConfig(**settings)
