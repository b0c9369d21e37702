"""Argument types shared by the management commands: a bad value is argparse's usage error, not a trace."""
from __future__ import annotations

import argparse
from collections.abc import Callable


def int_at_least(minimum: int, what: str = "") -> Callable[[str], int]:
    """An argparse `type` accepting whole numbers >= minimum; `what` names the value in the message."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {minimum}, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what or 'a number'} of at least {minimum}, not {value}")
        return value

    return parse
