"""D1-style SQL databases: ``D1Database`` over a backend chosen by config (SQLite today)."""

from __future__ import annotations

from pathlib import Path

from edgeplane.bindings.registry import load_backend
from edgeplane.bindings.sql.base import SQLBackend
from edgeplane.bindings.sql.database import D1Database, D1Result, PreparedStatement

__all__ = ["BACKENDS", "D1Database", "D1Result", "PreparedStatement", "open_database"]

BACKENDS = {"sqlite": "edgeplane.bindings.sql.sqlite"}
"""Backend name -> module exporting ``TYPE``, ``Backend`` and ``from_config``. libSQL/Turso is the planned
distributed engine (it speaks SQLite's dialect, so D1 semantics carry over); see docs/d1.md."""


def open_database(backend: str, database_id: str, data_dir: Path, url: str | None = None) -> D1Database:
    module = load_backend(BACKENDS, backend, "SQL_BACKEND_UNKNOWN", "SQL")
    engine: SQLBackend = module.from_config(database_id, data_dir, url)
    return D1Database(engine)
