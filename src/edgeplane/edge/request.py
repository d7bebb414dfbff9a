"""``EdgeRequest``: one request as the edge policies see it (WAF rules, managed rules, access, rate limits, cache).

Built once per request by the gateway from the ASGI scope and the request context; everything beyond the
method, host and path is computed on first use, so a policy that reads only the path pays only for the path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import unquote

__all__ = ["EdgeRequest", "Identity", "parse_cookies"]


def parse_cookies(header: str) -> dict[str, str]:
    """``a=1; b=2`` -> ``{"a": "1", "b": "2"}`` (a ``Cookie`` header's pairs; the last of a repeated name wins)."""
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent the request, as a validated JWT says (``None`` on the request when anonymous)."""

    user_id: str
    tier: str = "authenticated"
    """``authenticated`` unless the token's tier claim names another (``premium``, ``admin``…)."""
    email: str = ""
    mfa: bool = False
    claims: dict[str, Any] = field(default_factory=dict)


class EdgeRequest:
    """The request's fields. ``headers`` maps lowercase header names to raw values (the last one wins, as in
    the request context); ``all_headers`` keeps every (name, value) pair in arrival order."""

    def __init__(
        self,
        method: str,
        host: str,
        path: str,
        raw_query: bytes,
        headers: dict[bytes, bytes],
        all_headers: list[tuple[bytes, bytes]],
        ip: str,
        country: str = "",
        body: bytes = b"",
    ) -> None:
        self.method = method
        self.host = host
        self.path = path
        """The decoded path (``/a b``), as ASGI gives it."""
        self.raw_query = raw_query
        self.headers = headers
        self.all_headers = all_headers
        self.ip = ip
        self.country = country
        """ISO 3166-1 alpha-2, upper case; empty when unknown."""
        self.body = body
        """The request body as far as the security stage read it (up to its inspection limit); empty if none."""
        self.identity: Identity | None = None
        self.bot_score = 99
        """1 (certainly automated) … 99 (certainly human), as the bot scorer decides; 99 until it ran."""

    @cached_property
    def query(self) -> str:
        """The raw query string (no ``?``), percent-decoded once."""
        return unquote(self.raw_query.decode("latin-1"), errors="replace") if self.raw_query else ""

    @cached_property
    def uri(self) -> str:
        """Path plus ``?query`` (decoded), like ``http.request.uri``."""
        return f"{self.path}?{self.query}" if self.raw_query else self.path

    @cached_property
    def user_agent(self) -> str:
        return self.headers.get(b"user-agent", b"").decode("latin-1")

    @cached_property
    def cookie(self) -> str:
        return self.headers.get(b"cookie", b"").decode("latin-1")

    @cached_property
    def cookies(self) -> dict[str, str]:
        return parse_cookies(self.cookie)

    def header(self, name: str) -> str:
        """One request header's value (``""`` when absent); ``name`` in any case."""
        return self.headers.get(name.lower().encode("latin-1"), b"").decode("latin-1")

    def header_values(self, name: str) -> list[str]:
        """Every value of one request header, in order."""
        key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self.all_headers if k == key]
