"""Binding tables of edgeplane.toml, shaped like wrangler.toml's (``[[kv_namespaces]]`` today)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["D1DatabaseConfig", "KVNamespaceConfig", "check_bindings"]


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


def check_bindings(kv: list[KVNamespaceConfig], d1: list[D1DatabaseConfig], var_names: set[str]) -> None:
    """Binding names are unique and do not shadow vars."""
    seen: set[str] = set()
    for item in [*(k.binding for k in kv), *(d.binding for d in d1)]:
        if item in seen:
            raise ValueError(f"binding {item!r} is declared twice")
        if item in var_names:
            raise ValueError(f"binding {item!r} has the same name as a var")
        seen.add(item)
