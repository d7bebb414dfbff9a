"""Control-state tables (SQLAlchemy Core) and their ordered migrations.

Why not Alembic: the schema ships inside a pip-installed package and is applied by the server at start-up,
on SQLite and (later) PostgreSQL alike. An ordered list of migrations, each run in one transaction and
recorded in ``edgeplane_schema``, gives the same guarantees without a migrations environment on disk.
A migration is appended, never edited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "MIGRATIONS",
    "alert_groups",
    "alerts",
    "approvals",
    "audit",
    "cache_purges",
    "deployments",
    "incident_events",
    "incidents",
    "metadata",
    "metric_points",
    "notifications",
    "rollout_events",
    "rollouts",
    "schema_versions",
    "silences",
    "tokens",
    "versions",
]

metadata = MetaData()

schema_versions = Table(
    "edgeplane_schema",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

versions = Table(
    "versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app", String(63), nullable=False),
    Column("number", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("tag", String(200)),
    Column("author", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("config", JSON, nullable=False),
    UniqueConstraint("app", "number", name="uq_versions_app_number"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("app", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("splits", JSON, nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("author", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("app", "env", "seq", name="uq_deployments_seq"),
    Index("ix_deployments_app_env", "app", "env"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

audit = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(300), nullable=False),
    Column("details", JSON, nullable=False),
)


rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("strategy", String(20), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("state", String(20), nullable=False),
    Column("stable_id", String(36), nullable=False),
    Column("version_id", String(36), nullable=False),
    Column("plan", JSON, nullable=False),
    Column("step", Integer, nullable=False),
    Column("step_elapsed", Float, nullable=False),
    Column("analysis", JSON, nullable=False),
    Column("verdicts", JSON, nullable=False),
    Column("approvals_required", Integer, nullable=False),
    Column("approve_before", String(20), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("message", Text, nullable=False, default=""),
    Column("author", String(200), nullable=False),
    Column("author_token", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_rollouts_app_env", "app", "env"),
)

rollout_events = Table(
    "rollout_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rollout_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("step", Integer, nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False),
    Index("ix_rollout_events_rollout", "rollout_id", "id"),
)

approvals = Table(
    "rollout_approvals",
    metadata,
    Column("rollout_id", String(36), primary_key=True),
    Column("token_id", String(36), primary_key=True),
    Column("token_name", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


metric_points = Table(
    "metric_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("series", String(300), nullable=False),
    Column("requests", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("c4xx", Integer, nullable=False),
    Column("latency_sum", Float, nullable=False),
    Column("hist", JSON, nullable=False),
    Index("ix_metric_points_at", "at"),
    Index("ix_metric_points_series_at", "series", "at"),
)
"""Recorded request counters: one row per series (``app|env|version_id``, or ``probe|name|colo``) and
resolution step, holding that step's deltas; ``hist`` is the sparse latency histogram {bucket: count}."""

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("rule", String(200), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("value", Float),
    Column("error", Text, nullable=False, default=""),
    Column("active_since", Float),
    Column("fired_at", Float),
    Column("resolved_at", Float),
    Column("acknowledged_at", Float),
    Column("acknowledged_by", String(200)),
    Column("updated_at", Float, nullable=False),
)

alert_groups = Table(
    "alert_groups",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("labels", JSON, nullable=False),
    Column("first_at", Float, nullable=False),
    Column("last_sent_at", Float),
    Column("sent_fingerprints", JSON, nullable=False),
    Column("escalated_at", Float),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("receiver", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("group_key", String(300), nullable=False, default=""),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False, default=""),
    Column("sent_at", Float),
    Column("payload", JSON, nullable=False),
    Index("ix_notifications_at", "at"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("matchers", JSON, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("created_by", String(200), nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", Integer, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False),
    Column("severity", String(10), nullable=False),
    Column("state", String(20), nullable=False),
    Column("app", String(63), nullable=False, default=""),
    Column("env", String(63), nullable=False, default=""),
    Column("source", String(20), nullable=False),
    Column("group_key", String(300), nullable=False, default=""),
    Column("created_by", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("acknowledged_at", Float),
    Column("acknowledged_by", String(200)),
    Column("resolved_at", Float),
    Column("resolved_by", String(200)),
    Index("ix_incidents_state", "state"),
)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(36), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False),
    Index("ix_incident_events_incident", "incident_id", "id"),
)

cache_purges = Table(
    "cache_purges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),
    Column("value", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
)


def _initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=[versions, deployments, tokens, audit])


def _rollouts(conn: Connection) -> None:
    metadata.create_all(conn, tables=[rollouts, rollout_events, approvals])


def _observe(conn: Connection) -> None:
    metadata.create_all(conn, tables=[metric_points, alerts, alert_groups, notifications, silences, incidents,
                                      incident_events])  # fmt: skip


def _edge(conn: Connection) -> None:
    metadata.create_all(conn, tables=[cache_purges])


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "versions, deployments, tokens, audit log", _initial),
    (2, "rollouts, their events and approvals", _rollouts),
    (3, "metric points, alerts, notifications, silences, incidents", _observe),
    (4, "cache purges", _edge),
]


def now() -> datetime:
    return datetime.now(UTC)
