"""RFC 9111 for a shared cache: may a response be stored, for how long is it fresh, how long may it be served
stale (RFC 5861). Pure functions of the response headers and the matching cache policy.

Which header speaks, most specific first (RFC 9213 targeted fields): ``Edgeplane-Cache-Control``, then
``CDN-Cache-Control``, then ``Cache-Control`` (``s-maxage`` before ``max-age``), then ``Expires`` - ``Date``.
A policy's ``edge_ttl`` overrides them all; its ``ttl`` applies only when the origin gave no lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from edgeplane.config.edge import CachePolicy

__all__ = ["CACHEABLE_BY_DEFAULT", "Directives", "Lifetime", "lifetime", "parse_directives"]

CACHEABLE_BY_DEFAULT = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
"""Statuses a shared cache may store with heuristic or policy freshness (RFC 9110 §15.1)."""

Directives = dict[str, str | None]


def parse_directives(value: bytes) -> Directives:
    """``public, max-age=60, no-cache="set-cookie"`` -> ``{"public": None, "max-age": "60", "no-cache": ...}``."""
    out: Directives = {}
    for part in value.decode("latin-1").split(","):
        name, sep, arg = part.strip().partition("=")
        if name:
            out[name.lower()] = arg.strip().strip('"') if sep else None
    return out


def _seconds(directives: Directives, name: str) -> float | None:
    raw = directives.get(name)
    if raw is None:
        return None
    try:
        return max(0.0, float(int(raw)))
    except ValueError:
        return 0.0  # RFC 9111 §4.2.1: an invalid value is treated as stale


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How a stored response ages: fresh for ``fresh`` seconds, then servable stale for ``swr`` seconds while
    revalidating and for ``sie`` seconds when the origin fails. ``store`` False: do not store at all."""

    store: bool
    fresh: float = 0.0
    swr: float = 0.0
    sie: float = 0.0
    must_revalidate: bool = False
    reason: str = ""
    """Why it is not stored (for logs and tests): ``no-store``, ``private``, ``set-cookie``, ``status``…"""


NOT_STORED_STATUS = Lifetime(False, reason="status")


def lifetime(
    status: int,
    headers: dict[bytes, bytes],
    policy: CachePolicy | None,
    *,
    authorized: bool,
    now: float,
) -> Lifetime:
    """Storability and lifetime of one response (``headers``: lowercase names, last value wins).
    ``authorized``: the request carried ``Authorization``."""
    targeted = headers.get(b"edgeplane-cache-control") or headers.get(b"cdn-cache-control")
    # a targeted field, when present, replaces Cache-Control for us (RFC 9213 §2.1)
    d = parse_directives(targeted if targeted is not None else headers.get(b"cache-control", b""))
    refused = _refusal(d, headers, policy, authorized)
    if refused:
        return Lifetime(False, reason=refused)
    explicit = _explicit(d, headers, targeted is not None, now)
    fresh = explicit
    if policy is not None and policy.edge_ttl is not None:
        fresh = policy.edge_ttl
    elif fresh is None and policy is not None and policy.ttl is not None:
        fresh = policy.ttl
    if fresh is None:
        return Lifetime(False, reason="no lifetime")
    if status not in CACHEABLE_BY_DEFAULT and explicit is None:
        return NOT_STORED_STATUS
    if "no-cache" in d and d["no-cache"] is None:
        return Lifetime(True, 0.0, 0.0, 0.0, True)  # storable, but every use is revalidated, never stale
    if "must-revalidate" in d or "proxy-revalidate" in d:
        return Lifetime(True, fresh, 0.0, 0.0, True)  # RFC 9111 §5.2.2.2: never served stale
    swr = _seconds(d, "stale-while-revalidate")
    sie = _seconds(d, "stale-if-error")
    if policy is not None:
        swr = policy.stale_while_revalidate if swr is None else swr
        sie = policy.stale_if_error if sie is None else sie
    return Lifetime(True, fresh, swr or 0.0, sie or 0.0)


def _refusal(d: Directives, headers: dict[bytes, bytes], policy: CachePolicy | None, authorized: bool) -> str:
    """Why a shared cache must not store the response (empty: it may)."""
    allow_private = policy is not None and policy.private
    if "no-store" in d:
        return "no-store"
    if allow_private:
        return ""
    if "private" in d:
        return "private"
    if b"set-cookie" in headers:
        return "set-cookie"
    if authorized and not ("public" in d or "s-maxage" in d or "must-revalidate" in d):
        return "authorization"  # RFC 9111 §3.5
    return ""


def _explicit(d: Directives, headers: dict[bytes, bytes], targeted: bool, now: float) -> float | None:
    """The origin's own freshness lifetime, or None when it gave none; ``Expires`` counts from ``Date``, or from
    ``now`` when the response has none (RFC 9110 §6.6.1: the recipient's clock)."""
    if not targeted:
        shared = _seconds(d, "s-maxage")
        if shared is not None:
            return shared
    age = _seconds(d, "max-age")
    if age is not None:
        return age
    expires = headers.get(b"expires")
    if expires is None or targeted:
        return None
    try:
        until = parsedate_to_datetime(expires.decode("latin-1")).timestamp()
        date = headers.get(b"date")
        base = parsedate_to_datetime(date.decode("latin-1")).timestamp() if date else now
    except (ValueError, TypeError):
        return 0.0  # an invalid Expires means "already expired" (RFC 9111 §5.3)
    return max(0.0, until - base)
