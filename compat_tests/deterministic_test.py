"""compat_tests.deterministic: the child's configuration, and a child that
fails or runs out of time is reported, never left behind."""

import os

import pytest

import compat_tests
from compat_tests import deterministic
from runtime import local_cluster


def child_configuration() -> dict:
    """What the child sees; run by the test below in the deterministic child."""
    # Not public API: TensorFlow exports only enable_op_determinism.
    from tensorflow.python.framework import config as tf_config

    return {
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "op_determinism": tf_config.is_op_determinism_enabled(),
        "package": compat_tests.__file__,
    }


def test_child_has_onednn_off_op_determinism_on_and_imports_this_checkout():
    seen = deterministic.run("compat_tests.deterministic_test:child_configuration", {})
    assert seen == {"TF_ENABLE_ONEDNN_OPTS": "0", "op_determinism": True,
                    "package": compat_tests.__file__}


def test_a_failing_child_is_reported_with_its_stderr():
    with pytest.raises(local_cluster.WorkerFailedError, match=r"(?s)exit code 1.*Expected MODULE:FUNCTION"):
        deterministic.run("compat_tests.deterministic_test", {})


def test_a_child_out_of_time_is_killed_and_reported():
    with pytest.raises(local_cluster.WorkerFailedError, match="did not finish within 0.5 s"):
        deterministic.run("compat_tests.deterministic_test:child_configuration", {},
                          timeout_seconds=0.5)


def test_the_child_refuses_to_run_without_the_environment(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    with pytest.raises(ValueError, match="TF_ENABLE_ONEDNN_OPTS"):
        deterministic.main(["deterministic", "compat_tests.deterministic_test:child_configuration",
                            "{}", "unused.json"])
