"""Binding tables of edgeplane.toml, shaped like wrangler.toml's (``[[kv_namespaces]]``, ``[[r2_buckets]]``,
``[[d1_databases]]``, ``[[analytics_engine_datasets]]``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["AnalyticsDatasetConfig", "BindingConfig", "D1DatabaseConfig", "KVNamespaceConfig", "R2BucketConfig",
           "check_bindings"]  # fmt: skip


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError("must be a Python identifier such as 'PREFERENCES'")
    return value


def _safe_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", value):
        raise ValueError("must be letters, digits, '-', '_' or '.' (at most 128)")
    return value


class KVNamespaceConfig(BaseModel):
    """``[[kv_namespaces]]``: a KV namespace visible to the worker as ``env.<binding>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    binding: str
    """Name in the worker's env, e.g. ``PREFERENCES``."""
    id: str
    """Namespace id: two bindings with the same id (and backend) share data."""
    backend: Literal["sqlite", "redis"] = "sqlite"
    """Where the data lives: the embedded SQLite default, or Redis."""
    url: str | None = None
    """Backend location: ``redis://host:port/db`` (required for redis); for sqlite an optional file path."""

    _binding = field_validator("binding")(_identifier)
    _id = field_validator("id")(_safe_id)

    @model_validator(mode="after")
    def _url(self) -> KVNamespaceConfig:
        if self.backend == "redis" and not (self.url or "").startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("backend = 'redis' needs url = 'redis://host:port/db'")
        return self


class D1DatabaseConfig(BaseModel):
    """``[[d1_databases]]``: a SQL database visible to the worker as ``env.<binding>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    binding: str
    """Name in the worker's env, e.g. ``DB``."""
    database_name: str
    """A readable name (shown by the CLI)."""
    database_id: str
    """Identifies the data: the SQLite file is ``<data_dir>/d1/<database_id>.sqlite3``."""
    migrations_dir: str = "migrations"
    """Directory of ``NNNN_name.sql`` files, relative to the project."""
    migrations_table: str = "d1_migrations"
    """Table recording applied migrations."""
    backend: Literal["sqlite"] = "sqlite"
    """Only SQLite today (libSQL/Turso is the planned distributed engine)."""
    url: str | None = None
    """Optional ``sqlite:///path`` to put the file elsewhere."""

    _binding = field_validator("binding")(_identifier)
    _id = field_validator("database_id")(_safe_id)


class R2BucketConfig(BaseModel):
    """``[[r2_buckets]]``: an object bucket visible to the worker as ``env.<binding>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    binding: str
    """Name in the worker's env, e.g. ``ASSETS``."""
    bucket_name: str
    """Identifies the data: ``<data_dir>/r2/<bucket_name>/`` for files, the S3 bucket for s3."""
    backend: Literal["files", "s3"] = "files"
    """Where objects live: local files (the embedded default) or any S3-compatible server."""
    url: str | None = None
    """For s3, the endpoint (``http://127.0.0.1:9000``; omit for AWS); for files, an optional ``file:///dir``."""
    region: str | None = None
    """S3 region (default ``us-east-1``)."""
    access_key_id_env: str = "AWS_ACCESS_KEY_ID"
    """Name of the platform's environment variable holding the S3 access key id (never the key itself)."""
    secret_access_key_env: str = "AWS_SECRET_ACCESS_KEY"
    """Name of the platform's environment variable holding the S3 secret key."""

    _binding = field_validator("binding")(_identifier)

    @field_validator("bucket_name")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
            raise ValueError("must be 3-63 lowercase letters, digits, '.' or '-' (S3 bucket rules)")
        return value


class AnalyticsDatasetConfig(BaseModel):
    """``[[analytics_engine_datasets]]``: a dataset the worker writes to as ``env.<binding>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    binding: str
    """Name in the worker's env, e.g. ``EVENTS``."""
    dataset: str
    """Dataset (table) name, queried as ``SELECT … FROM <dataset>``."""

    _binding = field_validator("binding")(_identifier)

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value):
            raise ValueError("must be letters, digits and '_' (a SQL table name), starting with a letter")
        if value.lower().startswith("edgeplane_"):
            raise ValueError("dataset names starting with 'edgeplane_' are the platform's own (edgeplane_requests, "
                             "edgeplane_probes); pick another name")  # fmt: skip
        return value


BindingConfig = KVNamespaceConfig | D1DatabaseConfig | R2BucketConfig | AnalyticsDatasetConfig


def check_bindings(bindings: dict[str, list[BindingConfig]], var_names: set[str]) -> None:
    """Binding names are unique and do not shadow vars."""
    seen: set[str] = set()
    for item in (b.binding for items in bindings.values() for b in items):
        if item in seen:
            raise ValueError(f"binding {item!r} is declared twice")
        if item in var_names:
            raise ValueError(f"binding {item!r} has the same name as a var")
        seen.add(item)
