"""Stage 2 (and the last word on the way back): status, latency and bytes of every request.

This issue keeps in-memory counters per (app, env, version, status class) and calls registered observers;
the analytics, metrics and delivery-judge issues extend it through ``GatewayStats.observers``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from edgeplane.gateway.types import ASGIApp, Receive, RequestContext, Scope, Send

__all__ = ["GatewayStats", "Observe", "RequestRecord"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    request_id: str
    app: str
    env: str
    version_id: str
    method: str
    path: str
    status: int
    latency_ms: float
    bytes_out: int
    client_ip: str
    country: str


@dataclass
class GatewayStats:
    """Request counts by (app, env, version, status class) plus observer callbacks."""

    counts: defaultdict[tuple[str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    observers: list[Callable[[RequestRecord], None]] = field(default_factory=list)


class Observe:
    """Records every request once it is done. Whatever answers (dispatch, or a stage's error) sets
    ``ctx.status`` and ``ctx.bytes_out`` and adds the response headers, so ``send`` is not wrapped: a
    per-request closure around every message costs more than everything this stage does."""

    def __init__(self, app: ASGIApp, stats: GatewayStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            self._record(scope, scope["edgeplane"])

    def _record(self, scope: Scope, ctx: RequestContext) -> None:
        target, version = ctx.target, ctx.version
        app = target.app if target else ""
        env = target.env if target else ""
        vid = version.version_id if version else ""
        status = ctx.status or 499
        self.stats.counts[(app, env, vid, f"{status // 100}xx")] += 1
        if not self.stats.observers:
            return
        record = RequestRecord(
            request_id=ctx.request_id.decode(),
            app=app,
            env=env,
            version_id=vid,
            method=scope["method"],
            path=scope["path"],
            status=status,
            latency_ms=(time.perf_counter() - ctx.start) * 1000,
            bytes_out=ctx.bytes_out,
            client_ip=ctx.client_ip.decode("latin-1"),
            country=ctx.country.decode("latin-1"),
        )
        for observer in self.stats.observers:
            observer(record)
