"""The hit path: a GET or HEAD the memory tier holds a fresh entry for, answered without the ASGI cycle.

    context -> limits -> router -> identity -> (no rate limit counts it) -> cache: fresh in memory -> WAF,
    geo and access checks -> answer

It runs the same stage code as the regular path (``Context.begin``, ``Router.route``, ``Security.identified``
and ``passes``, ``Cache.fresh_entry``, ``Observe.record``), synchronously, from the HTTP protocol's parser
callback (gateway/protocol.py). Whatever it cannot finish without waiting or without answering something else
than the entry (a body, the health or presigned-object paths, a trace, a token not verified yet, a block or
challenge, a rate-limited route, a miss, a stale entry) returns None before anything is sent or counted, and the
request takes the regular path from the start. The cache lookup comes before the WAF checks here (it has no
effects but the LRU order) so that a miss does not run them twice; a request blocked after a ``log`` rule matched
has that line written twice, and when a cache policy or rate limit reads the bot score the checks run first and
a miss counts the client's rate twice. A declined request's context (id, client, route, the policies' view of
the request) goes with it to the regular path, which does not compute it again.

Repeated requests: every stage is a function of the request head, the client address and the tables in force,
except a version split chosen at random, the bot score (a rate), challenge cookies and tokens (they expire) and
``log`` rules (they must log each time). So once a head has been answered with none of those involved, the
answer is kept (``_Known``) and a request with the same method, URL, headers and address is served from it while
the routing table, the entry (the same object: a purge or a newer response replaces it) and its freshness last;
the request still gets its own id, age, counters and analytics record.

Why: the ASGI cycle and the stages' per-request work cost three quarters of a cached response's time;
bench/edge.py measures the path against NGINX's ``proxy_cache``.
"""

from __future__ import annotations

import time
import urllib.parse
import weakref
from dataclasses import dataclass
from typing import Any

import httptools

from edgeplane.bindings.objects.presign import PREFIX as OBJECTS_PREFIX
from edgeplane.edge.cache.store import PURGE_HORIZON, CacheEntry
from edgeplane.gateway.routing import DeploymentTarget, RouteTable, VersionTarget
from edgeplane.gateway.stages.cache import Cache, Fresh
from edgeplane.gateway.stages.context import Context
from edgeplane.gateway.stages.headers import additions, with_missing
from edgeplane.gateway.stages.health import PATH as HEALTH_PATH
from edgeplane.gateway.stages.limits import Limits
from edgeplane.gateway.stages.observe import GatewayStats, Observe
from edgeplane.gateway.stages.ratelimit import counts
from edgeplane.gateway.stages.router import VERSION_KEY_HEADER, Router
from edgeplane.gateway.stages.security import Security
from edgeplane.gateway.stages.view import edge_request
from edgeplane.gateway.types import RequestContext

__all__ = ["Answer", "HitPath"]

Answer = tuple[int, bytes, bytes]
"""Status, the header lines (``name: value\\r\\n`` each, without the server's ``date``), body."""
BODY_FIELDS = (b"content-length", b"transfer-encoding")
PER_REQUEST = (b"age", b"edgeplane-request-id")
KNOWN_MAX = 4096
"""Request heads remembered (all forgotten at once when full: a miss costs one regular hit-path run)."""
KNOWN_BYTES = 16 * 1024 * 1024
"""...and the bytes they may take (their request headers may be large)."""
KNOWN_OVERHEAD = 600
"""Bytes a remembered head costs beyond its strings."""


@dataclass(slots=True)
class _Known:
    """What answering one request head found, to answer the same head again. Entries and the routing table are
    held weakly: an evicted or purged entry's body, or a replaced table, is not kept alive by this."""

    table: weakref.ref[RouteTable]
    primary: str
    marker: weakref.ref[CacheEntry] | None
    key: str
    entry: weakref.ref[CacheEntry]
    until: float
    status: int
    head: bytes
    """The header lines but the per-request ones (``PER_REQUEST``)."""
    with_body: bool
    """False for HEAD and 304 answers."""
    scope: dict[str, Any]
    """Method and path, as ``Observe.record`` reads them."""
    headers: dict[bytes, bytes]
    client_ip: bytes
    country: bytes
    host: str
    target: DeploymentTarget
    version: VersionTarget
    route: str
    size: int
    """Bytes of the head and the request it answers, roughly (for the ``KNOWN_BYTES`` bound)."""


class HitPath:
    def __init__(
        self, stats: GatewayStats, context: Context, limits: Limits, router: Router, security: Security,
        cache: Cache, observe: Observe,
    ) -> None:  # fmt: skip
        self.stats = stats
        self.context = context
        self.limits = limits
        self.router = router
        self.security = security
        self.cache = cache
        self.observe = observe
        self.enabled = True
        """Off: every request takes the regular path (tests compare both)."""
        self.known: dict[tuple[Any, ...], _Known] = {}
        self.known_bytes = 0
        self.answered = 0
        """Hits this path answered (the rest of the HIT count went through the regular path)."""
        self.repeated = 0
        """Of those, answered from a remembered head."""
        self.failures = 0
        """Requests on which the hit path raised (a bug; the regular path answered them)."""

    def report(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "answered": self.answered, "repeated": self.repeated,
                "heads": len(self.known), "heads_bytes": self.known_bytes, "failures": self.failures}  # fmt: skip

    def answer(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None
    ) -> Answer | RequestContext | None:
        """The response to a body-less request whose head has been read (``headers`` lowercase); else the context
        made on the way (for the ASGI scope's ``edgeplane``), or None."""
        if not self.enabled or self.stats.tracer is not None:
            return None
        ip = client[0] if client else ""
        key = (url, method, ip, *headers)
        known = self.known.get(key)
        if known is not None:
            again = self._again(known)
            if again is not None:
                self.answered += 1
                self.repeated += 1
                return again
            if self.known.pop(key, None) is not None:  # (gone already when the table changed)
                self.known_bytes -= known.size
        first = self._first(method, url, headers, client, key)
        if isinstance(first, tuple):
            self.answered += 1
        return first

    def _again(self, known: _Known) -> Answer | None:
        start, now = time.perf_counter(), time.time()
        cache = self.cache.cache
        entries = cache.memory.entries
        table = known.table()
        if table is not self.router.routes.table:  # a new routing table: nothing remembered holds
            self._forget()
            return None
        entry = known.entry()
        if (
            entry is None
            or now >= known.until
            or entries.get(known.key) is not entry
            or (known.marker is not None and entries.get(known.primary) is not known.marker())
            or known.primary in cache.uncacheable
        ):
            return None
        entries.move_to_end(known.key)
        if known.marker is not None:
            entries.move_to_end(known.primary)
        cache.count("HIT")
        request_id = self.context.next_id()
        body = entry.body if known.with_body else b""
        observe = self.observe
        latency_ms = observe.count(known.version, known.status, start)
        takers = observe.takers(now) if self.stats.observers else None
        if takers:
            ctx = RequestContext(request_id, known.headers, start)
            ctx.client_ip, ctx.country, ctx.host = known.client_ip, known.country, known.host
            ctx.target, ctx.version, ctx.route = known.target, known.version, known.route
            ctx.status, ctx.bytes_out, ctx.cache_status = known.status, len(body), "HIT"
            observe.offer(takers, now, known.scope, ctx, known.status, latency_ms)
        head = b"%sage: %d\r\nedgeplane-request-id: %s\r\n" % (known.head, entry.age(now), request_id)
        return known.status, head, body

    def _forget(self) -> None:
        self.known.clear()
        self.known_bytes = 0

    def _first(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None,
        key: tuple[Any, ...],
    ) -> Answer | RequestContext | None:  # fmt: skip
        scope = _scope(method, url, headers, client)
        if scope is None:
            return None
        ctx = self._routed(scope)
        if ctx is None or ctx.version is None:
            return ctx
        edge = ctx.version.edge
        if edge is None or edge.cache is None:
            return ctx
        scope["edgeplane"] = ctx
        fresh = self._checked(edge, scope, ctx)
        if fresh is None:
            return ctx
        status, lines, body = self.cache.serve_hit(scope["method"], ctx, fresh)
        if edge.headers is not None:
            lines = with_missing(lines, additions(edge.headers, scope, ctx))
        self.observe.record(scope, ctx)
        if (
            not ctx.security
            and not ctx.security_skip
            and not ctx.user_id
            and (edge.security is None or edge.security.repeatable)
            and (len(ctx.target.versions) == 1 or ctx.headers.get(VERSION_KEY_HEADER))  # empty: a random pick
        ):
            self._remember(key, scope, ctx, fresh, status, _lines(lines, PER_REQUEST), body)
        return status, _lines(lines), body

    def _checked(self, edge: Any, scope: dict[str, Any], ctx: RequestContext) -> Fresh | None:
        """The request's fresh entry, if it has one and passes the version's checks."""
        security = edge.security
        view = edge_request(scope, ctx)
        # the checks with effects (bot-score rates, log lines) run once a fresh entry is known to be there, so a
        # miss does not run them twice; unless the lookup itself reads the bot score, which must be computed first
        early = security is not None and edge.bot_score_first
        if security is not None and not self.security.identified(security, view, ctx):
            return None
        if early and not self.security.passes(security, view, ctx):
            return None
        fresh = None if counts(edge.rate_limits, scope, ctx) else self.cache.fresh_entry(edge.cache, scope, ctx)
        if fresh is None or (security is not None and not early and not self.security.passes(security, view, ctx)):
            return None
        return fresh

    def _remember(
        self, key: tuple[Any, ...], scope: dict[str, Any], ctx: RequestContext, fresh: Fresh, status: int,
        head: bytes, body: bytes,
    ) -> None:  # fmt: skip
        size = len(head) + sum(len(part) for pair in key[3:] for part in pair) + len(key[0]) + KNOWN_OVERHEAD
        if len(self.known) >= KNOWN_MAX or self.known_bytes + size > KNOWN_BYTES:
            self._forget()
        entry = fresh.entry
        until = min(entry.fresh_until, entry.stored + PURGE_HORIZON)
        marker = weakref.ref(fresh.marker) if fresh.marker is not None else None
        self.known[key] = _Known(
            weakref.ref(self.router.routes.table), fresh.primary, marker, fresh.key, weakref.ref(entry), until,
            status, head, bool(body), {"method": scope["method"], "path": scope["path"]}, ctx.headers, ctx.client_ip,
            ctx.country, ctx.host, ctx.target, ctx.version, ctx.route, size,
        )  # fmt: skip
        self.known_bytes += size

    def _routed(self, scope: dict[str, Any]) -> RequestContext | None:
        """The request's context, routed to a version when it has no body and a deployment serves it; None for
        what only the regular path does."""
        path: str = scope["path"]
        if path == HEALTH_PATH or path.startswith(OBJECTS_PREFIX) or self.limits.headers_too_large(scope["headers"]):
            return None
        ctx = self.context.begin(scope["headers"], scope["client"])
        headers = ctx.headers
        if BODY_FIELDS[0] not in headers and BODY_FIELDS[1] not in headers:
            self.router.route(ctx, path)
        return ctx


def _scope(
    method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None
) -> dict[str, Any] | None:
    """The request as the stages read it (the ASGI scope's fields they use), as uvicorn would make it."""
    try:
        parsed = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        return None  # uvicorn's own handling answers it
    raw_path = parsed.path
    path = raw_path.decode("ascii")
    if "%" in path:
        path = urllib.parse.unquote(path)
    return {"type": "http", "method": method.decode(), "path": path, "raw_path": raw_path,
            "query_string": parsed.query or b"", "headers": headers, "client": client}  # fmt: skip


def _lines(headers: list[tuple[bytes, bytes]], leave: tuple[bytes, ...] = ()) -> bytes:
    return b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers if name not in leave)
