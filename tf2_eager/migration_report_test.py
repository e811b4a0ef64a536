"""The migration report finds the documents' TF1 idioms by line without
running the file, points each at a MIGRATION.md row that exists, and exits
with 2 on a file that does not parse."""

import os
import re
import subprocess
import sys

import pytest

from tf2_eager import migration_report

TESTDATA = os.path.join(os.path.dirname(__file__), "testdata")
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIGRATION_MD = os.path.join(REPOSITORY, "MIGRATION.md")


def _rows(name: str) -> list[tuple[int, str]]:
    path = os.path.join(TESTDATA, name)
    with open(path, encoding="utf-8") as file:
        return [(f.line, f.row) for f in migration_report.find_idioms(file.read(), path)]


def test_notebook_placeholder_session_loop():
    assert _rows("notebook_softmax.py") == [
        (10, "placeholder"), (10, "unflattened_images"), (11, "placeholder"),
        (15, "reduction_indices"), (15, "log"), (16, "optimizer"),
        (17, "argmax_dimension"), (17, "argmax_dimension"), (20, "initializer"),
        (21, "session"), (22, "session_run"), (24, "session_run"), (25, "session_run"),
        (26, "saver"),
    ]


def test_report_session_multiply():
    assert _rows("report_multiply.py") == [
        (6, "placeholder"), (7, "placeholder"), (10, "session"), (11, "session_run")]


def test_codelab_read_data_sets_and_interactive_session():
    rows = _rows("codelab_softmax.py")
    assert rows[:2] == [(7, "seed"), (8, "read_data_sets")]
    assert (10, "unflattened_images") in rows
    for expected in [(19, "layers"), (20, "dropout_keep_prob"), (21, "optimizer"),
                     (22, "summary"), (23, "summary"), (24, "summary"), (26, "session"),
                     (27, "initializer"), (30, "session_run"), (31, "session_run")]:
        assert expected in rows
    # Only lines 4-31 hold code, and TF2 spellings are not flagged.
    assert all(4 <= line <= 31 for line, _ in rows)


def test_tf2_code_and_compat_v1_spellings(tmp_path):
    source = (
        "import tensorflow as tf\n"
        "x = tf.compat.v1.placeholder(tf.float32, [None, 784])\n"
        "y = tf.reduce_sum(tf.math.log(x), axis=1)\n"
        "tf.summary.scalar('loss', 1.0, step=3)\n"
        "tf.nn.dropout(x, rate=0.25)\n"
    )
    findings = migration_report.find_idioms(source, "legacy.py")
    assert [(f.line, f.row) for f in findings] == [(2, "placeholder")]
    assert findings[0].format().startswith("legacy.py:2: tf.compat.v1.placeholder -> ")


def test_the_file_is_parsed_never_run(tmp_path, capsys):
    path = tmp_path / "legacy.py"
    path.write_text("raise SystemExit('the file was run')\nimport tensorflow as tf\n"
                    "sess = tf.Session()\n")
    migration_report.main(["migration_report", str(path)])
    out = capsys.readouterr().out
    assert f"{path}:3: tf.Session -> no Session" in out
    assert "MIGRATION.md row `session`; TF2 code: tf2_eager/train.py" in out
    assert f"{path}: 1 TF1 idioms" in out


def test_syntax_error_exits_2_with_the_line(tmp_path):
    path = tmp_path / "python2.py"
    path.write_text("import tensorflow as tf\nprint 'accuracy', 0.9\n")
    completed = subprocess.run(
        [sys.executable, "-m", "tf2_eager.migration_report", str(path)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=60)
    assert completed.returncode == migration_report.EXIT_UNREADABLE == 2
    assert f"error: {path}:2: cannot parse the file" in completed.stderr
    assert "2to3" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_missing_file_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        migration_report.main(["migration_report", str(tmp_path / "absent.py")])
    assert raised.value.code == 2
    assert "cannot read" in capsys.readouterr().err


def _migration_md() -> str:
    with open(MIGRATION_MD, encoding="utf-8") as file:
        return file.read()


def test_every_idiom_has_its_migration_md_row_and_existing_reference():
    row_ids = set(re.findall(r"^\| `(\w+)` \|", _migration_md(), flags=re.MULTILINE))
    assert set(migration_report.IDIOMS) <= row_ids
    for idiom in migration_report.IDIOMS.values():
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
