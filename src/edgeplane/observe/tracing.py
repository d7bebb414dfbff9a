"""OpenTelemetry traces of gateway requests, exported over OTLP/HTTP (JSON) without the OpenTelemetry SDK.

Why no SDK: its span objects, context propagation and processors cost tens of µs per request on a path whose
whole budget is about that; a gateway request is one server span and one proxy span, so a slotted object and
a list are enough. With ``[server.observe.tracing] otlp_endpoint`` unset nothing is installed, and the request
path pays one ``is None`` check per stage that records a timing.

Each sampled request becomes:

- a SERVER span (``GET /v1/*``) from request received to response sent, with ``http.*`` and ``edgeplane.*``
  attributes and the events ``routed`` and ``upstream.response_headers``;
- a CLIENT span (``proxy app/env``, its child) from routing done to the end: its id is the parent in the
  ``traceparent`` the gateway sends to the worker, so the app's own spans join the trace.

A sampled incoming ``traceparent`` is continued (always traced); otherwise ``sample`` decides whether a new trace
starts. Spans are batched (up to 512 spans, or every second) and POSTed with retries; the queue is bounded, and
spans that do not fit or whose batch failed every attempt are dropped and counted (``edgeplane_trace_spans_total``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from edgeplane import __version__
from edgeplane.gateway.types import RequestContext, Scope

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["OTLPExporter", "Span", "SpanEncoder", "Tracer", "Tracing", "parse_traceparent", "spans_json"]

log = logging.getLogger("edgeplane.observe.tracing")

TRACEPARENT = b"traceparent"
BATCH_SIZE = 256
"""Requests per POST: each is one or two spans, so a batch holds at most 512 spans."""
EXPORT_INTERVAL = 1.0
MAX_QUEUE = 8 * BATCH_SIZE
ATTEMPTS = 3
BACKOFF = 0.5
TIMEOUT = 5.0
CLOSE_WAIT = 5.0
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
SERVER, CLIENT = 2, 3  # OTLP SpanKind
STATUS_ERROR = 2
SHARED_MAX = 4096

_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def parse_traceparent(value: bytes) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a W3C ``traceparent`` header; None when it is not valid."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest) or not trace_id.strip(b"0") or not parent_id.strip(b"0"):
        return None
    return trace_id.decode(), parent_id.decode(), bool(int(flags, 16) & 1)


class Span:
    """One traced request: ids, then stage timestamps (``time.perf_counter``) as the stages reach them, then
    what the finished request looked like. The router sets ``routed``, dispatch ``upstream_headers``."""

    __slots__ = (
        "app", "client_id", "duration", "env", "host", "method", "parent_id", "path", "request_id", "route",
        "routed", "sink", "span_id", "start", "status", "trace_id", "traceparent", "upstream_headers", "version",
        "wall0",
    )  # fmt: skip

    def __init__(
        self, sink: Callable[[Span], None], trace_id: str, parent_id: str, span_id: str, client_id: str, start: float
    ) -> None:
        self.sink = sink
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.span_id = span_id
        self.client_id = client_id
        self.traceparent = f"00-{trace_id}-{client_id}-01".encode()
        """What the worker receives: this trace, with the proxy span as parent."""
        self.start = start
        self.wall0 = time.time_ns() - int((time.perf_counter() - start) * 1e9)
        """Unix nanoseconds at ``start``."""
        self.routed = 0.0
        self.upstream_headers = 0.0
        self.method = self.path = self.host = self.route = self.app = self.env = self.version = ""
        self.request_id = b""
        self.status = 0
        self.duration = 0.0

    def count(self) -> int:
        """How many OTLP spans this request becomes (the proxy span only when it was routed)."""
        return 2 if self.routed else 1

    def finish(self, scope: Scope, ctx: RequestContext, status: int, latency_ms: float) -> None:
        """Called by the observe stage once the response is sent; hands the span to the exporter."""
        self.method, self.path, self.host, self.route = scope["method"], scope["path"], ctx.host, ctx.route
        target, version = ctx.target, ctx.version
        if target is not None:
            self.app, self.env = target.app, target.env
        if version is not None:
            self.version = version.version_id
        self.request_id = ctx.request_id
        self.status = status
        self.duration = latency_ms / 1000
        self.sink(self)


class Tracer:
    """Decides per request whether it is traced, and starts its span (``ctx.trace``)."""

    def __init__(self, sample: float, sink: Callable[[Span], None], seed: int | None = None) -> None:
        self.sample = sample
        self.sink = sink
        self._random = random.Random(seed)  # ids need to be unique, not secret

    def begin(self, ctx: RequestContext) -> None:
        incoming = ctx.headers.get(TRACEPARENT)
        parent = parse_traceparent(incoming) if incoming else None
        rng = self._random
        if parent is not None and parent[2]:
            trace_id, parent_id = parent[0], parent[1]
        elif self.sample >= 1.0 or rng.random() < self.sample:
            trace_id, parent_id = f"{rng.getrandbits(128) or 1:032x}", ""
        else:
            return
        span_id, client_id = f"{rng.getrandbits(64) or 1:016x}", f"{rng.getrandbits(64) or 1:016x}"
        ctx.trace = Span(self.sink, trace_id, parent_id, span_id, client_id, ctx.start)


# -- OTLP JSON ----------------------------------------------------------------------------------------------
def _str(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _int(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"intValue": str(value)}}  # int64 is a string in OTLP JSON


def _route_path(pattern: str) -> str:
    """The path template of a gateway route pattern (``api.example.com/v1/*`` -> ``/v1/*``); none for the
    fallback."""
    if not pattern or pattern.startswith("("):
        return ""
    return "/" + pattern.split("://", 1)[-1].partition("/")[2]


class SpanEncoder:
    """Turns finished requests into OTLP JSON spans. Attributes that repeat from request to request (method,
    status, host, route, version) are built once and shared, which halves the encoding cost."""

    def __init__(self, colo: str) -> None:
        self.colo = _str("edgeplane.colo", colo)
        self._shared: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        hit = self._shared.get(key)
        if hit is None:
            if len(self._shared) >= SHARED_MAX:  # methods and hosts come from clients: keep it bounded
                self._shared.clear()
            hit = self._shared[key] = build()
        return hit

    def encode(self, s: Span) -> list[dict[str, Any]]:
        """The server span, and the proxy span if the request was routed."""

        def ns(t: float) -> str:
            return str(s.wall0 + int((t - s.start) * 1e9))

        end = ns(s.start + s.duration)
        once = self._once
        status, code = once(("status", s.status), lambda: (
            {"code": STATUS_ERROR, "message": f"HTTP {s.status}"} if s.status >= 500 else {},
            _int("http.response.status_code", s.status)))  # fmt: skip
        name, route = once(("route", s.method, s.route), lambda: _route_attributes(s.method, s.route))
        where = once(("version", s.app, s.env, s.version), lambda: _where(s.app, s.env, s.version))
        attributes = [
            once(("method", s.method), lambda: _str("http.request.method", s.method)), _str("url.path", s.path), code,
            once(("host", s.host), lambda: _str("server.address", s.host)), self.colo,
            _str("edgeplane.request_id", s.request_id.decode()), *route, *(where if s.app else ()),
        ]  # fmt: skip
        events = [{"timeUnixNano": ns(s.routed), "name": "routed"}] if s.routed else []
        headers = [{"timeUnixNano": ns(s.upstream_headers), "name": "upstream.response_headers"}]
        if s.upstream_headers:
            events += headers
        server: dict[str, Any] = {
            "traceId": s.trace_id, "spanId": s.span_id, "name": name, "kind": SERVER,
            "startTimeUnixNano": ns(s.start), "endTimeUnixNano": end, "attributes": attributes, "events": events,
            "status": status,
        }  # fmt: skip
        if s.parent_id:
            server["parentSpanId"] = s.parent_id
        if not s.routed:
            return [server]
        proxy = {
            "traceId": s.trace_id, "spanId": s.client_id, "parentSpanId": s.span_id,
            "name": once(("proxy", s.app, s.env), lambda: f"proxy {s.app}/{s.env}"), "kind": CLIENT,
            "startTimeUnixNano": ns(s.routed), "endTimeUnixNano": end, "attributes": [*where, code],
            "events": headers if s.upstream_headers else [], "status": status,
        }  # fmt: skip
        return [server, proxy]


def _where(app: str, env: str, version: str) -> list[dict[str, Any]]:
    return [_str("edgeplane.app", app), _str("edgeplane.env", env), _str("edgeplane.version", version)]


def _route_attributes(method: str, pattern: str) -> tuple[str, list[dict[str, Any]]]:
    """The server span's name and route attributes for a gateway route pattern."""
    route = _route_path(pattern)
    if not route:
        return method, []
    return f"{method} {route}", [_str("http.route", route), _str("edgeplane.route", pattern)]


def spans_json(s: Span, colo: str) -> list[dict[str, Any]]:
    """The OTLP JSON spans of one finished request (see :class:`SpanEncoder`)."""
    return SpanEncoder(colo).encode(s)


# -- export -------------------------------------------------------------------------------------------------
async def _nap(event: asyncio.Event, seconds: float) -> None:
    """Sleep until ``event`` is set or ``seconds`` pass."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()


class OTLPExporter:
    """Batches finished spans and POSTs them as OTLP/HTTP JSON. ``add`` never blocks and never grows the queue
    past ``max_queue``; a collector that is down costs dropped spans (counted), never a stalled request."""

    def __init__(
        self, endpoint: str, *, colo: str, service_name: str = "edgeplane", headers: Mapping[str, str] | None = None,
        max_queue: int = MAX_QUEUE, batch_size: int = BATCH_SIZE, interval: float = EXPORT_INTERVAL,
        attempts: int = ATTEMPTS, backoff: float = BACKOFF, timeout: float = TIMEOUT,
    ) -> None:  # fmt: skip
        self.endpoint = endpoint
        self.colo = colo
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.max_queue, self.batch_size, self.interval = max_queue, batch_size, interval
        self.attempts, self.backoff, self.timeout = attempts, backoff, timeout
        self.encoder = SpanEncoder(colo)
        self.resource = {"attributes": [_str("service.name", service_name), _str("service.version", __version__),
                                        _str("edgeplane.colo", colo)]}  # fmt: skip
        self.exported = self.dropped = self.failed = 0
        self._queue: list[Span] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def add(self, span: Span) -> None:
        if self._closed or len(self._queue) >= self.max_queue:
            self.dropped += span.count()
            return
        self._queue.append(span)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def counts(self) -> dict[str, int]:
        return {"exported": self.exported, "dropped": self.dropped, "failed": self.failed}

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout)
        self._task = asyncio.create_task(self._run(), name="otlp-export")

    async def close(self) -> None:
        """Send what is queued (one attempt per batch, at most CLOSE_WAIT seconds), then stop."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=CLOSE_WAIT)
            if not done:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self.dropped += sum(s.count() for s in self._queue)
        self._queue.clear()
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while not self._closed:
            await _nap(self._wake, self.interval)
            self._wake.clear()
            await self.flush(1 if self._closed else self.attempts)

    async def flush(self, attempts: int = ATTEMPTS) -> None:
        """Export everything queued now, batch by batch."""
        while self._queue:
            batch = self._queue[: self.batch_size]
            del self._queue[: self.batch_size]
            try:
                await self._send(batch, attempts)
            except Exception:  # a bug in building the payload must not stop the exporter
                log.exception("could not export %d requests' spans", len(batch))
                self.failed += sum(s.count() for s in batch)

    def payload(self, spans: list[dict[str, Any]]) -> dict[str, Any]:
        scope = {"scope": {"name": "edgeplane.gateway", "version": __version__}, "spans": spans}
        return {"resourceSpans": [{"resource": self.resource, "scopeSpans": [scope]}]}

    async def _send(self, batch: list[Span], attempts: int) -> None:
        assert self._client is not None
        encode = self.encoder.encode
        spans = [item for s in batch for item in encode(s)]
        body = orjson.dumps(self.payload(spans))
        problem = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = await self._client.post(self.endpoint, content=body, headers=self.headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                self.exported += len(spans)
                if self._failing:
                    log.info("trace export to %s works again", self.endpoint)
                self._failing = False
                return
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code not in RETRYABLE:
                break
        self.failed += len(spans)
        if not self._failing:  # once per outage, not once per batch
            log.warning("trace export to %s failed (%s); dropping spans until it works", self.endpoint, problem)
        self._failing = True


class Tracing:
    """``control.observe.tracing``: the tracer is installed in the gateway while the platform runs, and only
    when ``otlp_endpoint`` is configured."""

    def __init__(self, control: ControlPlane) -> None:
        settings = control.config.observe.tracing
        self.stats = control.gateway.stats
        self.exporter: OTLPExporter | None = None
        self.tracer: Tracer | None = None
        if settings.otlp_endpoint is not None:
            self.exporter = OTLPExporter(settings.otlp_endpoint, colo=control.config.colo,
                                         service_name=settings.service_name, headers=settings.headers)  # fmt: skip
            self.tracer = Tracer(settings.sample, self.exporter.add)

    async def start(self) -> None:
        if self.exporter is not None:
            await self.exporter.start()
            self.stats.tracer = self.tracer

    async def close(self) -> None:
        if self.exporter is not None:
            self.stats.tracer = None
            await self.exporter.close()

    def counts(self) -> dict[str, int] | None:
        """Spans by result (exported, dropped, failed); None when tracing is off."""
        return None if self.exporter is None else self.exporter.counts()
