"""The migration report as text, JSON or SARIF 2.1.0.

Text is for people: per file, findings grouped by MIGRATION.md row (the
advice once, the lines listed), silent groups first, then the whole tree's
summary. JSON holds the same with every finding (schema:
tf2_eager/migration_report.schema.json). SARIF 2.1.0 is what GitHub code
scanning and editors read: one rule per row, one result per finding, and an
error notification per file that could not be parsed.
"""

import json
from typing import Sequence

from tf2_eager import migration_report as report_lib
from runtime import errors

SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_TOOL = "tf2_eager.migration_report"
# SARIF has error / warning / note: a silent change and a break both fail
# a migration, a style finding does not.
_SARIF_LEVELS = {"silent": "error", "breaks": "error", "style": "note"}
# The rule id of findings with no MIGRATION.md row.
_NO_ROW_RULE = "tf1_symbol_no_row"


def _advice(finding: report_lib.Finding) -> str:
    if finding.row is None:
        return f"{report_lib.NO_ROW}"
    idiom = report_lib.IDIOMS[finding.row]
    reference = f"; TF2 code: {idiom.reference}" if idiom.reference else ""
    return f"TF2: {idiom.tf2_form}. MIGRATION.md row `{finding.row}`{reference}"


def _summary_text(tally: dict) -> str:
    return (f"{tally['total']} findings ({tally['silent']} silent, {tally['breaks']} breaks, "
            f"{tally['style']} style)")


def to_text(reports: Sequence[report_lib.FileReport]) -> str:
    """Per file: grouped findings, silent first; then the tree's summary."""
    lines = []
    for report in reports:
        if not report.parsed:
            lines.append(f"{report.error_location()}: NOT PARSED: {report.error}.")
            if not report.findings:
                lines.append("")
                continue
        lines.append(f"{report.path}: {_summary_text(report_lib.counts(report.findings))}")
        for severity, group, members in report_lib.groups(report.findings):
            if members[0].cell is None:
                where = "line " + ", ".join(str(member.line) for member in members)
            else:
                where = ", ".join(f"cell {member.cell} line {member.line}" for member in members)
            label = group if members[0].row else f"{group} ({report_lib.NO_ROW})"
            lines.append(f"  {severity:6} {label} x{len(members)}: {where}")
            # One line per distinct case: the advice differs by call, and so
            # does what tf_upgrade_v2 does with it.
            details = dict.fromkeys(
                (member.expression, member.message, member.upgrade, member.upgrade_detail)
                for member in members)
            for expression, message, upgrade, upgrade_detail in details:
                lines.append(f"         {expression}: {message}. "
                             f"tf_upgrade_v2 {upgrade} ({upgrade_detail}).")
            if members[0].row:
                lines.append(f"         {_advice(members[0])}")
        lines.append("")
    all_findings = [finding for report in reports for finding in report.findings]
    not_parsed = sum(not report.parsed for report in reports)
    by_row = report_lib.groups(all_findings)
    lines.append(f"Tree: {len(reports)} files ({not_parsed} not parsed), "
                 f"{_summary_text(report_lib.counts(all_findings))}.")
    for severity, group, members in by_row:
        files = len({member.path for member in members})
        lines.append(f"  {severity:6} {group}: {len(members)} in {files} files")
    return "\n".join(lines) + "\n"


def _finding_json(finding: report_lib.Finding) -> dict:
    return {
        "line": finding.line,
        "column": finding.column,
        "cell": finding.cell,
        "expression": finding.expression,
        "message": finding.message,
        "upgrade": {"action": finding.upgrade, "detail": finding.upgrade_detail},
    }


def to_json(reports: Sequence[report_lib.FileReport]) -> dict:
    """The report as a JSON-ready dict (tf2_eager/migration_report.schema.json)."""
    files = []
    for report in reports:
        file_groups = []
        for severity, group, members in report_lib.groups(report.findings):
            first = members[0]
            idiom = report_lib.IDIOMS.get(first.row) if first.row else None
            file_groups.append({
                "row": first.row,
                "symbol": first.symbol if first.row is None else None,
                "severity": severity,
                "count": len(members),
                "lines": [member.line for member in members],
                "tf2_form": idiom.tf2_form if idiom else None,
                "reference": idiom.reference if idiom else None,
                "findings": [_finding_json(member) for member in members],
            })
        files.append({
            "path": report.path,
            "parsed": report.parsed,
            "error": report.error,
            "summary": report_lib.counts(report.findings),
            "groups": file_groups,
        })
    all_findings = [finding for report in reports for finding in report.findings]
    summary = report_lib.counts(all_findings)
    summary.update(files=len(reports), not_parsed=sum(not report.parsed for report in reports))
    return {"schema_version": SCHEMA_VERSION, "tool": _TOOL, "files": files, "summary": summary}


def _rule(row: str) -> dict:
    if row == _NO_ROW_RULE:
        text = ("A TF1 symbol that TF2 lacks or changed, with no MIGRATION.md row yet: "
                "see the finding's message and tf_upgrade_v2's action.")
    else:
        text = f"TF2: {report_lib.IDIOMS[row].tf2_form}. MIGRATION.md row `{row}`."
    return {"id": row, "name": row, "shortDescription": {"text": text},
            "helpUri": "https://www.tensorflow.org/guide/migrate"}


def to_sarif(reports: Sequence[report_lib.FileReport]) -> dict:
    """The report as a SARIF 2.1.0 log: one run, one result per finding."""
    results, rule_ids, notifications = [], [], []
    for report in reports:
        for finding in report.findings:
            rule_id = finding.row or _NO_ROW_RULE
            if rule_id not in rule_ids:
                rule_ids.append(rule_id)
            cell = f"cell {finding.cell}, " if finding.cell is not None else ""
            results.append({
                "ruleId": rule_id,
                "ruleIndex": rule_ids.index(rule_id),
                "level": _SARIF_LEVELS[finding.severity],
                "message": {"text": (
                    f"{cell}{finding.severity}: {finding.expression}: {finding.message}. "
                    f"tf_upgrade_v2 {finding.upgrade} ({finding.upgrade_detail}).")},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": report.path},
                    "region": {"startLine": finding.line, "startColumn": finding.column + 1},
                }}],
                "properties": {"severity": finding.severity, "symbol": finding.symbol,
                               "upgrade": finding.upgrade},
            })
        if not report.parsed:
            notifications.append({
                "level": "error",
                "message": {"text": f"{report.path}: {report.error}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": report.path}}}],
            })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": _TOOL,
                "informationUri": "https://www.tensorflow.org/guide/migrate",
                "rules": [_rule(rule_id) for rule_id in rule_ids],
            }},
            "invocations": [{
                "executionSuccessful": not notifications,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    }


def render(reports: Sequence[report_lib.FileReport], output_format: str) -> str:
    """The report in `output_format`: "text", "json" or "sarif".

    Raises:
      ValueError: For another format.
    """
    if output_format == "text":
        return to_text(reports)
    if output_format == "json":
        return json.dumps(to_json(reports), indent=1) + "\n"
    if output_format == "sarif":
        return json.dumps(to_sarif(reports), indent=1) + "\n"
    raise errors.FixableError(f"Unknown report format {output_format!r}: use text, json or sarif.")
