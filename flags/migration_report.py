"""Flags of `python -m tf2_eager.migration_report`, the report over a legacy tree.

The program uses none of the shared flags of flags.definitions.
"""

from absl import flags as absl_flags

# Most dangerous first: a finding's severity fails the run when it is at or
# above --fail_on in this order.
SEVERITIES = ("silent", "breaks", "style")
FORMATS = ("text", "json", "sarif")

FORMAT = absl_flags.DEFINE_enum(
    "format",
    "text",
    FORMATS,
    "text: findings grouped by MIGRATION.md row, per file, then the tree's "
    "summary. json: the same, machine-readable (schema: "
    "tf2_eager/migration_report.schema.json). sarif: SARIF 2.1.0, for code "
    "scanning and editors.",
)
FAIL_ON = absl_flags.DEFINE_enum(
    "fail_on",
    "never",
    (*SEVERITIES, "never"),
    "Exit with 1 when a finding is this severe or worse (silent > breaks > "
    "style; style fails on any finding). never: findings never fail the run. "
    "A file that cannot be read or parsed exits with 2 whatever this says.",
)
OUTPUT = absl_flags.DEFINE_string(
    "output",
    None,
    "Write the report to this file instead of standard output.",
)
