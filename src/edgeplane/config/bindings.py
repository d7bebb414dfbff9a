"""Binding tables of edgeplane.toml, shaped like wrangler.toml's (``[[kv_namespaces]]`` today)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["KVNamespaceConfig", "check_bindings"]


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

    @field_validator("binding")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("must be a Python identifier such as 'PREFERENCES'")
        return value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", value):
            raise ValueError("must be letters, digits, '-', '_' or '.' (at most 128)")
        return value

    @model_validator(mode="after")
    def _url(self) -> KVNamespaceConfig:
        if self.backend == "redis" and not (self.url or "").startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("backend = 'redis' needs url = 'redis://host:port/db'")
        return self


def check_bindings(kv: list[KVNamespaceConfig], var_names: set[str]) -> None:
    """Binding names are unique and do not shadow vars."""
    seen: set[str] = set()
    for item in kv:
        if item.binding in seen:
            raise ValueError(f"binding {item.binding!r} is declared twice")
        if item.binding in var_names:
            raise ValueError(f"binding {item.binding!r} has the same name as a var")
        seen.add(item.binding)
