"""The project's expected errors: bad input or state the user can fix.

A FixableError's message names what was expected and how to fix it, and
the commands print it in one line (exit code 1). Anything else, TensorFlow's
own errors and the project's bugs included, keeps its traceback. It is a
ValueError, so code that catches ValueError still catches it.
"""


class FixableError(ValueError):
    """Bad input or state, with a message that names the fix."""
