"""The app part of edgeplane.toml: what a worker is and where each environment routes to.

Shaped like wrangler.toml: ``name``, ``main``, ``compatibility_date``, ``[vars]``, ``routes`` and
``[env.NAME]`` tables. ``upstream`` replaces ``main`` for a worker that is an existing HTTP service.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgeplane.config.bindings import (
    AnalyticsDatasetConfig,
    BindingConfig,
    D1DatabaseConfig,
    KVNamespaceConfig,
    R2BucketConfig,
    check_bindings,
)
from edgeplane.config.deploy import DeployConfig
from edgeplane.config.edge import (
    AccessConfig,
    AuthConfig,
    CacheConfig,
    GeoConfig,
    RateLimitRule,
    SecurityHeaders,
    WAFConfig,
)
from edgeplane.config.observe import SLOConfig

__all__ = ["AppConfig", "EnvConfig", "Route", "RuntimeConfig", "parse_route"]

NAME_RE = r"^[a-z0-9][a-z0-9-]{0,62}$"
STANDARD_ENVS = ("development", "staging", "production")


BINDING_TABLES = {
    "kv": "kv_namespaces",
    "d1": "d1_databases",
    "r2": "r2_buckets",
    "analytics": "analytics_engine_datasets",
}
"""Binding kind -> its wrangler.toml-style table name."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Strict):
    """A route pattern ``host/path*`` as in wrangler: ``api.example.com/*``, ``*.localhost/v1/*``."""

    pattern: str
    host: str
    path_prefix: str
    wildcard_host: bool


def parse_route(pattern: str) -> Route:
    """Split ``host[:port]/path[*]`` into a matcher; ports are ignored as Cloudflare does."""
    raw = pattern.strip()
    if raw.startswith(("http://", "https://")):
        raw = raw.split("://", 1)[1]
    host, sep, path = raw.partition("/")
    host = host.split(":", 1)[0].lower()
    if not host or not sep:
        raise ValueError(f"route {pattern!r} must look like 'host/path', e.g. 'api.example.com/*'")
    path = "/" + path
    if "*" in path[:-1]:
        raise ValueError(f"route {pattern!r}: '*' is only allowed at the end of the path")
    wildcard = host.startswith("*")
    if "*" in host[1:] or (wildcard and not host.startswith("*.") and host != "*"):
        raise ValueError(f"route {pattern!r}: a host wildcard must be a leading '*.' (e.g. '*.example.com')")
    prefix = path[:-1] if path.endswith("*") else path
    return Route(pattern=pattern, host=host.removeprefix("*"), path_prefix=prefix, wildcard_host=wildcard)


class RuntimeConfig(_Strict):
    """How each version of this worker runs."""

    pool_size: Annotated[int, Field(ge=1, le=64)] = 2
    """Worker processes per live version."""
    health_check_path: str | None = None
    """Path probed (GET, expects < 500) before a version receives traffic; None checks only readiness."""
    startup_timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    """Seconds a process may take to become healthy before the version is reported as failed."""


def _routes(value: object) -> object:
    if isinstance(value, list):
        return [item.get("pattern") if isinstance(item, dict) else item for item in value]
    return value


def _check_patterns(value: list[str] | str | None) -> list[str] | str | None:
    for pattern in [value] if isinstance(value, str) else value or []:
        parse_route(pattern)
    return value


class EnvConfig(_Strict):
    """One ``[env.NAME]`` table: its routes and vars (vars override the top-level ``[vars]`` per key)."""

    routes: list[str] = []
    route: str | None = None
    vars: dict[str, str | int | float | bool] = {}
    kv_namespaces: list[KVNamespaceConfig] | None = None
    """The environment's own KV namespaces; when absent, the top-level ``[[kv_namespaces]]`` apply."""
    d1_databases: list[D1DatabaseConfig] | None = None
    """The environment's own D1 databases; when absent, the top-level ``[[d1_databases]]`` apply."""
    r2_buckets: list[R2BucketConfig] | None = None
    """The environment's own R2 buckets; when absent, the top-level ``[[r2_buckets]]`` apply."""
    analytics_engine_datasets: list[AnalyticsDatasetConfig] | None = None
    """The environment's own analytics datasets; when absent, the top-level ones apply."""
    deploy: DeployConfig | None = None
    """The environment's own ``[deploy]`` table (strategy, stages, analysis); replaces the top-level one."""

    _norm_routes = field_validator("routes", mode="before")(_routes)
    _valid_routes = field_validator("routes", "route")(_check_patterns)

    def all_routes(self) -> list[Route]:
        patterns = [*self.routes, *([self.route] if self.route else [])]
        return [parse_route(p) for p in patterns]


class AppConfig(_Strict):
    """A worker project: the top of edgeplane.toml."""

    name: Annotated[str, Field(pattern=NAME_RE)]
    main: str | None = None
    """Python file (and optional ``:attribute``, default ``app``) of the ASGI app, relative to the project."""
    upstream: str | None = None
    """URL of an existing HTTP service to proxy to, instead of running ``main``."""
    compatibility_date: str | None = None
    vars: dict[str, str | int | float | bool] = {}
    routes: list[str] = []
    route: str | None = None
    runtime: RuntimeConfig = RuntimeConfig()
    kv_namespaces: list[KVNamespaceConfig] = []
    d1_databases: list[D1DatabaseConfig] = []
    r2_buckets: list[R2BucketConfig] = []
    analytics_engine_datasets: list[AnalyticsDatasetConfig] = []
    deploy: DeployConfig = DeployConfig()
    """How new versions roll out (``edgeplane deploy --strategy``); see docs/delivery.md."""
    slos: list[SLOConfig] = []
    """Service level objectives (``[[slos]]``); see docs/alerting.md."""
    cache: CacheConfig = CacheConfig()
    """HTTP cache policies (``[cache]``, ``[[cache.policies]]``); see docs/cache.md."""
    waf: WAFConfig = WAFConfig()
    """Custom WAF rules and the managed rules (``[[waf.rules]]``, ``[waf.managed]``); see docs/waf.md."""
    rate_limits: list[RateLimitRule] = []
    """``[[rate_limits]]``; see docs/rate-limiting.md."""
    auth: AuthConfig = AuthConfig()
    """``[auth.jwt]``: bearer token validation; see docs/access.md."""
    access: AccessConfig = AccessConfig()
    """``[[access.policies]]``: who may reach which paths; see docs/access.md."""
    geo: GeoConfig = GeoConfig()
    """``[[geo.policies]]``: countries allowed/blocked per path, GDPR consent; see docs/access.md."""
    security_headers: SecurityHeaders = SecurityHeaders()
    """Headers added to responses (CSP, HSTS, nosniff, frame and referrer policies); see docs/access.md."""
    env: dict[str, EnvConfig] = {}
    server: dict[str, object] | None = None
    """Platform settings for ``edgeplane serve``/``dev``; validated separately as ServerConfig."""

    _norm_routes = field_validator("routes", mode="before")(_routes)
    _valid_routes = field_validator("routes", "route")(_check_patterns)

    @field_validator("compatibility_date")
    @classmethod
    def _check_date(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("must be a date like '2026-11-01'")
        return value

    @field_validator("upstream")
    @classmethod
    def _check_upstream(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/\s]+(/.*)?", value):
            raise ValueError("must be an http:// URL such as 'http://127.0.0.1:9000'")
        if value is not None and value.startswith("https://"):
            raise ValueError("https upstreams are not supported yet: use an http:// URL")
        return value

    @field_validator("env")
    @classmethod
    def _check_env_names(cls, envs: dict[str, EnvConfig]) -> dict[str, EnvConfig]:
        for name in envs:
            if not re.fullmatch(NAME_RE, name):
                raise ValueError(f"environment name {name!r} must be lowercase letters, digits and '-'")
        return envs

    @field_validator("slos")
    @classmethod
    def _unique_slos(cls, slos: list[SLOConfig]) -> list[SLOConfig]:
        names = [s.name for s in slos]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"SLO names must be unique: {', '.join(dupes)} appears more than once")
        return slos

    @model_validator(mode="after")
    def _main_or_upstream(self) -> AppConfig:
        if (self.main is None) == (self.upstream is None):
            raise ValueError("set exactly one of 'main' (a Python ASGI app) or 'upstream' (an http:// URL)")
        envs = ["", *self.env]
        if self.upstream and any(items for e in envs for items in self.bindings_for(e).values()):
            raise ValueError("an upstream worker cannot have bindings (they live inside Python workers)")
        check_bindings(self.bindings_for(""), set(self.vars))
        for name, env in self.env.items():
            check_bindings(self.bindings_for(name), set(self.vars) | set(env.vars))
        return self

    def bindings_for(self, env_name: str) -> dict[str, list[BindingConfig]]:
        """The environment's bindings by kind (``kv``, ``d1``, ``r2``, ``analytics``); an environment's own
        table of a kind replaces the top-level one."""
        declared = self.env.get(env_name)
        out: dict[str, list[BindingConfig]] = {}
        for kind, field_name in BINDING_TABLES.items():
            items = getattr(declared, field_name, None) if declared is not None else None
            out[kind] = list(items if items is not None else getattr(self, field_name))
        return out

    def r2_for(self, env_name: str) -> list[R2BucketConfig]:
        return [b for b in self.bindings_for(env_name)["r2"] if isinstance(b, R2BucketConfig)]

    def analytics_for(self, env_name: str) -> list[AnalyticsDatasetConfig]:
        return [b for b in self.bindings_for(env_name)["analytics"] if isinstance(b, AnalyticsDatasetConfig)]

    def d1_for(self, env_name: str) -> list[D1DatabaseConfig]:
        return [b for b in self.bindings_for(env_name)["d1"] if isinstance(b, D1DatabaseConfig)]

    def kv_for(self, env_name: str) -> list[KVNamespaceConfig]:
        return [b for b in self.bindings_for(env_name)["kv"] if isinstance(b, KVNamespaceConfig)]

    def environment(self, name: str) -> EnvConfig:
        """The named environment. Standard names exist undeclared (with the top-level routes); an undeclared
        ``preview-*`` environment is served at ``<env>.<app>.localhost``."""
        if name in self.env:
            return self.env[name]
        if name in STANDARD_ENVS:
            return EnvConfig(routes=self.routes, route=self.route)
        if re.fullmatch(r"preview-[a-z0-9-]+", name):
            return EnvConfig(routes=[f"{name}.{self.name}.localhost/*"])
        known = sorted({*STANDARD_ENVS, *self.env})
        raise ValueError(f"unknown environment {name!r}; declare [env.{name}] or use one of {known}")

    def deploy_for(self, env_name: str) -> DeployConfig:
        declared = self.env.get(env_name)
        return declared.deploy if declared is not None and declared.deploy is not None else self.deploy

    def vars_for(self, env_name: str) -> dict[str, str | int | float | bool]:
        return {**self.vars, **self.environment(env_name).vars}

    def env_names(self) -> list[str]:
        return sorted({*STANDARD_ENVS, *self.env})
