"""Tokenizer of the rules language: names (``http.request.uri.path``, ``and``, ``eq``), quoted and raw strings,
integers, IP addresses and networks, and operators. Columns are kept on every token for error messages.

Strings are ``"..."`` with only ``\\"`` and ``\\\\`` as escapes (as in Cloudflare), or raw: ``r"..."`` and
``r#"..."#`` (any number of ``#``), which take backslashes literally, handy for regexes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from edgeplane.edge.rules.errors import RuleSyntaxError

__all__ = ["Token", "tokenize"]

TokenKind = Literal["name", "string", "int", "ip", "op", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    """The token as written (strings with their quotes)."""
    value: str
    """The decoded string for ``string`` tokens; ``text`` otherwise."""
    start: int
    """0-based offset of the first character in the expression."""
    end: int

    @property
    def column(self) -> int:
        return self.start + 1


_SPACE = re.compile(r"\s+")
_QUOTE_OR_BACKSLASH = re.compile(r'["\\]')
_RAW_OPEN = re.compile(r'r(#*)"')
_PATTERNS: tuple[tuple[TokenKind, re.Pattern[str]], ...] = (
    # Greedy on purpose: a malformed address becomes one token the parser rejects by name.
    ("ip", re.compile(r"[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:/[0-9]+)?")),
    ("ip", re.compile(r"[0-9]+(?:\.[0-9]+){3}(?:/[0-9]+)?")),
    ("int", re.compile(r"[0-9]+")),
    ("name", re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")),
)
_OPS = ("==", "!=", "<=", ">=", "&&", "||", "^^", "..", "<", ">", "~", "!", "(", ")", "{", "}", "[", "]", ",", "*")
_HINTS = {
    "=": "to compare, write '==' or 'eq'",
    "&": "write '&&' or 'and'",
    "|": "write '||' or 'or'",
    "'": 'strings take double quotes: "..."',
    "$": 'named lists ($name) are not supported; write the values in a set: {"a" "b"}',
}


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, ending with an ``end`` token; raises RuleSyntaxError on a character that starts
    no token or an unterminated string."""
    tokens: list[Token] = []
    pos = 0
    while True:
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
        if pos >= len(text):
            tokens.append(Token("end", "", "", len(text), len(text)))
            return tokens
        token = _next_token(text, pos)
        tokens.append(token)
        pos = token.end


def _next_token(text: str, pos: int) -> Token:
    if text[pos] == '"':
        return _quoted(text, pos)
    raw = _RAW_OPEN.match(text, pos)
    if raw:
        return _raw(text, pos, raw.group(1))
    for kind, pattern in _PATTERNS:
        match = pattern.match(text, pos)
        if match:
            return Token(kind, match.group(), match.group(), pos, match.end())
    for op in _OPS:
        if text.startswith(op, pos):
            return Token("op", op, op, pos, pos + len(op))
    hint = _HINTS.get(text[pos])
    raise RuleSyntaxError(pos + 1, f"unexpected character {text[pos]!r}" + (f"; {hint}" if hint else ""))


def _quoted(text: str, start: int) -> Token:
    parts: list[str] = []
    pos = start + 1
    while True:
        special = _QUOTE_OR_BACKSLASH.search(text, pos)
        if special is None or (special.end() == len(text) and special.group() == "\\"):
            raise RuleSyntaxError(start + 1, 'unterminated string: add the closing "')
        parts.append(text[pos : special.start()])
        pos = special.start()
        if special.group() == '"':
            return Token("string", text[start : pos + 1], "".join(parts), start, pos + 1)
        escaped = text[pos + 1]
        if escaped not in '"\\':
            raise RuleSyntaxError(
                pos + 1,
                f"unknown escape '\\{escaped}' in a string: only \\\" and \\\\ are allowed "
                f'(write \\\\{escaped} for a literal backslash, or use a raw string r"...")',
            )
        parts.append(escaped)
        pos += 2


def _raw(text: str, start: int, hashes: str) -> Token:
    body_start = start + len(hashes) + 2
    close = '"' + hashes
    end = text.find(close, body_start)
    if end < 0:
        raise RuleSyntaxError(start + 1, f"unterminated raw string: add the closing {close}")
    return Token("string", text[start : end + len(close)], text[body_start:end], start, end + len(close))
