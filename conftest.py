"""Root pytest configuration: absl flags are parsed before any test runs.

pytest's own command line must not reach absl, so the flags are parsed with
the program name only; tests that need other values use flagsaver.
"""

import sys

from absl import flags as absl_flags
import pytest

from flags import definitions  # noqa: F401  (defines the project's flags)


@pytest.fixture(scope="session", autouse=True)
def parse_absl_flags():
    if not absl_flags.FLAGS.is_parsed():
        absl_flags.FLAGS(sys.argv[:1])
