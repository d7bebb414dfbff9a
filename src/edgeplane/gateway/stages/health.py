"""Stage 0: ``GET /_edgeplane/health`` answered by the gateway itself, on any host, never routed to an app.

It comes before every other stage so load balancers' checks cost one path comparison, and are neither counted
in request metrics and analytics nor traced. The report is the control plane's cached health (at most one
backend check per second however often this is called), without details.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from edgeplane.gateway.types import ASGIApp, Receive, Scope, Send

__all__ = ["PATH", "HealthEndpoint"]

PATH = "/_edgeplane/health"
log = logging.getLogger("edgeplane.gateway")

Report = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


class HealthEndpoint:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.report: Report | None = None
        """Set by the platform: () -> (HTTP status, body). Until then the node answers 503 (not ready)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        status: int
        body: dict[str, Any]
        if scope["method"] not in ("GET", "HEAD"):
            status, body = 405, {"error": {"code": "method_not_allowed", "message": "use GET or HEAD"}}
        elif self.report is None:
            status, body = 503, {"status": "unhealthy", "error": "starting"}
        else:
            try:
                status, body = await self.report()
            except Exception:  # checks report their own failures: this is a bug; answer, never a bare 500
                log.exception("health report failed")
                status, body = 503, {"status": "unhealthy", "error": "the health check itself failed; see the log"}
        data = orjson.dumps(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                   (b"cache-control", b"no-store")]  # fmt: skip
        if status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else data})
