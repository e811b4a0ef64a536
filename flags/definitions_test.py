"""The flags: presets parse to the documents' hyperparameters, and absl
rejects bad or contradictory values before anything runs."""

import dataclasses

from absl import flags as absl_flags
from absl.testing import flagsaver
import hypothesis
from hypothesis import strategies as st
import pytest

from compat_tests import flagfiles
from flags import config as config_lib
from flags import definitions
from flags import presets


def test_each_preset_reproduces_its_document():
    hvass = flagfiles.load("hvass_softmax")
    assert (hvass.weight_init, hvass.loss, hvass.learning_rate) == (
        "zeros", "softmax_cross_entropy", 0.5)
    assert (hvass.batch_size, hvass.steps, hvass.eval_at) == (100, 1000, (0, 1, 10, 1000))
    notebook = flagfiles.load("notebook_softmax")
    assert (notebook.weight_init, notebook.loss, notebook.learning_rate, notebook.steps) == (
        "zeros", "naive_sum", 0.5, 5000)
    codelab = flagfiles.load("codelab_softmax")
    assert (codelab.weight_init, codelab.init_stddev, codelab.loss) == (
        "truncated_normal", 0.1, "naive_mean_x1000")
    assert (codelab.learning_rate, codelab.steps) == (0.003, 5000)


def test_command_line_overrides_a_preset():
    config = flagfiles.load("hvass_softmax", "--steps=7", "--eval_at=0,3")
    assert config.steps == 7
    # A later --eval_at replaces the preset's list rather than adding to it.
    assert config.eval_at == (0, 3)


def _config_from(*args: str) -> config_lib.TrainConfig:
    with flagsaver.flagsaver():
        absl_flags.FLAGS.unparse_flags()
        absl_flags.FLAGS(["prog", *args])
        return definitions.to_config()


def test_lowering_steps_after_a_flagfile_says_how_to_fix_it():
    # A flagfile's flags are command-line flags, so its --eval_at was given
    # as surely as --steps: the two contradict each other.
    with pytest.raises(ValueError, match="--preset"):
        flagfiles.load("hvass_softmax", "--steps=7")


def test_lowering_steps_after_a_preset_keeps_its_evaluation_points_up_to_it(monkeypatch):
    lines = []
    monkeypatch.setattr(
        definitions.logging, "info", lambda message, *args: lines.append(message % args))
    config = _config_from("--preset=hvass_softmax", "--steps=7")
    assert (config.steps, config.eval_at, config.eval_steps) == (7, (0, 1), (0, 1, 7))
    assert config.learning_rate == 0.5
    assert lines == [
        "--steps=7: evaluating at steps 0,1 of the preset's 0,1,10,1000, and after the last."]


def test_flags_override_a_preset_in_any_order():
    before = _config_from("--learning_rate=0.1", "--preset=codelab_softmax")
    after = _config_from("--preset=codelab_softmax", "--learning_rate=0.1")
    assert before == after
    assert (after.learning_rate, after.loss, after.steps) == (0.1, "naive_mean_x1000", 5000)


@pytest.mark.parametrize("model", config_lib.MODEL_NAMES)
def test_a_model_alone_is_its_document(model):
    alone = _config_from(f"--model={model}")
    document = flagfiles.load(presets.DOCUMENT_PRESETS[model])
    # The document's evaluation points stay implicit (eval_at None) until a
    # run asks for them, so that a lower steps trims them.
    assert alone.eval_steps == document.eval_steps
    assert dataclasses.replace(alone, eval_at=document.eval_at) == document


def test_a_setting_the_model_does_not_have_is_refused():
    with pytest.raises(ValueError, match="softmax_regression has no --dropout_keep"):
        _config_from("--model=softmax_regression", "--dropout_keep=0.5")
    with pytest.raises(ValueError, match="convnet has no --hidden_sizes"):
        _config_from("--preset=codelab_3_0_convolutional", "--hidden_sizes=10")


def test_presets_are_named_without_a_path_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _config_from("--preset=keras_mlp").hidden_sizes == (512,)
    assert _config_from("--preset=flags/keras_mlp.cfg").hidden_sizes == (512,)
    with pytest.raises(absl_flags.Error, match="--list_presets"):
        _config_from("--preset=keras_mpl")


def test_every_preset_is_listed_with_its_model(capsys):
    definitions.list_presets()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(presets.names())
    assert any(line.startswith("keras_mlp") and "--model=mlp" in line for line in lines)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=resnet"], "model"),
        (["--dataset=cifar10"], "dataset"),
        (["--steps=0"], "steps"),
        (["--batch_size=0"], "batch_size"),
        (["--optimizer=adagrad"], "optimizer"),
        (["--eval_at=1,x"], "comma-separated integers"),
        (["--eval_at=-1"], "comma-separated integers"),
        (["--data_dir=/tmp/mnist"], "Drop one of the two"),
    ],
)
def test_absl_rejects_bad_flags_before_anything_runs(args, message):
    with flagsaver.flagsaver():
        absl_flags.FLAGS.unparse_flags()
        with pytest.raises(absl_flags.Error, match=message):
            absl_flags.FLAGS(["prog", *args])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--learning_rate=0"], "learning_rate must be > 0"),
        (["--steps=10", "--eval_at=11"], r"eval_at steps \[11\] are outside"),
        (["--model=mlp", "--dropout_keep=1.5"], r"dropout_keep must be in \(0, 1\]"),
    ],
)
def test_contradictory_values_are_refused_with_the_fix(args, message):
    with pytest.raises(ValueError, match=message):
        _config_from(*args)


def test_unknown_preset_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="hvass_softmax"):
        flagfiles.path("no_such_document")


def test_to_config_reads_the_parsed_values():
    with flagsaver.flagsaver():
        absl_flags.FLAGS.unparse_flags()
        absl_flags.FLAGS(["prog", "--steps=12", "--seed=3", "--rng=tensorflow"])
        config = definitions.to_config()
    assert (config.steps, config.seed, config.rng) == (12, 3, "tensorflow")


@hypothesis.settings(max_examples=150, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(
    flag=st.sampled_from(["eval_at", "hidden_sizes", "conv_channels", "conv_kernels", "steps",
                          "batch_size", "learning_rate", "dropout_keep", "seed", "model", "loss",
                          "checkpoint_every", "steps_per_call", "init_limit"]),
    value=st.text(max_size=24),
)
def test_fuzzed_flag_values_give_an_absl_error_or_a_valid_config(flag, value):
    # Whatever text a flag is given, the program either refuses it with
    # absl's flag error (before anything runs) or gets a TrainConfig; a
    # value that parses but contradicts another gets TrainConfig's
    # ValueError naming the fix. Nothing else escapes.
    with flagsaver.flagsaver():
        absl_flags.FLAGS.unparse_flags()
        try:
            absl_flags.FLAGS(["prog", f"--{flag}={value}"])
        except absl_flags.Error:
            return
        try:
            config = definitions.to_config()
        except ValueError as error:
            assert str(error), "a ValueError must say what was expected"
            return
    assert config.steps >= 1 and config.batch_size >= 1
