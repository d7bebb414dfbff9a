"""The hit path: a GET or HEAD the memory tier holds a fresh entry for, answered without the ASGI cycle.

    context -> limits -> router -> security -> (no rate limit counts it) -> cache: fresh in memory -> answer

It runs the same stage code as the regular path (``Context.begin``, ``Router.route``, ``Security.passes``,
``Cache.fresh_hit``, ``Observe.record``), in the same order, synchronously, from the HTTP protocol's parser
callback (gateway/protocol.py). Whatever it cannot finish without waiting or without answering something else
than the entry (a body, the health or presigned-object paths, a trace, an unverified token, a block or challenge,
a rate-limited route, a miss, a stale entry) returns None before anything is sent or counted, and the request
takes the regular path from the start. A request that reaches the regular path after ``Security.passes`` has run
on it has had its bot-score rate counted once more and its ``log`` rules' lines written twice; nothing else the
checks do is kept.

Why: the ASGI cycle (a task, message dicts, the server's per-header checks) cost three quarters of a cached
response's time; bench/edge.py measures both paths against NGINX's ``proxy_cache``.
"""

from __future__ import annotations

from typing import Any

from edgeplane.bindings.objects.presign import PREFIX as OBJECTS_PREFIX
from edgeplane.gateway.stages.cache import Cache, Served
from edgeplane.gateway.stages.context import Context
from edgeplane.gateway.stages.headers import additions, with_missing
from edgeplane.gateway.stages.health import PATH as HEALTH_PATH
from edgeplane.gateway.stages.limits import Limits
from edgeplane.gateway.stages.observe import GatewayStats, Observe
from edgeplane.gateway.stages.ratelimit import counts
from edgeplane.gateway.stages.router import Router
from edgeplane.gateway.stages.security import Security
from edgeplane.gateway.stages.view import edge_request
from edgeplane.gateway.types import RequestContext

__all__ = ["HitPath"]

BODY_FIELDS = (b"content-length", b"transfer-encoding")


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

    def answer(self, scope: dict[str, Any]) -> Served | None:
        """The response to ``scope`` (an HTTP scope of a GET or HEAD whose head has been read), or None."""
        ctx = self._routed(scope)
        if ctx is None:
            return None
        edge = ctx.version.edge
        if edge is None or edge.cache is None:
            return None
        scope["edgeplane"] = ctx
        if edge.security is not None and not self.security.passes(edge.security, edge_request(scope, ctx), ctx):
            return None
        if counts(edge.rate_limits, scope, ctx):
            return None
        served = self.cache.fresh_hit(edge.cache, scope, ctx)
        if served is None:
            return None
        if edge.headers is not None:
            served = (served[0], with_missing(served[1], additions(edge.headers, scope, ctx)), served[2])
        self.observe.record(scope, ctx)
        return served

    def _routed(self, scope: dict[str, Any]) -> RequestContext | None:
        """The context of a body-less request routed to a version; None for what only the regular path does."""
        path: str = scope["path"]
        if (
            not self.enabled
            or path == HEALTH_PATH
            or path.startswith(OBJECTS_PREFIX)
            or self.stats.tracer is not None
            or self.limits.headers_too_large(scope["headers"])
        ):
            return None
        ctx = self.context.begin(scope["headers"], scope["client"])
        headers = ctx.headers
        if BODY_FIELDS[0] in headers or BODY_FIELDS[1] in headers or not self.router.route(ctx, path):
            return None
        return ctx
