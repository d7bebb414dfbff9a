"""Stage: the HTTP cache in front of dispatch (RFC 9111 shared cache, RFC 5861 stale serving).

    lookup (memory, then the shared tier) -> fresh: HIT
                                          -> stale within stale-while-revalidate: STALE + one background refresh
                                          -> stale: ask the origin (conditionally when there is a validator)
                                               304 -> REVALIDATED; 5xx/failure within stale-if-error -> STALE;
                                               else the new response -> EXPIRED
    no entry -> MISS (concurrent misses for one key wait for the first: one origin request)
    not cacheable (method, policy bypass, Authorization without ``private``) -> BYPASS

Every response that went through the stage carries ``Edgeplane-Cache-Status``; served entries carry ``Age``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeplane.config.edge import CachePolicy, EdgeServerSettings
from edgeplane.edge.cache.freshness import Lifetime, lifetime
from edgeplane.edge.cache.keys import DEFAULT_KEY, cache_key, variant_key
from edgeplane.edge.cache.store import CacheEntry, MemoryTier, Purge, PurgeList, SharedTier
from edgeplane.gateway.stages.view import edge_request
from edgeplane.gateway.types import ASGIApp, Message, Receive, RequestContext, Scope, Send

__all__ = ["Cache", "HttpCache"]

log = logging.getLogger("edgeplane.cache")
STATUS = b"edgeplane-cache-status"
# Not stored: hop-by-hop and framing (set again when served), our own headers, the targeted field for us.
UNSTORED = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"age", b"proxy-connection",
     b"trailer", b"edgeplane-cache-control", b"edgeplane-request-id", b"edgeplane-version", b"edgeplane-cache-status"}
)  # fmt: skip
CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since", b"if-range"})
Predicate = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class CacheRules:
    """An app version's ``[cache]`` as the stage uses it: (compiled match, policy) in order."""

    enabled: bool
    policies: tuple[tuple[Predicate, CachePolicy], ...]


class HttpCache:
    """The node's cache: tiers, purges, requests in flight, counters. One per gateway process."""

    def __init__(self, settings: EdgeServerSettings, shared: SharedTier | None = None) -> None:
        self.memory = MemoryTier(settings.cache_memory)
        self.shared = shared
        self.purges = PurgeList()
        self.max_object = settings.cache_max_object
        self.inflight: dict[str, asyncio.Future[CacheEntry | None]] = {}
        self.refreshing: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.counts: dict[str, int] = {}

    async def lookup(self, key: str, now: float) -> CacheEntry | None:
        entry = self.memory.get(key)
        if entry is None and self.shared is not None:
            entry = await self.shared.get(key, now)
            if entry is not None and not self.purges.purged(entry):
                self.memory.put(key, entry)
        if entry is None:
            return None
        if self.purges.purged(entry) or entry.expires() <= now:
            self.memory.delete(key)
            return None
        return entry

    def store(self, key: str, entry: CacheEntry) -> None:
        self.memory.put(key, entry)
        if self.shared is not None:
            self._background(self.shared.put(key, entry))

    def purge(self, purge: Purge) -> int:
        """Apply one purge here (memory) and remember it (shared-tier reads, entries arriving later)."""
        self.purges.add(purge)
        return self.memory.purge(purge)

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def count(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    def stats(self) -> dict[str, Any]:
        hits = sum(self.counts.get(s, 0) for s in ("HIT", "STALE", "REVALIDATED"))
        lookups = hits + sum(self.counts.get(s, 0) for s in ("MISS", "EXPIRED"))
        return {
            "entries": len(self.memory.entries),
            "bytes": self.memory.bytes,
            "capacity": self.memory.capacity,
            "evictions": self.memory.evictions,
            "responses": dict(sorted(self.counts.items())),
            "hit_ratio": round(hits / lookups, 4) if lookups else None,
            "shared": None
            if self.shared is None
            else {"errors": self.shared.errors, "last_error": self.shared.last_error},
            "purges": len(self.purges.items),
        }

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.shared is not None:
            await self.shared.close()


class _Capture:
    """The ``send`` dispatch writes into: keeps what may be stored (up to ``limit`` bytes) and passes the response
    on to the client (``send``; None in a background refresh), unless ``hold(status)`` says to keep it back (a 304
    to our conditional request, a 5xx that stale-if-error may answer instead)."""

    def __init__(
        self, send: Send | None, limit: int, extra: list[tuple[bytes, bytes]],
        hold: Callable[[int], bool] = lambda status: False,
    ) -> None:  # fmt: skip
        self.send = send
        self.limit = limit
        self.extra = extra
        self.hold = hold
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflow = False
        self.held = False
        self.complete = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = message.get("headers", [])
            self.held = self.hold(self.status)
            if not self.held and self.send is not None:
                headers = [h for h in self.headers if h[0] != b"edgeplane-cache-control"] + self.extra
                await self.send({**message, "headers": headers})
            return
        body = message.get("body", b"")
        if not self.overflow:
            self.size += len(body)
            if self.size > self.limit and not self.held:
                self.overflow, self.chunks = True, []
            else:
                self.chunks.append(body)
        if not message.get("more_body", False):
            self.complete = True
        if not self.held and self.send is not None:
            await self.send(message)


class Cache:
    def __init__(self, app: ASGIApp, cache: HttpCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["edgeplane"]
        edge = ctx.version.edge
        rules = edge.cache if edge is not None else None
        if rules is None or not rules.enabled:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        policy = _policy(rules, scope, ctx)
        authorized = b"authorization" in ctx.headers
        if (
            method not in ("GET", "HEAD")
            or b"range" in ctx.headers
            or (policy is not None and policy.bypass)
            or (authorized and (policy is None or not policy.private))
        ):
            await self._bypass(scope, receive, send, ctx)
            return
        key, url = cache_key(
            ctx.version.version_id, ctx.host, scope["path"], scope.get("query_string", b""),
            policy.key if policy is not None else DEFAULT_KEY, ctx.headers, ctx.country,
        )  # fmt: skip
        now = time.time()
        entry = await self.cache.lookup(key, now)
        if entry is not None and entry.status == 0:  # the origin said Vary: look up this request's variant
            key = variant_key(key, entry.vary, ctx.headers)
            entry = await self.cache.lookup(key, now)
        if entry is None:
            await self._miss(scope, receive, send, ctx, policy, key, url, authorized)
        elif now < entry.fresh_until:
            await self._serve(scope, send, ctx, entry, "HIT", now)
        elif now < entry.swr_until:
            self._refresh(scope, ctx, policy, key, url, entry, authorized)
            await self._serve(scope, send, ctx, entry, "STALE", now)
        else:
            await self._revalidate(scope, receive, send, ctx, policy, key, url, entry, authorized)

    async def _bypass(self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
        ctx.cache_status = "BYPASS"
        self.cache.count("BYPASS")

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (STATUS, b"BYPASS")]}
            await send(message)

        await self.app(scope, receive, marked)

    async def _miss(
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, policy: CachePolicy | None,
        key: str, url: str, authorized: bool,
    ) -> None:  # fmt: skip
        waiting = self.cache.inflight.get(key)
        if waiting is not None:  # another request is fetching this key: take its result
            entry = await asyncio.shield(waiting)
            if entry is not None:
                await self._serve(scope, send, ctx, entry, "HIT", time.time())
                return
        future: asyncio.Future[CacheEntry | None] = asyncio.get_running_loop().create_future()
        leader = waiting is None
        if leader:
            self.cache.inflight[key] = future
        ctx.cache_status = "MISS"
        self.cache.count("MISS")
        entry = None
        try:
            capture = _Capture(send, self.cache.max_object, [(STATUS, b"MISS")])
            await self.app(scope, receive, capture)
            entry = self._storable(scope, ctx, policy, key, url, capture, authorized)
        finally:
            if leader:
                del self.cache.inflight[key]
                future.set_result(entry)

    async def _revalidate(
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, policy: CachePolicy | None,
        key: str, url: str, entry: CacheEntry, authorized: bool,
    ) -> None:  # fmt: skip
        conditional = _conditional_scope(scope, entry)
        can_fall_back = time.time() < entry.sie_until
        ctx.cache_status = "EXPIRED"
        capture = _Capture(
            send, self.cache.max_object, [(STATUS, b"EXPIRED")],
            lambda status: status == 304 or (status >= 500 and can_fall_back),
        )  # fmt: skip
        await self.app(conditional, receive, capture)
        now = time.time()
        if capture.held and capture.status >= 500:
            log.info("origin answered %d for %s: serving the stale entry (stale-if-error)", capture.status, url)
            await self._serve(scope, send, ctx, entry, "STALE", now)
        elif capture.held:  # 304: what we have is still current
            fresh = _refreshed(entry, capture.headers, policy, authorized, now)
            if fresh is not None:
                self.cache.store(key, fresh)
            await self._serve(scope, send, ctx, fresh or entry, "REVALIDATED", now)
        else:  # a new response, already on its way to the client
            self.cache.count("EXPIRED")
            self._storable(scope, ctx, policy, key, url, capture, authorized)

    def _refresh(
        self, scope: Scope, ctx: RequestContext, policy: CachePolicy | None, key: str, url: str,
        entry: CacheEntry, authorized: bool,
    ) -> None:  # fmt: skip
        """Start one background revalidation of ``key`` (stale-while-revalidate); a second is not started while
        one runs."""
        if key in self.cache.refreshing:
            return
        self.cache.refreshing.add(key)
        background = _conditional_scope(scope, entry)
        bctx = copy.copy(ctx)
        bctx.request_id = ctx.request_id + b"-r"
        bctx.trace = None
        background["edgeplane"] = bctx

        async def run() -> None:
            try:
                capture = _Capture(None, self.cache.max_object, [])
                await self.app(background, _no_body, capture)
                now = time.time()
                if capture.status == 304:
                    fresh = _refreshed(entry, capture.headers, policy, authorized, now)
                    if fresh is not None:
                        self.cache.store(key, fresh)
                else:
                    self._storable(background, bctx, policy, key, url, capture, authorized)
            except Exception:
                log.warning("background refresh of %s failed", url, exc_info=True)
            finally:
                self.cache.refreshing.discard(key)

        self.cache._background(run())

    def _storable(
        self, scope: Scope, ctx: RequestContext, policy: CachePolicy | None, key: str, url: str,
        capture: _Capture, authorized: bool,
    ) -> CacheEntry | None:  # fmt: skip
        """Store what the origin answered if RFC 9111 and the policy allow; the stored entry, else None."""
        if not capture.complete or capture.overflow or scope["method"] != "GET" or capture.status in (206, 304):
            return None
        headers = dict(capture.headers)
        now = time.time()
        life = lifetime(capture.status, headers, policy, authorized=authorized, now=now)
        if not life.store:
            return None
        vary = _vary(headers, policy)
        if vary is None:
            return None  # Vary: * — every request is different
        entry = _entry(capture.status, capture.headers, b"".join(capture.chunks), life, now, url, headers, policy, vary)
        if vary:
            marker = CacheEntry.make(0, (), b"", now, entry.fresh_until, entry.swr_until, entry.sie_until, url,
                                     entry.tags, b"", b"", vary, 0.0, False)  # fmt: skip
            self.cache.store(key.split("|v:", 1)[0], marker)
            key = variant_key(key.split("|v:", 1)[0], vary, ctx.headers)
        self.cache.store(key, entry)
        return entry

    async def _serve(
        self, scope: Scope, send: Send, ctx: RequestContext, entry: CacheEntry, status: str, now: float
    ) -> None:
        ctx.cache_status = status
        self.cache.count(status)
        ctx.status = entry.status
        headers = list(entry.headers)
        headers += ((b"age", str(entry.age(now)).encode()), (STATUS, status.encode()))
        headers += ctx.response_headers()
        if _not_modified(ctx.headers, entry):
            ctx.status = 304
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers.append((b"content-length", str(len(entry.body)).encode()))
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else entry.body
        ctx.bytes_out = len(body)
        await send({"type": "http.response.body", "body": body})


def _policy(rules: CacheRules, scope: Scope, ctx: RequestContext) -> CachePolicy | None:
    if not rules.policies:
        return None
    view = edge_request(scope, ctx)
    for predicate, policy in rules.policies:
        if predicate(view):
            return policy
    return None


def _vary(headers: dict[bytes, bytes], policy: CachePolicy | None) -> tuple[bytes, ...] | None:
    names = [n.strip().lower() for n in headers.get(b"vary", b"").split(b",") if n.strip()]
    if b"*" in names:
        return None
    if policy is not None:
        names += [v.lower().encode("latin-1") for v in policy.vary]
    names = [n for n in names if n != b"accept-encoding"]  # the gateway never re-encodes: one variant
    return tuple(sorted(set(names)))


def _entry(
    status: int, raw: list[tuple[bytes, bytes]], body: bytes, life: Lifetime, now: float, url: str,
    headers: dict[bytes, bytes], policy: CachePolicy | None, vary: tuple[bytes, ...],
) -> CacheEntry:  # fmt: skip
    kept = [(k, v) for k, v in raw if k not in UNSTORED]
    if policy is not None and policy.browser_ttl is not None:
        kept = [(k, v) for k, v in kept if k not in (b"cache-control", b"expires")]
        kept.append((b"cache-control", b"max-age=%d" % int(policy.browser_ttl)))
    tags = {t.strip() for t in headers.get(b"cache-tag", b"").decode("latin-1").split(",") if t.strip()}
    if policy is not None:
        tags |= set(policy.tags)
    fresh_until = now + life.fresh
    try:
        origin_age = float(headers.get(b"age", b"0"))
    except ValueError:
        origin_age = 0.0
    return CacheEntry.make(
        status, tuple(kept), body, now, fresh_until, fresh_until + life.swr, fresh_until + life.sie, url,
        frozenset(tags), headers.get(b"etag", b""), headers.get(b"last-modified", b""), vary, origin_age,
        life.must_revalidate,
    )  # fmt: skip


def _refreshed(
    entry: CacheEntry, fresh_headers: list[tuple[bytes, bytes]], policy: CachePolicy | None, authorized: bool,
    now: float,
) -> CacheEntry | None:  # fmt: skip
    """The entry after a 304: its headers updated by the 304's (RFC 9111 §4.3.4), aged from now."""
    update = {k: v for k, v in fresh_headers if k not in UNSTORED and k != b"content-length"}
    merged = [(k, v) for k, v in entry.headers if k not in update] + list(update.items())
    headers = dict(merged)
    life = lifetime(entry.status, headers, policy, authorized=authorized, now=now)
    if not life.store:
        return None
    return _entry(entry.status, merged, entry.body, life, now, entry.url, headers, policy, entry.vary)


def _conditional_scope(scope: Scope, entry: CacheEntry) -> Scope:
    """A copy of ``scope`` asking the origin whether ``entry`` is still current."""
    headers = [(k, v) for k, v in scope["headers"] if k not in CONDITIONAL]
    if entry.etag:
        headers.append((b"if-none-match", entry.etag))
    if entry.last_modified:
        headers.append((b"if-modified-since", entry.last_modified))
    return {**scope, "headers": headers, "method": "GET"}


def _not_modified(headers: dict[bytes, bytes], entry: CacheEntry) -> bool:
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


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
