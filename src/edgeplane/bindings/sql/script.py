"""Splitting a SQL script into statements (for ``exec``, ``d1 execute --file`` and migrations)."""

from __future__ import annotations

import re
import sqlite3

__all__ = ["split_statements"]

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def split_statements(script: str) -> list[str]:
    """Complete statements of ``script``, comment-only pieces dropped. ``sqlite3.complete_statement`` respects
    strings, comments and trigger bodies, so a ';' inside them does not end a statement."""
    pieces, start = [], 0
    for i, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : i + 1]):
            pieces.append(script[start : i + 1])
            start = i + 1
    pieces.append(script[start:])
    return [p.strip() for p in pieces if _COMMENTS.sub("", p).strip()]
