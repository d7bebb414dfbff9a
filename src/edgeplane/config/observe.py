"""Observability settings.

Two places, for two owners:

- ``[server.observe]`` (platform settings, :class:`ObserveSettings`): how often request counters are recorded,
  how long they are kept, how often alert rules run, logging and tracing, and the path of the *alerting file*.
- The alerting file (``alerts.toml`` or ``alerts.yaml``, :class:`AlertingConfig`): receivers, routes, alert
  rules and synthetic probes. It is the operator's file, read at start and on ``edgeplane alerts reload``;
  receiver secrets can name environment variables (``url_env``) so they never sit in the platform's state.
- ``[[slos]]`` in an app's edgeplane.toml (:class:`SLOConfig`): the app's objectives, per environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgeplane.config.deploy import Duration

__all__ = [
    "SEVERITIES",
    "AlertingConfig",
    "LoggingSettings",
    "ObserveSettings",
    "ProbeConfig",
    "ReceiverConfig",
    "RouteConfig",
    "RuleConfig",
    "SLOConfig",
    "TracingSettings",
    "check_url",
]

SEVERITIES = ("info", "warning", "high", "critical")
LOG_LEVELS = Literal["debug", "info", "warning", "error", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_url(value: str, what: str = "URL") -> str:
    """An absolute http(s) URL with a host, or a ValueError saying what is wrong."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http:// or https:// URL with a host, e.g. https://example.com/x")
    return value


def _url_field(value: str) -> str:
    return check_url(value)


# -- platform settings ([server.observe]) ---------------------------------------------------------------------
class LoggingSettings(_Strict):
    format: Literal["text", "json"] = "text"
    """``json``: one JSON object per line (time, level, logger, message, request_id, app, env, version)."""
    level: LOG_LEVELS = "info"
    levels: dict[str, LOG_LEVELS] = {}
    """Per-component levels, e.g. ``{ "edgeplane.gateway" = "debug", "edgeplane.alerts" = "warning" }``."""


class TracingSettings(_Strict):
    otlp_endpoint: str | None = None
    """OTLP/HTTP traces endpoint (JSON encoding), e.g. ``http://127.0.0.1:4318/v1/traces``; none: no tracing."""
    sample: Annotated[float, Field(ge=0, le=1)] = 1.0
    """Share of requests traced (a request with a sampled ``traceparent`` is always traced)."""
    service_name: str = "edgeplane"
    headers: dict[str, str] = {}
    """Extra headers for the exporter (e.g. an API key of a hosted collector)."""

    _url = field_validator("otlp_endpoint")(lambda v: v if v is None else check_url(v, "otlp_endpoint"))


class ObserveSettings(_Strict):
    resolution: Duration = 10.0
    """Seconds between recorded points of the request counters (the resolution of SLO and alert windows)."""
    retention: Duration = 35 * 86400.0
    """How long recorded points are kept (an SLO window needs at most this)."""
    memory: Duration = 6 * 3600.0
    """Points this recent are also kept in memory, so alert windows up to this long read no database."""
    evaluation_interval: Duration = 15.0
    """Seconds between alert rule evaluations."""
    alerts_file: Path | None = None
    """The alerting file (receivers, routes, rules, probes); relative to the config file's directory."""
    request_analytics: bool = True
    """Write one data point per request to the ``edgeplane_requests`` analytics dataset."""
    request_analytics_rate: Annotated[int, Field(ge=0)] = 1000
    """Points per second this node writes to ``edgeplane_requests`` before sampling: above it, every Nth request
    is written with ``_sample_interval = N`` (N from the previous second's rate), like Cloudflare's adaptive
    sampling; ``0`` writes every request."""
    metrics_public: bool = False
    """Serve the admin API's ``/metrics`` without a token (default: a ``read`` token, sent by Prometheus as
    ``Authorization: Bearer``). Only for an admin port that untrusted clients cannot reach."""
    logging: LoggingSettings = LoggingSettings()
    tracing: TracingSettings = TracingSettings()

    @model_validator(mode="after")
    def _check(self) -> ObserveSettings:
        if self.resolution <= 0:
            raise ValueError("resolution must be more than 0 seconds")
        if self.evaluation_interval <= 0:
            raise ValueError("evaluation_interval must be more than 0 seconds")
        if self.memory < self.resolution:
            raise ValueError("memory must be at least one resolution step")
        return self


# -- SLOs ([[slos]] in edgeplane.toml) ------------------------------------------------------------------------
class SLOConfig(_Strict):
    """One objective. Every kind is a ratio of good requests to all requests over ``window``:

    - ``availability``: good = not 5xx; ``target`` is the percent of good requests (99.9).
    - ``latency``: good = faster than ``threshold_ms``; ``target`` is the percent (95 for "p95 < 200 ms").
    - ``error_rate``: good = not 5xx, written as the largest error rate: ``target = 0.5`` means < 0.5% errors.
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    kind: Literal["availability", "latency", "error_rate"]
    target: Annotated[float, Field(gt=0, lt=100)]
    window: Duration = 30 * 86400.0
    threshold_ms: Annotated[float, Field(gt=0)] | None = None
    env: str | list[str] | None = None
    """Environments it applies to (default: every environment of the app)."""
    alerts: bool = True
    """Generate the multiwindow burn-rate alerts (page and ticket) for it."""

    @model_validator(mode="after")
    def _check(self) -> SLOConfig:
        if self.kind == "latency" and self.threshold_ms is None:
            raise ValueError("a latency SLO needs threshold_ms (e.g. threshold_ms = 200 with target = 95)")
        if self.kind != "latency" and self.threshold_ms is not None:
            raise ValueError("threshold_ms is only for kind = 'latency'")
        if self.window < 60:
            raise ValueError("window must be at least 1m")
        return self

    @property
    def objective(self) -> float:
        """The good-request share the SLO asks for (0..1)."""
        return (100 - self.target) / 100 if self.kind == "error_rate" else self.target / 100

    def applies_to(self, env: str) -> bool:
        if self.env is None:
            return True
        return env in ([self.env] if isinstance(self.env, str) else self.env)


# -- the alerting file ----------------------------------------------------------------------------------------
_NAME = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


class ReceiverConfig(_Strict):
    """Where notifications go. Secrets (webhook URLs, routing keys, passwords) may be given as the name of an
    environment variable (``url_env``, ``routing_key_env``, ``password_env``) instead of inline."""

    name: _NAME
    kind: Literal["webhook", "slack", "discord", "pagerduty", "email"]
    url: str | None = None
    url_env: str | None = None
    headers: dict[str, str] = {}
    routing_key: str | None = None
    routing_key_env: str | None = None
    # email
    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None
    to: list[str] = []
    # delivery
    timeout: Duration = 10.0
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    """Attempts before a notification is marked failed (backoff doubles from 0.5 s up to 60 s)."""
    send_resolved: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _check(self) -> ReceiverConfig:
        if self.kind == "email":
            if not self.smtp_host or not self.sender or not self.to:
                raise ValueError("an email receiver needs smtp_host, sender and to = [...]")
        elif self.kind == "pagerduty":
            if not (self.routing_key or self.routing_key_env):
                raise ValueError("a pagerduty receiver needs routing_key or routing_key_env")
        elif not (self.url or self.url_env):
            raise ValueError(f"a {self.kind} receiver needs url (or url_env naming an environment variable)")
        return self


class RouteConfig(_Strict):
    """Which receivers get which alerts: the first route whose ``match`` labels all equal the alert's wins."""

    match: dict[str, str] = {}
    receivers: list[str] = []
    """Receivers for ``notify`` (and for delivery events)."""
    pagers: list[str] = []
    """Receivers for ``page``."""
    group_by: list[str] = ["alertname", "app", "env"]
    group_wait: Duration = 0.0
    """Wait this long after the first alert of a new group, so alerts that fire together go out together."""
    repeat_interval: Duration = 4 * 3600.0
    """Re-send a still-firing group this often (the throttle)."""
    escalate_after: Duration | None = None
    """A firing group nobody acknowledged after this long goes to ``escalate_to`` as well."""
    escalate_to: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> RouteConfig:
        if self.escalate_after is not None and not self.escalate_to:
            raise ValueError("escalate_after needs escalate_to = [receiver names]")
        return self


class WebhookAction(_Strict):
    kind: Literal["webhook"]
    url: str
    _url = field_validator("url")(_url_field)


Action = Literal["notify", "page", "create_incident", "auto_rollback"] | WebhookAction


class RuleConfig(_Strict):
    """An alert rule: ``expr`` over the recorded request metrics, or a SQL ``query`` over analytics datasets
    with a ``condition``. See docs/alerting.md for the metrics and their labels."""

    name: _NAME
    expr: str | None = None
    """``metric{label="value", ...}[window] op threshold``, e.g. ``error_rate{env="production"}[5m] > 0.05``."""
    query: str | None = None
    """A SELECT over analytics datasets returning one number (first column of the first row)."""
    condition: str | None = None
    """For ``query`` rules: ``op threshold``, e.g. ``> 100``."""
    for_: Annotated[Duration, Field(alias="for")] = 0.0
    severity: Literal["info", "warning", "high", "critical"] = "warning"
    labels: dict[str, str] = {}
    summary: str = ""
    actions: list[Action] = ["notify"]
    receivers: list[str] | None = None
    """Receivers for ``notify`` instead of the route's."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> RuleConfig:
        if (self.expr is None) == (self.query is None):
            raise ValueError("a rule needs exactly one of expr or query")
        if self.query is not None and self.condition is None:
            raise ValueError("a query rule needs condition, e.g. condition = '> 100'")
        if self.expr is not None and self.condition is not None:
            raise ValueError("condition is only for query rules; put the comparison in expr")
        return self


class ProbeConfig(_Strict):
    """A synthetic check of ``url`` every ``interval`` from this node (its colo)."""

    name: _NAME
    url: str
    interval: Duration = 30.0
    timeout: Duration = 5.0
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, str] = {}
    expect_status: list[int] = [200]
    expect_body: str | None = None
    """Text the response body must contain."""

    _url = field_validator("url")(_url_field)

    @model_validator(mode="after")
    def _check(self) -> ProbeConfig:
        if self.interval <= 0 or self.timeout <= 0:
            raise ValueError("interval and timeout must be more than 0 seconds")
        return self


class AlertingConfig(_Strict):
    receivers: list[ReceiverConfig] = []
    routes: list[RouteConfig] = []
    rules: list[RuleConfig] = []
    probes: list[ProbeConfig] = []
    slo_alerts: dict[Literal["page", "ticket"], list[Literal["notify", "page", "create_incident", "auto_rollback"]]] = {
        "page": ["page", "create_incident"],
        "ticket": ["notify"],
    }
    """Actions of the burn-rate alerts generated from each SLO."""

    @model_validator(mode="after")
    def _check(self) -> AlertingConfig:
        names = [r.name for r in self.receivers]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"receiver names must be unique: {', '.join(sorted(dupes))}")
        for label, items in (("rule", [r.name for r in self.rules]), ("probe", [p.name for p in self.probes])):
            dupes = {n for n in items if items.count(n) > 1}
            if dupes:
                raise ValueError(f"{label} names must be unique: {', '.join(sorted(dupes))}")
        known = set(names)
        for i, route in enumerate(self.routes):
            for key in ("receivers", "pagers", "escalate_to"):
                missing = [n for n in getattr(route, key) if n not in known]
                if missing:
                    raise ValueError(f"routes[{i}].{key} names unknown receivers {missing}; known: {sorted(known)}")
        for rule in self.rules:
            missing = [n for n in rule.receivers or [] if n not in known]
            if missing:
                raise ValueError(f"rule {rule.name!r} names unknown receivers {missing}; known: {sorted(known)}")
        return self

    def receiver(self, name: str) -> ReceiverConfig | None:
        return next((r for r in self.receivers if r.name == name), None)

    def route_for(self, labels: dict[str, Any]) -> tuple[int, RouteConfig]:
        """The first route whose ``match`` labels all equal ``labels``', with its index; no match: -1 and the
        default route (every receiver, pagerduty ones as pagers)."""
        for i, route in enumerate(self.routes):
            if all(str(labels.get(k)) == v for k, v in route.match.items()):
                return i, route
        return -1, RouteConfig(receivers=[r.name for r in self.receivers if r.kind != "pagerduty"],
                           pagers=[r.name for r in self.receivers if r.kind == "pagerduty"])  # fmt: skip
