"""The gateway: the request path, top to bottom, in one place.

    health -> context -> observe -> objects -> limits -> router -> dispatch

Each stage is a raw ASGI callable built once from config; the hot path does no config parsing. The server
runs with lifespan and WebSocket support off, so every scope the stages see is ``http``.
Later issues insert security, rate limiting and cache between limits and router.
"""

from __future__ import annotations

from edgeplane.config.server import ServerConfig
from edgeplane.gateway.stages.context import Context, ContextConfig
from edgeplane.gateway.stages.dispatch import Dispatch, DispatchConfig
from edgeplane.gateway.stages.health import HealthEndpoint
from edgeplane.gateway.stages.limits import Limits, LimitsConfig
from edgeplane.gateway.stages.objects import PresignedObjects
from edgeplane.gateway.stages.observe import GatewayStats, Observe
from edgeplane.gateway.stages.router import RouteHolder, Router
from edgeplane.gateway.types import ASGIApp

__all__ = ["Gateway"]


class Gateway:
    """The composed data-plane app plus the shared state the control plane updates."""

    def __init__(self, config: ServerConfig) -> None:
        self.routes = RouteHolder()
        self.stats = GatewayStats()
        app: ASGIApp = Dispatch(None, DispatchConfig(colo=config.colo, upstream_timeout=config.upstream_timeout))
        app = Router(app, self.routes)
        app = Limits(app, LimitsConfig(config.max_header_bytes, config.max_body_bytes))
        app = self.objects = PresignedObjects(app)
        app = Observe(app, self.stats)
        app = Context(app, ContextConfig(config.colo, config.country_header, config.client_ip_header))
        app = self.health = HealthEndpoint(app)
        self.app = app
