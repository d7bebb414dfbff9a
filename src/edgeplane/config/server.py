"""Platform settings: the ``[server]`` table of edgeplane.toml, or flags of ``edgeplane serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeplane.config.edge import EdgeServerSettings
from edgeplane.config.observe import ObserveSettings

__all__ = ["ServerConfig"]


class ServerConfig(BaseModel):
    """Where the platform listens, keeps its state, and the gateway's request limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    """Gateway bind address; loopback unless told otherwise."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8787
    admin_host: str = "127.0.0.1"
    admin_port: Annotated[int, Field(ge=0, le=65535)] = 8788
    data_dir: Path = Path(".edgeplane")
    """State (SQLite), bundles and worker logs."""
    public_url: str | None = None
    """The gateway's URL as clients reach it, used in presigned object URLs; default ``http://host:port``."""
    colo: str = "local"
    """This node's colo name, passed to workers as ``Edgeplane-Colo``."""
    country_header: str | None = None
    """Request header trusted for the client's country (e.g. ``cf-ipcountry`` behind Cloudflare)."""
    client_ip_header: str | None = None
    """Request header trusted for the client's IP (e.g. ``x-forwarded-for`` behind one load balancer); the last
    value of a comma list is used, since earlier ones come from the client."""
    max_header_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024
    """Total request header bytes above which the gateway answers 431."""
    max_body_bytes: Annotated[int, Field(ge=0)] = 100 * 1024 * 1024
    """Request body bytes above which the gateway answers 413."""
    keep_warm: Annotated[int, Field(ge=0, le=10)] = 1
    """Previously fully-deployed versions per environment kept running so rollback is instant."""
    upstream_timeout: Annotated[float, Field(gt=0)] = 60.0
    """Seconds to wait for a worker's response headers before answering 504."""
    workers_inherit_stdio: bool = False
    """Send worker output to this terminal instead of per-process log files (``edgeplane dev``)."""
    approvals: dict[str, Annotated[int, Field(ge=0, le=10)]] = {}
    """Approvals (by distinct tokens, not the rollout's author) an environment's rollouts need, e.g.
    ``{ production = 2 }``. Platform policy, so a version cannot lower it in its own edgeplane.toml."""
    approve_before: Literal["start", "promotion"] = "start"
    """When approvals are collected: before a rollout starts, or before it promotes to 100%."""
    analytics_threads: Annotated[int, Field(ge=1, le=64)] = 1
    """DuckDB threads of the analytics store. 1 runs queries and ingest in the calling thread: DuckDB's worker
    threads keep spinning after each task, which measured ~15% of the gateway's throughput on a 2-core machine
    (bench/observe.py). More threads speed up large analytics queries on machines with cores to spare."""
    edge: EdgeServerSettings = EdgeServerSettings()
    """Cache memory and shared tier, the rate-limit store, the geo database; see docs/cache.md."""
    observe: ObserveSettings = ObserveSettings()
    """Recording, alert evaluation, logging and tracing; see docs/observability.md."""
    database_url: str | None = None
    """SQLAlchemy async URL of the control-state store; default: SQLite in ``data_dir``."""

    def gateway_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    fallback: str | None = None
    """``app/env`` that serves requests matching no route (``edgeplane dev`` sets it); None answers 404."""
    expose_version_header: bool = True
    """Add ``Edgeplane-Version`` (the serving version id) to responses."""
