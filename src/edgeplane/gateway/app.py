"""The gateway: the request path, top to bottom, in one place.

    context -> observe -> limits -> router -> dispatch

Each stage is a raw ASGI callable built once from config; the hot path does no config parsing.
Later issues insert security, rate limiting and cache between limits and router.
"""

from __future__ import annotations

from edgeplane.config.server import ServerConfig
from edgeplane.gateway.stages.context import Context, ContextConfig
from edgeplane.gateway.stages.dispatch import Dispatch, DispatchConfig
from edgeplane.gateway.stages.limits import Limits, LimitsConfig
from edgeplane.gateway.stages.observe import GatewayStats, Observe
from edgeplane.gateway.stages.router import RouteHolder, Router
from edgeplane.gateway.types import ASGIApp, Receive, Scope, Send

__all__ = ["Gateway"]


class Gateway:
    """The composed data-plane app plus the shared state the control plane updates."""

    def __init__(self, config: ServerConfig) -> None:
        self.routes = RouteHolder()
        self.stats = GatewayStats()
        app: ASGIApp = Dispatch(None, DispatchConfig(colo=config.colo, upstream_timeout=config.upstream_timeout))
        app = Router(app, self.routes)
        app = Limits(app, LimitsConfig(config.max_header_bytes, config.max_body_bytes))
        app = Observe(app, self.stats, expose_version=config.expose_version_header)
        app = Context(app, ContextConfig(config.colo, config.country_header, config.client_ip_header))
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1003})
            return
        await self.app(scope, receive, send)
