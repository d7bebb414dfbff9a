"""``RuleSyntaxError``, the one error a rule expression can fail to compile with, and its ``did you mean`` helper."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["RuleSyntaxError", "did_you_mean"]


class RuleSyntaxError(ValueError):
    """An expression that does not compile. ``column`` (1-based, counted in characters from the start of the
    expression, a newline counting as one) points at the mistake; ``message`` says what is wrong and the fix."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(column, message)
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the candidate closest to ``word``, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
