"""Stage 4: pick the deployment (host/path routes) and the version (override > sticky key > weights)."""

from __future__ import annotations

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
        target = self.routes.table.match(ctx.host, scope["path"])
        if target is None:
            await send_error(send, 404, "no_route", f"no deployment serves {ctx.host}{scope['path']}", ctx)
            return
        ctx.target = target
        ctx.version = target.choose(ctx.headers.get(OVERRIDE_HEADER), ctx.headers.get(VERSION_KEY_HEADER))
        await self.app(scope, receive, send)
