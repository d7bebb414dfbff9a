"""``D1Database``: the D1 API a worker calls (``await env.DB.prepare(sql).bind(x).all()``).

Results carry ``meta`` like D1's: ``duration`` (ms), ``rows_read``, ``rows_written``, ``last_row_id``,
``changes``. SQLite does not count rows scanned, so ``rows_read`` is the number of rows returned and
``rows_written`` the number of rows changed (documented in docs/d1.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.sql.base import Params, SQLBackend, StatementResult

__all__ = ["D1Database", "D1Result", "PreparedStatement"]

BINDABLE = (type(None), int, float, str, bytes)


@dataclass(frozen=True, slots=True)
class D1Result:
    results: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    success: bool = True


def _meta(r: StatementResult) -> dict[str, Any]:
    return {
        "duration": round(r.duration_ms, 3), "rows_read": r.rows_read, "rows_written": r.rows_written,
        "last_row_id": r.last_row_id, "changes": r.changes, "changed_db": r.changes > 0,
    }  # fmt: skip


def _result(r: StatementResult) -> D1Result:
    return D1Result([dict(zip(r.columns, row, strict=True)) for row in r.rows], _meta(r))


def _param(value: object) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if not isinstance(value, BINDABLE):
        raise BindingError(
            f"cannot bind a {type(value).__name__}: use None, bool, int, float, str or bytes", code="D1_TYPE_ERROR"
        )
    return value


class PreparedStatement:
    """A statement and its parameters; ``bind`` returns a new statement, so a prepared one can be reused."""

    __slots__ = ("_db", "params", "sql")

    def __init__(self, db: D1Database, sql: str, params: Params = ()) -> None:
        if not isinstance(sql, str) or not sql.strip():
            raise BindingError("SQL must be a non-empty string", code="SQL_ERROR")
        self._db = db
        self.sql = sql
        self.params = params

    def bind(self, *values: object) -> PreparedStatement:
        return PreparedStatement(self._db, self.sql, tuple(_param(v) for v in values))

    async def _run(self) -> StatementResult:
        return (await self._db.backend.run([(self.sql, self.params)]))[0]

    async def all(self) -> D1Result:
        """Every row as a dict, with ``meta``."""
        return _result(await self._run())

    async def run(self) -> D1Result:
        """Run for effect (rows are returned too, as D1 does)."""
        return _result(await self._run())

    async def first(self, column: str | None = None) -> Any:
        """The first row (a dict), or one column of it; None when there are no rows."""
        r = await self._run()
        if not r.rows:
            return None
        row = dict(zip(r.columns, r.rows[0], strict=True))
        if column is None:
            return row
        if column not in row:
            raise BindingError(f"column {column!r} is not in the result {r.columns}", code="D1_COLUMN_NOTFOUND")
        return row[column]

    async def raw(self, column_names: bool = False) -> list[list[Any]]:
        """Rows as lists; with ``column_names=True`` the first list is the column names."""
        r = await self._run()
        rows = [list(row) for row in r.rows]
        return [list(r.columns), *rows] if column_names else rows


class D1Database:
    """One D1 database bound into a worker's env."""

    def __init__(self, backend: SQLBackend) -> None:
        self.backend = backend

    def prepare(self, sql: str) -> PreparedStatement:
        return PreparedStatement(self, sql)

    async def batch(self, statements: list[PreparedStatement]) -> list[D1Result]:
        """Run the statements in one transaction: all of them take effect, or (on any error) none."""
        if not statements:
            return []
        if not all(isinstance(s, PreparedStatement) for s in statements):
            raise BindingError("batch() takes a list of prepared statements", code="D1_TYPE_ERROR")
        results = await self.backend.run([(s.sql, s.params) for s in statements])
        return [_result(r) for r in results]

    async def exec(self, sql: str) -> dict[str, Any]:
        """Run one or more ';'-separated statements without parameters (e.g. a schema), atomically."""
        import time

        started = time.perf_counter()
        count = await self.backend.exec(sql)
        return {"count": count, "duration": round((time.perf_counter() - started) * 1000, 3)}

    async def dump(self) -> bytes:
        """The database as a SQLite file image."""
        return await self.backend.dump()

    async def close(self) -> None:
        await self.backend.close()
