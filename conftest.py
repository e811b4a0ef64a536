"""Root pytest configuration: absl flags are parsed before each test runs.

pytest's own command line must not reach absl, so the flags are parsed with
the program name only; tests that need other values use flagsaver. A test
that makes a parse fail on purpose (the flag-error tests) leaves absl's
flags unparsed, so they are parsed again before the next test, whichever
file it is in and whichever worker runs it.
"""

import sys

from absl import flags as absl_flags
import pytest

from flags import definitions  # noqa: F401  (defines the project's flags)


@pytest.fixture(autouse=True)
def parse_absl_flags():
    if not absl_flags.FLAGS.is_parsed():
        absl_flags.FLAGS(sys.argv[:1])
