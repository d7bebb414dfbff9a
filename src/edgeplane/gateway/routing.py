"""The in-memory routing table: which deployment serves a host/path, and which version serves a request.

Built by the control plane from stored deployments and swapped in as a whole (one attribute assignment), so
the request path never sees a half-applied change and a rollback takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from edgeplane.config.app import Route
from edgeplane.gateway.counters import VersionStats

__all__ = ["FALLBACK_ROUTE", "DeploymentTarget", "Hit", "RouteTable", "VersionTarget", "bucket_of"]

BUCKETS = 10_000  # weights are percentages with two decimals


def bucket_of(key: bytes) -> int:
    """Deterministic bucket of a sticky version key (stable across processes and restarts)."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % BUCKETS


@dataclass(frozen=True, slots=True, eq=False)
class VersionTarget:
    """One version of a deployment with its traffic share and the pool that serves it."""

    version_id: str
    percentage: float
    pool: Any  # runtime Pool (WorkerPool | UpstreamPool); Any keeps gateway free of a runtime import cycle
    id_header: bytes = b""
    """The version id as sent to the worker (``Edgeplane-Version`` request header)."""
    base_path: bytes = b""
    """Path prefix of an upstream URL, prepended to every request path."""
    public_id: bytes = b""
    """The ``Edgeplane-Version`` response header value; empty when ``expose_version_header`` is off."""
    stats: VersionStats = field(default_factory=VersionStats)
    """The version's counters (kept by the gateway across table swaps; the observe stage fills it)."""
    edge: Any = None
    """The version's compiled edge policies (gateway/edge_policy.py ``EdgePolicy``); None: none configured."""


@dataclass(frozen=True, eq=False)
class DeploymentTarget:
    """The current deployment of one (app, env): versions, cumulative buckets, override lookup."""

    app: str
    env: str
    deployment_id: str
    versions: tuple[VersionTarget, ...]
    env_header: bytes = b""
    thresholds: tuple[int, ...] = ()
    by_id: dict[bytes, VersionTarget] = field(default_factory=dict)

    @classmethod
    def build(cls, app: str, env: str, deployment_id: str, versions: list[VersionTarget]) -> DeploymentTarget:
        thresholds, total = [], 0
        for v in versions:
            total += round(v.percentage * 100)
            thresholds.append(total)
        by_id: dict[bytes, VersionTarget] = {}
        for v in versions:
            by_id[v.version_id.encode()] = v
            by_id[v.version_id[:8].encode()] = v
        return cls(app, env, deployment_id, tuple(versions), env.encode(), tuple(thresholds), by_id)

    def choose(self, override: bytes | None, key: bytes | None) -> VersionTarget:
        """Override header (if it names a version of this deployment) > sticky key > weights."""
        if override is not None:
            hit = self.by_id.get(override.strip())
            if hit is not None:
                return hit
        versions = self.versions
        if len(versions) == 1:
            return versions[0]
        point = bucket_of(key) if key else random.randrange(BUCKETS)
        for threshold, version in zip(self.thresholds, versions, strict=True):
            if point < threshold:
                return version
        return versions[-1]


FALLBACK_ROUTE = "(fallback)"
"""The route pattern recorded for requests the fallback deployment answers."""

Hit = tuple[DeploymentTarget, str]
"""A match: the deployment and the route pattern that chose it (built once per table, not per request)."""


class RouteTable:
    """Host/path patterns to deployments; exact hosts by dict lookup, then wildcard hosts, longest first."""

    def __init__(
        self,
        entries: list[tuple[Route, DeploymentTarget]] | None = None,
        fallback: DeploymentTarget | None = None,
    ) -> None:
        self.fallback = fallback
        self._fallback_hit: Hit | None = (fallback, FALLBACK_ROUTE) if fallback is not None else None
        self.exact: dict[str, list[tuple[str, Hit]]] = {}
        self.wildcard: list[tuple[str, str, Hit]] = []
        for route, target in entries or []:
            if route.wildcard_host:
                self.wildcard.append((route.host, route.path_prefix, (target, route.pattern)))
            else:
                self.exact.setdefault(route.host, []).append((route.path_prefix, (target, route.pattern)))
        for items in self.exact.values():
            items.sort(key=lambda item: -len(item[0]))
        self.wildcard.sort(key=lambda item: (-len(item[0]), -len(item[1])))
        self.targets = {(t.app, t.env): t for _, t in entries or []}
        self._routes: dict[int, list[Route]] = {}
        for route, target in entries or []:
            self._routes.setdefault(id(target), []).append(route)

    def routes_of(self, target: DeploymentTarget) -> list[Route]:
        return self._routes.get(id(target), [])

    def lookup(self, host: str, path: str) -> Hit | None:
        """The deployment serving ``host``/``path`` and the route pattern that matched (for analytics)."""
        for prefix, hit in self.exact.get(host, ()):
            if path.startswith(prefix):
                return hit
        for suffix, prefix, hit in self.wildcard:
            if host.endswith(suffix) and path.startswith(prefix):
                return hit
        return self._fallback_hit

    def match(self, host: str, path: str) -> DeploymentTarget | None:
        hit = self.lookup(host, path)
        return hit[0] if hit is not None else None
