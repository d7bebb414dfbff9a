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
import collections
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeplane.config.edge import CachePolicy, EdgeServerSettings
from edgeplane.edge.cache.entries import (
    NOT_SERVED,
    header_map,
    new_entry,
    not_modified,
    refreshed,
    served_headers,
    vary_of,
)
from edgeplane.edge.cache.freshness import Lifetime, lifetime
from edgeplane.edge.cache.keys import DEFAULT_KEY, cache_key, variant_key
from edgeplane.edge.cache.store import PURGE_HORIZON, CacheEntry, MemoryTier, Purge, PurgeList, SharedTier
from edgeplane.gateway.stages.view import edge_request
from edgeplane.gateway.types import ASGIApp, Message, Receive, RequestContext, Scope, Send

__all__ = ["Cache", "Fresh", "HttpCache", "Served"]

log = logging.getLogger("edgeplane.cache")
STATUS = b"edgeplane-cache-status"
CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since", b"if-range"})
UNCACHEABLE_FOR = 10.0
"""Seconds a key whose response could not be stored goes straight to the origin."""
UNCACHEABLE_KEYS = 100_000
COALESCE_WAIT = 10.0
"""Seconds a request waits for another's fetch of the same key before fetching for itself."""
Predicate = Callable[[Any], bool]
Served = tuple[int, list[tuple[bytes, bytes]], bytes]
"""A whole response: status, headers, body."""


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
        self.inflight: dict[str, asyncio.Future[tuple[CacheEntry, str] | None]] = {}
        self.refreshing: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.counts: dict[str, int] = {}
        self.uncacheable: collections.OrderedDict[str, float] = collections.OrderedDict()
        """Keys whose last response could not be stored, until when (Varnish's hit-for-miss): their requests go
        straight to the origin, without a shared-tier read or a buffered copy."""

    def pass_through(self, key: str, now: float) -> bool:
        until = self.uncacheable.get(key)
        if until is None:
            return False
        if until > now:
            return True
        del self.uncacheable[key]
        return False

    def remember_uncacheable(self, key: str, now: float) -> None:
        self.uncacheable[key] = now + UNCACHEABLE_FOR
        self.uncacheable.move_to_end(key)
        if len(self.uncacheable) > UNCACHEABLE_KEYS:
            self.uncacheable.popitem(last=False)

    async def lookup(self, key: str, now: float) -> CacheEntry | None:
        """The usable entry of ``key`` in memory, else in the shared tier (then kept in memory too)."""
        entry = self.in_memory(key, now)
        if entry is not None or self.shared is None:
            return entry
        entry = await self.shared.get(key, now)
        if entry is None or self._spent(entry, now):
            return None
        self.memory.put(key, entry)
        return entry

    def in_memory(self, key: str, now: float) -> CacheEntry | None:
        """The usable entry of ``key`` in the memory tier (a purged or expired one is dropped)."""
        entry = self.memory.get(key)
        if entry is not None and self._spent(entry, now):
            self.memory.delete(key)
            return None
        return entry

    def _spent(self, entry: CacheEntry, now: float) -> bool:
        return self.purges.purged(entry) or entry.expires() <= now or entry.stored < now - PURGE_HORIZON

    def store(self, key: str, entry: CacheEntry) -> None:
        self.memory.put(key, entry)
        if self.shared is not None:
            self.background(self.shared.put(key, entry))

    def purge(self, purge: Purge) -> int:
        """Apply one purge here (memory) and remember it (shared-tier reads, entries arriving later)."""
        self.purges.add(purge)
        return self.memory.purge(purge)

    def background(self, coro: Any) -> None:
        """Run ``coro`` on its own; cancelled at ``close``."""
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
            "uncacheable": len(self.uncacheable),
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
        on_start: Callable[[int, list[tuple[bytes, bytes]]], None] | None = None,
    ) -> None:  # fmt: skip
        self.send = send
        self.on_start = on_start
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
            if self.on_start is not None:
                self.on_start(self.status, self.headers)
            if not self.held and self.send is not None:
                headers = [h for h in self.headers if h[0] not in NOT_SERVED] + self.extra
                await self.send({**message, "headers": headers})
            return
        body = message.get("body", b"")
        if not self.overflow and not self.held:  # a held answer (304, 5xx) is never stored or replayed
            self.size += len(body)
            if self.size > self.limit:
                self.overflow, self.chunks = True, []
            else:
                self.chunks.append(body)
        if not message.get("more_body", False):
            self.complete = True
        if not self.held and self.send is not None:
            await self.send(message)


@dataclass(frozen=True, slots=True)
class Fresh:
    """A fresh entry in the memory tier, as the hit path found it."""

    primary: str
    marker: CacheEntry | None
    """The entry at ``primary`` saying the response varies (``Vary``); None when ``key`` is ``primary``."""
    key: str
    entry: CacheEntry
    policy: CachePolicy | None
    now: float


@dataclass(slots=True)
class _Lookup:
    """One request as the cache sees it."""

    scope: Scope
    ctx: RequestContext
    policy: CachePolicy | None
    primary: str
    """The key without a variant (where a ``Vary`` marker lives)."""
    key: str
    """The key of this request's entry (the primary key, or its variant)."""
    url: str
    authorized: bool


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
        if _bypass(method, policy, authorized, ctx):
            await self._pass(scope, receive, send, ctx, "BYPASS")
            return
        primary, url = _key(scope, ctx, policy)
        now = time.time()
        if self.cache.pass_through(primary, now):
            await self._pass(scope, receive, send, ctx)
            return
        key = primary
        entry = await self.cache.lookup(key, now)
        if entry is not None and entry.status == 0:  # the origin said Vary: look up this request's variant
            key = variant_key(primary, entry.vary, ctx.headers)
            entry = await self.cache.lookup(key, now)
        req = _Lookup(scope, ctx, policy, primary, key, url, authorized)
        if entry is not None and now < entry.fresh_until:
            await self._serve(req, send, entry, "HIT", now)
        elif entry is not None and now < entry.swr_until:
            self._refresh(req, entry)
            await self._serve(req, send, entry, "STALE", now)
        elif entry is not None and method == "GET":
            await self._revalidate(req, receive, send, entry)
        else:
            await self._miss(req, receive, send)

    def fresh_entry(self, rules: CacheRules, scope: Scope, ctx: RequestContext) -> Fresh | None:
        """The hit path: the request's fresh entry in the memory tier, or None (the regular path then looks it
        up again, in both tiers, and handles stale entries and misses)."""
        if not rules.enabled:
            return None
        policy = _policy(rules, scope, ctx)
        if _bypass(scope["method"], policy, b"authorization" in ctx.headers, ctx):
            return None
        primary, _ = _key(scope, ctx, policy)
        now = time.time()
        if primary in self.cache.uncacheable:
            return None
        key, marker = primary, None
        entry = self.cache.in_memory(key, now)
        if entry is not None and entry.status == 0:
            key, marker = variant_key(primary, entry.vary, ctx.headers), entry
            entry = self.cache.in_memory(key, now)
        if entry is None or now >= entry.fresh_until:
            return None
        return Fresh(primary, marker, key, entry, policy, now)

    def serve_hit(self, method: str, ctx: RequestContext, fresh: Fresh) -> Served:
        """The response of a fresh entry (``fresh_entry``)."""
        return self._served(method, ctx, fresh.entry, fresh.policy, "HIT", fresh.now)

    async def _pass(
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, status: str = "MISS"
    ) -> None:
        """Straight to the origin and back, marked: not looked up (BYPASS), or a key known not to be storable."""
        ctx.cache_status = status
        self.cache.count(status)
        mark = (STATUS, status.encode())

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] not in NOT_SERVED]
                message = {**message, "headers": [*headers, mark]}
            await send(message)

        await self.app(scope, receive, marked)

    async def _miss(self, req: _Lookup, receive: Receive, send: Send) -> None:
        """Fetch from the origin. Plain GETs for one key share one fetch: the first fetches, the others wait for
        its entry (at most ``COALESCE_WAIT``, and only while it may still be stored) and are served it when it is
        their variant."""
        ctx, scope = req.ctx, req.scope
        plain = scope["method"] == "GET" and not any(k in CONDITIONAL for k in ctx.headers)
        waiting = self.cache.inflight.get(req.primary) if plain else None
        if waiting is not None:
            done, _ = await asyncio.wait({waiting}, timeout=COALESCE_WAIT)
            result = waiting.result() if done else None
            if result is not None:
                entry, key = result
                if not entry.vary or variant_key(req.primary, entry.vary, ctx.headers) == key:
                    await self._serve(req, send, entry, "HIT", time.time())
                    return
        leader = plain and waiting is None
        future: asyncio.Future[tuple[CacheEntry, str] | None] = asyncio.get_running_loop().create_future()
        if leader:
            self.cache.inflight[req.primary] = future

        def release(result: tuple[CacheEntry, str] | None) -> None:
            if leader and not future.done():
                del self.cache.inflight[req.primary]
                future.set_result(result)

        def started(status: int, headers: list[tuple[bytes, bytes]]) -> None:
            if _storable(status, header_map(headers), req, time.time()) is None:
                release(None)  # the others need not wait for a body that will not be stored

        ctx.cache_status = "MISS"
        self.cache.count("MISS")
        fetched = time.time()
        stored: tuple[CacheEntry, str] | None = None
        try:
            capture = _Capture(send, self.cache.max_object, [(STATUS, b"MISS")], on_start=started)
            await self.app(scope, receive, capture)
            stored = self._store(req, capture, fetched)
            if stored is None and capture.complete and plain and capture.status not in (206, 304):
                self.cache.remember_uncacheable(req.primary, time.time())
        finally:
            release(stored)

    async def _revalidate(self, req: _Lookup, receive: Receive, send: Send, entry: CacheEntry) -> None:
        """A stale entry: ask the origin whether it is still current (conditionally when it has a validator)."""
        can_fall_back = time.time() < entry.sie_until
        req.ctx.cache_status = "EXPIRED"
        capture = _Capture(
            send, self.cache.max_object, [(STATUS, b"EXPIRED")],
            lambda status: status == 304 or (status >= 500 and can_fall_back),
        )  # fmt: skip
        fetched = time.time()
        await self.app(_conditional_scope(req.scope, entry), receive, capture)
        now = time.time()
        if capture.held and capture.status >= 500:
            log.info("origin answered %d for %s: serving the stale entry (stale-if-error)", capture.status, req.url)
            await self._serve(req, send, entry, "STALE", now)
        elif capture.held:  # 304: what we have is still current
            fresh = refreshed(entry, capture.headers, req.policy, req.authorized, fetched)
            if fresh is not None:
                self.cache.store(req.key, fresh)
            await self._serve(req, send, fresh or entry, "REVALIDATED", now)
        else:  # a new response, already on its way to the client
            self.cache.count("EXPIRED")
            self._store(req, capture, fetched)

    def _refresh(self, req: _Lookup, entry: CacheEntry) -> None:
        """Start one background revalidation of the entry (stale-while-revalidate); a second is not started
        while one runs."""
        if req.key in self.cache.refreshing:
            return
        self.cache.refreshing.add(req.key)
        background = _conditional_scope(req.scope, entry)
        bctx = copy.copy(req.ctx)
        bctx.request_id = req.ctx.request_id + b"-r"
        bctx.trace = None
        background["edgeplane"] = bctx
        breq = _Lookup(background, bctx, req.policy, req.primary, req.key, req.url, req.authorized)

        async def run() -> None:
            try:
                capture = _Capture(None, self.cache.max_object, [])
                fetched = time.time()
                await self.app(background, _no_body(), capture)
                if capture.status == 304:
                    fresh = refreshed(entry, capture.headers, req.policy, req.authorized, fetched)
                    if fresh is not None:
                        self.cache.store(req.key, fresh)
                else:
                    self._store(breq, capture, fetched)
            except Exception:
                log.warning("background refresh of %s failed", req.url, exc_info=True)
            finally:
                self.cache.refreshing.discard(req.key)

        self.cache.background(run())

    def _store(self, req: _Lookup, capture: _Capture, fetched: float) -> tuple[CacheEntry, str] | None:
        """Store what the origin answered if RFC 9111 and the policy allow: (entry, its key), else None.
        ``fetched``: when the origin request started (a purge made while it ran still applies to it)."""
        if not capture.complete or capture.overflow or req.scope["method"] != "GET":
            return None
        storable = _storable(capture.status, header_map(capture.headers), req, fetched)
        if storable is None:
            return None
        life, vary = storable
        entry = new_entry(capture.status, capture.headers, b"".join(capture.chunks), life, fetched, req.url,
                          req.policy, vary)  # fmt: skip
        key = req.primary
        if vary:
            marker = CacheEntry.make(0, (), b"", fetched, entry.fresh_until, entry.swr_until, entry.sie_until,
                                     req.url, entry.tags, b"", b"", vary, 0.0, False)  # fmt: skip
            self.cache.store(req.primary, marker)
            key = variant_key(req.primary, vary, req.ctx.headers)
        self.cache.store(key, entry)
        self.cache.uncacheable.pop(req.primary, None)
        return entry, key

    async def _serve(self, req: _Lookup, send: Send, entry: CacheEntry, status: str, now: float) -> None:
        code, headers, body = self._served(req.scope["method"], req.ctx, entry, req.policy, status, now)
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _served(
        self, method: str, ctx: RequestContext, entry: CacheEntry, policy: CachePolicy | None, status: str, now: float
    ) -> Served:
        """The response serving ``entry`` (a 304 when the client's own conditional request allows), counted."""
        ctx.cache_status = status
        self.cache.count(status)
        headers = served_headers(entry, policy)
        headers += ((b"age", str(entry.age(now)).encode()), (STATUS, status.encode()))
        headers += ctx.response_headers()
        if not_modified(ctx.headers, entry):
            ctx.status = 304
            return 304, headers, b""
        if entry.status != 204:
            headers.append((b"content-length", str(len(entry.body)).encode()))
        body = b"" if method == "HEAD" else entry.body
        ctx.status, ctx.bytes_out = entry.status, len(body)
        return entry.status, headers, body


def _storable(
    status: int, headers: dict[bytes, bytes], req: _Lookup, now: float
) -> tuple[Lifetime, tuple[bytes, ...]] | None:
    """How long the response lives and the request headers that select its variant; None: not to be stored."""
    if status in (206, 304) or req.scope["method"] != "GET":
        return None
    vary = vary_of(headers, req.policy)
    if vary is None:
        return None  # Vary: * — every request is different
    life = lifetime(status, headers, req.policy, authorized=req.authorized, now=now)
    return (life, vary) if life.store else None


def _bypass(method: str, policy: CachePolicy | None, authorized: bool, ctx: RequestContext) -> bool:
    """Whether the request is not looked up at all (BYPASS)."""
    return (
        method not in ("GET", "HEAD")
        or b"range" in ctx.headers
        or (policy is not None and policy.bypass)
        or (authorized and (policy is None or not policy.private))
    )


def _key(scope: Scope, ctx: RequestContext, policy: CachePolicy | None) -> tuple[str, str]:
    """The request's primary cache key and its URL."""
    return cache_key(
        ctx.version.version_id, ctx.host, scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""), policy.key if policy is not None else DEFAULT_KEY, ctx.headers, ctx.country,
    )  # fmt: skip


def _policy(rules: CacheRules, scope: Scope, ctx: RequestContext) -> CachePolicy | None:
    if not rules.policies:
        return None
    view = edge_request(scope, ctx)
    for predicate, policy in rules.policies:
        if predicate(view):
            return policy
    return None


def _conditional_scope(scope: Scope, entry: CacheEntry) -> Scope:
    """A copy of the GET ``scope`` asking the origin whether ``entry`` is still current."""
    headers = [(k, v) for k, v in scope["headers"] if k not in CONDITIONAL]
    if entry.etag:
        headers.append((b"if-none-match", entry.etag))
    if entry.last_modified:
        headers.append((b"if-modified-since", entry.last_modified))
    return {**scope, "headers": headers}


def _no_body() -> Receive:
    """``receive`` of a background request: an empty body, then nothing (no disconnect) until it is done."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.get_running_loop().create_future()  # never resolves: the "client" never leaves
        raise AssertionError("unreachable")

    return receive
