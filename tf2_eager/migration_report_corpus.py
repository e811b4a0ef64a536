"""Measures the migration report against idioms listed by reading real TF1 files.

    python -m tf2_eager.migration_report_corpus CORPUS_DIR [LISTING.json]

CORPUS_DIR holds the public files of docs/migration_report_corpus.json (the
default LISTING), each under its "local" name; they are fetched at the listed
commits and never committed here. An idiom is a (line, row) pair, or (line,
symbol) for a TF1 symbol with no MIGRATION.md row; several findings of one
row on one line count once. Recall is the share of listed idioms the report
names on their line; a false positive is a (line, row) the report names that
the listing does not hold. Silent idioms must also be reported as silent.
"""

import dataclasses
import json
import os
from typing import Optional, Sequence

from absl import app

from tf2_eager import migration_report
from runtime import errors

DEFAULT_LISTING = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "docs", "migration_report_corpus.json")


@dataclasses.dataclass(frozen=True)
class Measurement:
    """The report's agreement with the listing, over the files that parse.

    Attributes:
      listed: Idioms listed, as {(file, line, idiom)}.
      missed: Listed idioms the report did not name.
      false_positives: Idioms the report named that are not listed.
      silent_listed: Listed silent idioms.
      silent_missed: Listed silent idioms not reported as silent.
      unparsed_ok: Files listed as not parsing that the report lists as not parsed.
      unparsed_expected: Files listed as not parsing.
    """

    listed: frozenset
    missed: frozenset
    false_positives: frozenset
    silent_listed: frozenset
    silent_missed: frozenset
    unparsed_ok: int
    unparsed_expected: int

    @property
    def recall(self) -> float:
        return 1 - len(self.missed) / len(self.listed)


def measure(corpus_dir: str, listing_path: str = DEFAULT_LISTING,
            held_out: Optional[bool] = None, held_out_set: Optional[str] = None) -> Measurement:
    """Runs the report over the listed files of `corpus_dir` and compares.

    Args:
      corpus_dir: The folder holding the files under their "local" names.
      listing_path: The JSON list of files and idioms.
      held_out: True: only the files listed before the report first ran on
        them; False: only the others; None: all.
      held_out_set: With held_out=True, only the held-out files of this set
        ("second": listed for issue 17's second measurement); None: the
        first set (files with no "held_out_set").

    Raises:
      ValueError: If a listed file is missing from `corpus_dir`.
    """
    with open(listing_path, encoding="utf-8") as file:
        listing = json.load(file)
    listed, found, silent_listed, silent_found = set(), set(), set(), set()
    unparsed_ok = unparsed_expected = 0
    for entry in listing["files"]:
        if held_out is not None and entry["held_out"] != held_out:
            continue
        if held_out and entry.get("held_out_set") != held_out_set:
            continue
        path = os.path.join(corpus_dir, entry["local"])
        if not os.path.isfile(path):
            raise errors.FixableError(f"{path} is missing: fetch {entry['repo']} {entry['path']} at "
                             f"{entry['commit']} into {corpus_dir} as {entry['local']}.")
        report = migration_report.report_file(path)
        if not entry["parses"]:
            unparsed_expected += 1
            unparsed_ok += not report.parsed and report.error_line is not None
            continue
        for idiom in entry["idioms"]:
            key = (_place(entry["local"], idiom.get("cell")), idiom["line"], idiom["idiom"])
            listed.add(key)
            if idiom.get("severity") == "silent":
                silent_listed.add(key)
        for finding in report.findings:
            key = (_place(entry["local"], finding.cell), finding.line, finding.group)
            found.add(key)
            if finding.severity == "silent":
                silent_found.add(key)
    return Measurement(
        listed=frozenset(listed),
        missed=frozenset(listed - found),
        false_positives=frozenset(found - listed),
        silent_listed=frozenset(silent_listed),
        silent_missed=frozenset(silent_listed - silent_found),
        unparsed_ok=unparsed_ok,
        unparsed_expected=unparsed_expected,
    )


def _place(local: str, cell: Optional[int]) -> str:
    """The file, and for a notebook the code cell, that a line number counts in."""
    return local if cell is None else f"{local} cell {cell}"


def main(argv: Sequence[str]) -> None:
    if len(argv) not in (2, 3):
        raise app.UsageError("Pass the corpus directory (and, optionally, the listing JSON).")
    for title, held_out, held_out_set in (
            ("all files", None, None), ("listed after a first run", False, None),
            ("first held-out set (listed before any run)", True, None),
            ("second held-out set (listed before any run, issue 17)", True, "second")):
        _print(title, measure(*argv[1:], held_out=held_out, held_out_set=held_out_set))


def _print(title: str, result: Measurement) -> None:
    listed, missed = len(result.listed), len(result.missed)
    files = len({key[0].split(" cell ")[0] for key in result.listed})
    print(f"{title}: {listed} idioms in {files} parsed files")
    print(f"  recall: {listed - missed}/{listed} = {result.recall:.1%}")
    print(f"  silent: {len(result.silent_listed) - len(result.silent_missed)}/"
          f"{len(result.silent_listed)} reported as silent")
    print(f"  false positives: {len(result.false_positives)}")
    if result.unparsed_expected:
        print(f"  files that do not parse, reported with their line: "
              f"{result.unparsed_ok}/{result.unparsed_expected}")
    for label, keys in (("missed", result.missed), ("false positive", result.false_positives),
                        ("silent missed", result.silent_missed)):
        for local, line, idiom in sorted(keys):
            print(f"    {label}: {local}:{line} {idiom}")


if __name__ == "__main__":
    app.run(main)
