"""KV on SQLite (the embedded default): one file per namespace, WAL, safe with several processes.

Reads are primary-key lookups run directly on the event loop (a few µs; WAL readers never wait for writers);
writes go to one writer thread per namespace so a busy database never stalls the loop. ``PRAGMA data_version``
tells the namespace's read cache when another connection (another worker process, the CLI) has written.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from edgeplane.bindings.kv.base import ListedKey, StoredValue
from edgeplane.bindings.sqlite_wal import connect_shared

__all__ = ["TYPE", "Backend", "from_config"]

TYPE = "sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expiration INTEGER,
    metadata TEXT
) WITHOUT ROWID;
"""
PURGE_EVERY = 1000


class Backend:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"kv-{path.stem}")
        self._wconn = connect_shared(path)
        self._wconn.executescript(SCHEMA)
        self._rconn = connect_shared(path)
        self._version = self._data_version()
        self._puts = 0

    def _data_version(self) -> int:
        row = self._rconn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def changed_elsewhere(self) -> bool:
        version = self._data_version()
        changed = version != self._version
        self._version = version
        return changed

    async def get(self, key: str, now: float) -> StoredValue | None:
        row = self._rconn.execute("SELECT value, expiration, metadata FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= now):
            return None
        return StoredValue(row[0], json.loads(row[2]) if row[2] is not None else None, row[1])

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._writer, self._wconn.execute, sql, params)

    async def put(self, key: str, value: bytes, expiration: int | None, metadata: Any) -> None:
        meta = json.dumps(metadata, separators=(",", ":")) if metadata is not None else None
        await self._write(
            "INSERT INTO kv (key, value, expiration, metadata) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration, "
            "metadata = excluded.metadata",
            (key, value, expiration, meta),
        )
        self._puts += 1
        if self._puts % PURGE_EVERY == 0:
            import time

            await self._write("DELETE FROM kv WHERE expiration IS NOT NULL AND expiration <= ?", (int(time.time()),))

    async def delete(self, key: str) -> None:
        await self._write("DELETE FROM kv WHERE key = ?", (key,))

    async def list(self, prefix: str, limit: int, after: str | None, now: float) -> tuple[list[ListedKey], bool]:
        lower = after if after is not None and after >= prefix else None
        rows = self._rconn.execute(
            "SELECT key, expiration, metadata FROM kv "
            "WHERE key >= ? AND (? IS NULL OR key > ?) AND substr(key, 1, ?) = ? "
            "AND (expiration IS NULL OR expiration > ?) ORDER BY key LIMIT ?",
            (prefix, lower, lower, len(prefix), prefix, now, limit + 1),
        ).fetchall()
        keys = [ListedKey(r[0], r[1], json.loads(r[2]) if r[2] is not None else None) for r in rows[:limit]]
        return keys, len(rows) <= limit

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._wconn.close()
        self._rconn.close()


def from_config(namespace_id: str, data_dir: Path, url: str | None) -> Backend:
    """``url`` may name the file (``sqlite:///path/kv.db``); default ``<data_dir>/kv/<id>.sqlite3``."""
    path = Path(url.removeprefix("sqlite://")) if url else data_dir / "kv" / f"{namespace_id}.sqlite3"
    return Backend(path)
