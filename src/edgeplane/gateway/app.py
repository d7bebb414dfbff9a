"""The gateway: the request path, top to bottom, in one place.

    health -> context -> observe -> objects -> limits -> router -> headers -> security -> ratelimit -> cache
           -> dispatch

Each stage is a raw ASGI callable built once from config; the hot path does no config parsing. The server
runs with lifespan and WebSocket support off, so every scope the stages see is ``http``.
Fresh cache hits of GET and HEAD requests take a shortcut through the same stages, synchronously, without the
ASGI cycle (``hits.py``, served from the HTTP protocol in ``protocol.py``).
The edge stages come after the router: their policies belong to the app version serving the request
(``VersionTarget.edge``), so a canary carries its own WAF rules and cache entries (the version is part of
the cache key: a rollback never serves the bad version's responses).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from edgeplane.bindings.kv import sqlite as sqlite_kv
from edgeplane.config.server import ServerConfig
from edgeplane.edge.bots import BotScorer, Challenge
from edgeplane.edge.cache.store import SharedTier
from edgeplane.edge.geoip import GeoIP
from edgeplane.edge.ratelimit import Limiter, LocalLimiter, RedisLimiter
from edgeplane.gateway.hits import HitPath
from edgeplane.gateway.stages.cache import Cache, HttpCache
from edgeplane.gateway.stages.context import Context, ContextConfig
from edgeplane.gateway.stages.dispatch import Dispatch, DispatchConfig
from edgeplane.gateway.stages.headers import ResponseHeaders
from edgeplane.gateway.stages.health import HealthEndpoint
from edgeplane.gateway.stages.limits import Limits, LimitsConfig
from edgeplane.gateway.stages.objects import PresignedObjects
from edgeplane.gateway.stages.observe import GatewayStats, Observe
from edgeplane.gateway.stages.ratelimit import RateLimit
from edgeplane.gateway.stages.router import RouteHolder, Router
from edgeplane.gateway.stages.security import Security
from edgeplane.gateway.types import ASGIApp

__all__ = ["Gateway"]


class Gateway:
    """The composed data-plane app plus the shared state the control plane updates."""

    def __init__(self, config: ServerConfig) -> None:
        self.routes = RouteHolder()
        self.secret: Callable[[], bytes] = _no_secret
        """The platform secret (the control plane sets it); challenge cookies are signed with a key from it."""
        self._challenge_key: Challenge | None = None
        self.stats = GatewayStats()
        self.cache = HttpCache(config.edge, _shared_tier(config))
        app: ASGIApp = Dispatch(None, DispatchConfig(colo=config.colo, upstream_timeout=config.upstream_timeout))
        app = cache = Cache(app, self.cache)
        self.limiter = _limiter(config)
        app = RateLimit(app, self.limiter)
        self.bots = BotScorer()
        app = security = Security(app, self.bots, self._challenge)
        app = ResponseHeaders(app)
        app = router = Router(app, self.routes)
        app = limits = Limits(app, LimitsConfig(config.max_header_bytes, config.max_body_bytes))
        app = self.objects = PresignedObjects(app)
        app = observe = Observe(app, self.stats)
        geoip = GeoIP(config.edge.geoip_database) if config.edge.geoip_database is not None else None
        app = context = Context(app, ContextConfig(config.colo, config.country_header, config.client_ip_header, geoip))
        app = self.health = HealthEndpoint(app)
        self.hits = HitPath(self.stats, context, limits, router, security, cache, observe)
        self.hits.enabled = config.edge.hit_path
        """Fresh cache hits answered by the HTTP protocol itself (gateway/hits.py, gateway/protocol.py)."""
        self.app = app

    def _challenge(self) -> Challenge:
        if self._challenge_key is None:
            key = hmac.new(self.secret(), b"edgeplane bot challenge", hashlib.sha256).digest()
            self._challenge_key = Challenge(key)
        return self._challenge_key


def _no_secret() -> bytes:
    raise RuntimeError("the gateway has no platform secret yet (the control plane sets Gateway.secret)")


def _shared_tier(config: ServerConfig) -> SharedTier | None:
    """The cache's shared tier: a SQLite file in ``data_dir`` (the gateway processes of one machine) or Redis."""
    edge = config.edge
    if edge.cache_shared == "none":
        return None
    if edge.cache_shared == "redis":
        from edgeplane.bindings.kv import redis as redis_kv

        return SharedTier(redis_kv.from_config("edge-cache", config.data_dir, edge.redis_url))
    return SharedTier(sqlite_kv.Backend(config.data_dir / "cache" / "shared.sqlite3"))


def _limiter(config: ServerConfig) -> Limiter:
    """Rate-limit counters: in this process, or in Redis when several gateway processes/nodes share limits."""
    edge = config.edge
    if edge.rate_limits == "redis":
        assert edge.redis_url is not None  # checked by EdgeServerSettings
        return RedisLimiter(edge.redis_url, on_error=edge.rate_limit_on_error)
    return LocalLimiter()
