"""Stage 4: pick the deployment (host/path routes) and the version (override > sticky key > weights)."""

from __future__ import annotations

import time

from edgeplane.gateway.responses import send_error
from edgeplane.gateway.routing import RouteTable
from edgeplane.gateway.types import ASGIApp, Receive, RequestContext, Scope, Send

__all__ = ["OVERRIDE_HEADER", "VERSION_KEY_HEADER", "RouteHolder", "Router"]

OVERRIDE_HEADER = b"edgeplane-version-override"
VERSION_KEY_HEADER = b"edgeplane-version-key"


class RouteHolder:
    """The current routing table; the control plane replaces ``table`` atomically."""

    def __init__(self) -> None:
        self.table = RouteTable()


class Router:
    def __init__(self, app: ASGIApp, routes: RouteHolder) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["edgeplane"]
        if ctx.target is None and not self.route(ctx, scope["path"]):  # the hit path may have routed it
            await send_error(send, 404, "no_route", f"no deployment serves {ctx.host}{scope['path']}", ctx)
            return
        if ctx.trace is not None:
            ctx.trace.routed = time.perf_counter()
        await self.app(scope, receive, send)

    def route(self, ctx: RequestContext, path: str) -> bool:
        """Set the request's deployment, route pattern and version; False when no deployment serves it."""
        hit = self.routes.table.lookup(ctx.host, path)
        if hit is None:
            return False
        target, ctx.route = hit
        ctx.target = target
        ctx.version = target.choose(ctx.headers.get(OVERRIDE_HEADER), ctx.headers.get(VERSION_KEY_HEADER))
        return True
