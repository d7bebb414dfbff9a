"""SQL on SQLite: one database file per ``database_id``; every call runs on one thread per database.

A single thread per database keeps statements ordered and makes ``batch`` a plain transaction; several
worker processes share the file through SQLite's own locking (WAL, busy timeout 5 s).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.sql.base import Params, StatementResult
from edgeplane.bindings.sql.script import split_statements
from edgeplane.bindings.sqlite_wal import connect_shared

__all__ = ["TYPE", "Backend", "from_config"]

TYPE = "sqlite"


def _error(exc: sqlite3.Error, sql: str) -> BindingError:
    return BindingError(f"{exc} (in: {sql.strip()[:200]})", code="SQL_ERROR")


class Backend:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"d1-{path.stem}")
        self._conn = connect_shared(path)
        self._conn.execute("PRAGMA foreign_keys=ON")

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _one(self, sql: str, params: Params) -> StatementResult:
        started = time.perf_counter()
        before = self._conn.total_changes
        cursor = self._conn.execute(sql, params)
        rows = cursor.fetchall()
        columns = [d[0] for d in cursor.description or ()]
        changes = self._conn.total_changes - before
        return StatementResult(
            columns=columns, rows=rows, changes=changes, last_row_id=cursor.lastrowid,
            duration_ms=(time.perf_counter() - started) * 1000, rows_read=len(rows), rows_written=changes,
        )  # fmt: skip

    def _batch(self, statements: list[tuple[str, Params]]) -> list[StatementResult]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        results: list[StatementResult] = []
        sql = ""
        try:
            for sql, params in statements:
                results.append(self._one(sql, params))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _error(exc, sql) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    async def run(self, statements: list[tuple[str, Params]]) -> list[StatementResult]:
        if len(statements) == 1:
            sql, params = statements[0]
            try:
                return [await self._call(self._one, sql, params)]
            except sqlite3.Error as exc:
                raise _error(exc, sql) from None
        results: list[StatementResult] = await self._call(self._batch, statements)
        return results

    def _exec(self, script: str) -> int:
        statements = split_statements(script)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                self._conn.execute(statement)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise _error(exc, statement) from None
        return len(statements)

    async def exec(self, script: str) -> int:
        result: int = await self._call(self._exec, script)
        return result

    async def dump(self) -> bytes:
        data: bytes = await self._call(self._conn.serialize)
        return data

    async def close(self) -> None:
        await self._call(self._conn.close)
        self._thread.shutdown(wait=True)


def from_config(database_id: str, data_dir: Path, url: str | None) -> Backend:
    """``url`` may name the file (``sqlite:///path/db.sqlite3``); default ``<data_dir>/d1/<id>.sqlite3``."""
    path = Path(url.removeprefix("sqlite://")) if url else data_dir / "d1" / f"{database_id}.sqlite3"
    return Backend(path)
