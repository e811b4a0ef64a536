"""The flags: presets parse to the documents' hyperparameters, and absl
rejects bad or contradictory values before anything runs."""

from absl import flags as absl_flags
from absl.testing import flagsaver
import hypothesis
from hypothesis import strategies as st
import pytest

from compat_tests import flagfiles
from flags import definitions


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


def test_lowering_steps_without_new_eval_steps_says_how_to_fix_it():
    with pytest.raises(absl_flags.Error, match="give a new --eval_at"):
        flagfiles.load("hvass_softmax", "--steps=7")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=resnet"], "model"),
        (["--dataset=cifar10"], "dataset"),
        (["--steps=0"], "steps"),
        (["--batch_size=0"], "batch_size"),
        (["--learning_rate=0"], "learning_rate"),
        (["--optimizer=adagrad"], "optimizer"),
        (["--steps=10", "--eval_at=11"], "--eval_at steps must lie in"),
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
