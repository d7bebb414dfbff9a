"""From origin responses to cache entries and back: which headers are kept, the variant an origin's ``Vary``
selects, a 304's update (RFC 9111 §4.3.4), the headers a served entry carries, clients' conditional requests."""

from __future__ import annotations

from edgeplane.config.edge import CachePolicy
from edgeplane.edge.cache.freshness import Lifetime, lifetime
from edgeplane.edge.cache.store import CacheEntry

__all__ = [
    "NOT_SERVED",
    "UNSTORED",
    "header_map",
    "new_entry",
    "not_modified",
    "refreshed",
    "served_headers",
    "vary_of",
]

UNSTORED = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"age", b"proxy-connection",
     b"trailer", b"edgeplane-request-id", b"edgeplane-version", b"edgeplane-cache-status", b"set-cookie",
     b"ratelimit", b"ratelimit-policy"}
)  # fmt: skip
"""Not stored: hop-by-hop and framing (set again when served), the gateway's own (the request's id, version,
rate-limit state), and cookies (never replayed)."""
NOT_SERVED = frozenset({b"edgeplane-cache-control"})
"""Stored (a 304's lifetime is computed from it) but never sent to clients: it is meant for edgeplane only."""


def header_map(raw: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> dict[bytes, bytes]:
    """Lowercase name -> value, repeated fields joined with ``, `` (RFC 9110 §5.3): ``Vary: Cookie`` and
    ``Vary: Accept-Encoding`` on two lines mean both."""
    out: dict[bytes, bytes] = {}
    for name, value in raw:
        key = name.lower()
        out[key] = out[key] + b", " + value if key in out else value
    return out


def vary_of(headers: dict[bytes, bytes], policy: CachePolicy | None) -> tuple[bytes, ...] | None:
    """Request headers that select the variant (the origin's ``Vary`` plus the policy's); None for ``Vary: *``."""
    names = [n.strip().lower() for n in headers.get(b"vary", b"").split(b",") if n.strip()]
    if b"*" in names:
        return None
    if policy is not None:
        names += [v.lower().encode("latin-1") for v in policy.vary]
    return tuple(sorted(set(names)))


def new_entry(
    status: int, raw: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...], body: bytes, life: Lifetime,
    stored: float, url: str, policy: CachePolicy | None, vary: tuple[bytes, ...],
) -> CacheEntry:  # fmt: skip
    headers = header_map(raw)
    kept = tuple((k, v) for k, v in raw if k.lower() not in UNSTORED)
    tags = {t.strip() for t in headers.get(b"cache-tag", b"").decode("latin-1").split(",") if t.strip()}
    if policy is not None:
        tags |= set(policy.tags)
    fresh_until = stored + life.fresh
    try:
        origin_age = max(0.0, float(headers.get(b"age", b"0")))
    except ValueError:
        origin_age = 0.0
    return CacheEntry.make(
        status, kept, body, stored, fresh_until, fresh_until + life.swr, fresh_until + life.sie, url,
        frozenset(tags), headers.get(b"etag", b""), headers.get(b"last-modified", b""), vary, origin_age,
        life.must_revalidate,
    )  # fmt: skip


def refreshed(
    entry: CacheEntry, update: list[tuple[bytes, bytes]], policy: CachePolicy | None, authorized: bool, now: float
) -> CacheEntry | None:
    """``entry`` after a 304: its headers updated by the 304's, aged from ``now``; None when the updated headers
    forbid storing it."""
    fresh = {k.lower(): v for k, v in update if k.lower() not in UNSTORED}
    merged = tuple((k, v) for k, v in entry.headers if k.lower() not in fresh) + tuple(fresh.items())
    life = lifetime(entry.status, header_map(merged), policy, authorized=authorized, now=now)
    if not life.store:
        return None
    return new_entry(entry.status, merged, entry.body, life, now, entry.url, policy, entry.vary)


def served_headers(entry: CacheEntry, policy: CachePolicy | None) -> list[tuple[bytes, bytes]]:
    """The stored headers as clients get them: without ours, with the policy's ``browser_ttl``."""
    browser_ttl = policy.browser_ttl if policy is not None else None
    if browser_ttl is None:
        return [(k, v) for k, v in entry.headers if k.lower() not in NOT_SERVED]
    replaced = NOT_SERVED | {b"cache-control", b"expires"}
    out = [(k, v) for k, v in entry.headers if k.lower() not in replaced]
    out.append((b"cache-control", b"max-age=%d" % int(browser_ttl)))
    return out


def not_modified(headers: dict[bytes, bytes], entry: CacheEntry) -> bool:
    """Whether the client's own conditional request is answered by ``entry`` with 304 (RFC 9110 §13.2.2)."""
    if entry.status != 200:
        return False
    inm = headers.get(b"if-none-match")
    if inm is not None:
        if not entry.etag:
            return False
        tags = {t.strip().removeprefix(b"W/") for t in inm.split(b",")}
        return b"*" in tags or entry.etag.removeprefix(b"W/") in tags
    ims = headers.get(b"if-modified-since")
    return ims is not None and bool(entry.last_modified) and ims == entry.last_modified
