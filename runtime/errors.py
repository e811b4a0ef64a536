"""The project's expected errors: bad input or state the user can fix.

A FixableError's message names what was expected and how to fix it, and
the commands print it in one line (exit code 1). Anything else, TensorFlow's
own errors and the project's bugs included, keeps its traceback. It is a
ValueError, so code that catches ValueError still catches it.
"""


from typing import Any, Sequence


class FixableError(ValueError):
    """Bad input or state, with a message that names the fix."""


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    """Raises FixableError unless `value` is one of `allowed`, naming them."""
    if value not in allowed:
        raise FixableError(f"Unknown {name} {value!r}; expected one of {', '.join(allowed)}.")
