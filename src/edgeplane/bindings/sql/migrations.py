"""D1 migrations: numbered ``.sql`` files applied in order, each in its own transaction, recorded in a table.

Same shape as wrangler's: files ``0001_create_users.sql`` in ``migrations_dir``; the table (default
``d1_migrations``) has ``id``, ``name`` and ``applied_at``. A migration that fails is rolled back entirely and
reported with its file name; the ones before it stay applied.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.sql.database import D1Database

__all__ = ["applied", "apply", "create", "local_migrations"]

NAME_RE = re.compile(r"^(\d{4})_[A-Za-z0-9_-]+\.sql$")


def _table(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise BindingError(f"migrations_table {name!r} is not a valid table name", code="D1_MIGRATION_FAILED")
    return name


def local_migrations(directory: Path) -> list[tuple[str, str]]:
    """(file name, SQL) of every migration file in ``directory``, in order."""
    if not directory.is_dir():
        return []
    files = sorted(p for p in directory.iterdir() if NAME_RE.match(p.name))
    return [(p.name, p.read_text(encoding="utf-8")) for p in files]


def create(directory: Path, description: str) -> Path:
    """Write the next empty migration file (``NNNN_description.sql``)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", description.strip()).strip("_") or "migration"
    directory.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in directory.iterdir() if (m := NAME_RE.match(p.name))]
    path = directory / f"{max(numbers, default=0) + 1:04d}_{slug}.sql"
    path.write_text(f"-- Migration: {description}\n")
    return path


async def _ensure_table(db: D1Database, table: str) -> None:
    await db.exec(
        f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, "
        "applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )


async def applied(db: D1Database, table: str = "d1_migrations") -> list[dict[str, object]]:
    table = _table(table)
    await _ensure_table(db, table)
    return (await db.prepare(f"SELECT id, name, applied_at FROM {table} ORDER BY id").all()).results


async def apply(db: D1Database, migrations: list[tuple[str, str]], table: str = "d1_migrations") -> list[str]:
    """Apply the migrations not yet recorded, in name order; returns the names applied now."""
    table = _table(table)
    done = {str(row["name"]) for row in await applied(db, table)}
    now_applied: list[str] = []
    for name, sql in sorted(migrations):
        if not NAME_RE.match(name):
            raise BindingError(f"{name}: migration files are named NNNN_description.sql", code="D1_MIGRATION_FAILED")
        if name in done:
            continue
        quoted = name.replace("'", "''")
        try:
            await db.exec(f"{sql.rstrip().rstrip(';')};\nINSERT INTO {table} (name) VALUES ('{quoted}');")
        except BindingError as exc:
            raise BindingError(
                f"migration {name} failed and was rolled back: {exc.message}",
                code="D1_MIGRATION_FAILED",
                applied=now_applied,
            ) from None
        now_applied.append(name)
    return now_applied
