"""The fields and functions of the rules language: each field's type and the Python expression that reads it
from an ``EdgeRequest`` named ``r``; each function's argument types and the Python it compiles to.

Values have one of five kinds: ``string``, ``int``, ``bool``, ``ip`` (compiled to an ``(version, int)`` key) and
``array`` (a list of strings, usable only under ``[*]`` inside ``any()``/``all()``, or with ``len()``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AGGREGATES",
    "BODY_FIELDS",
    "BOT_FIELDS",
    "FIELDS",
    "FUNCTIONS",
    "IDENTITY_FIELDS",
    "KIND_NAMES",
    "FieldSpec",
    "FunctionSpec",
    "Kind",
]

Kind = Literal["string", "int", "bool", "ip", "array"]
KIND_NAMES: dict[Kind, str] = {
    "string": "a string",
    "int": "an integer",
    "bool": "a boolean",
    "ip": "an IP address",
    "array": "an array",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: Kind
    code: str
    """Python reading the field from ``r``. Indexed fields format in ``{key}`` and ``{bkey}`` (the index as a
    ``repr``'d str, and lower-cased bytes), never the raw index text."""
    indexed: bool = False
    each: str | None = None
    """Python for the array ``[*]`` walks, for the fields that are (or index into) arrays."""


def _identity(attribute: str, anonymous: str) -> str:
    return f"(r.identity.{attribute} if r.identity is not None else {anonymous!r})"


FIELDS: dict[str, FieldSpec] = {
    "http.request.uri.path": FieldSpec("string", "r.path"),
    "http.request.uri.query": FieldSpec("string", "r.query"),
    "http.request.uri": FieldSpec("string", "r.uri"),
    "http.request.full_uri": FieldSpec("string", "('http://' + r.host + r.uri)"),
    "http.request.method": FieldSpec("string", "r.method"),
    "http.host": FieldSpec("string", "r.host"),
    "http.user_agent": FieldSpec("string", "r.user_agent"),
    "http.referer": FieldSpec("string", "r.headers.get(b'referer', b'').decode('latin-1')"),
    "http.cookie": FieldSpec("string", "r.cookie"),
    "http.request.cookies": FieldSpec("string", "r.cookies.get({key}, '')", indexed=True),
    "http.request.headers": FieldSpec(
        "string", "r.headers.get({bkey}, b'').decode('latin-1')", indexed=True, each="r.header_values({key})"
    ),
    "http.request.headers.names": FieldSpec("array", "_header_names(r)", each="_header_names(r)"),
    "http.request.body.raw": FieldSpec("string", "r.body.decode('latin-1')"),
    "http.request.body.size": FieldSpec("int", "len(r.body)"),
    "ip.src": FieldSpec("ip", "_ip_key(r.ip)"),
    "ip.geoip.country": FieldSpec("string", "r.country"),
    "cf.bot_management.score": FieldSpec("int", "r.bot_score"),
    "edgeplane.user.id": FieldSpec("string", _identity("user_id", "")),
    "edgeplane.user.tier": FieldSpec("string", _identity("tier", "anonymous")),
    "edgeplane.user.email": FieldSpec("string", _identity("email", "")),
    "edgeplane.user.mfa": FieldSpec("bool", "(r.identity is not None and r.identity.mfa)"),
    "edgeplane.user.authenticated": FieldSpec("bool", "(r.identity is not None)"),
}

BODY_FIELDS = frozenset({"http.request.body.raw", "http.request.body.size"})
"""Fields that need the request body read before the rule runs."""
IDENTITY_FIELDS = frozenset(name for name in FIELDS if name.startswith("edgeplane.user."))
"""Fields that need the JWT validated before the rule runs."""
BOT_FIELDS = frozenset({"cf.bot_management.score"})
"""Fields that need the bot scorer to have run."""


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    params: tuple[frozenset[Kind], ...]
    """The kinds each argument accepts; with ``variadic`` the last entry repeats."""
    result: Kind
    build: Callable[[list[str]], str]
    """Python for the call, from the arguments' Python."""
    variadic: bool = False


_STRING: frozenset[Kind] = frozenset({"string"})

FUNCTIONS: dict[str, FunctionSpec] = {
    "lower": FunctionSpec((_STRING,), "string", lambda a: f"{a[0]}.lower()"),
    "upper": FunctionSpec((_STRING,), "string", lambda a: f"{a[0]}.upper()"),
    "starts_with": FunctionSpec((_STRING, _STRING), "bool", lambda a: f"{a[0]}.startswith({a[1]})"),
    "ends_with": FunctionSpec((_STRING, _STRING), "bool", lambda a: f"{a[0]}.endswith({a[1]})"),
    "len": FunctionSpec((frozenset({"string", "array"}),), "int", lambda a: f"len({a[0]})"),
    "url_decode": FunctionSpec((_STRING,), "string", lambda a: f"_url_decode({a[0]})"),
    "concat": FunctionSpec((_STRING, _STRING), "string", lambda a: f"({' + '.join(a)})", variadic=True),
}
AGGREGATES = frozenset({"any", "all"})
"""``any(cond)`` / ``all(cond)``: ``cond`` reads one array through ``[*]`` and is checked for each element."""
