"""The SQL backend protocol: run statements (alone or as one atomic batch) and report what they did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Params", "SQLBackend", "StatementResult"]

Params = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class StatementResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    changes: int = 0
    last_row_id: int | None = None
    duration_ms: float = 0.0
    rows_read: int = 0
    rows_written: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class SQLBackend(Protocol):
    async def run(self, statements: list[tuple[str, Params]]) -> list[StatementResult]:
        """Run every statement in one transaction; on any error roll all of them back and raise."""
        ...

    async def exec(self, script: str) -> int:
        """Run a multi-statement script without parameters; returns how many statements ran."""
        ...

    async def dump(self) -> bytes:
        """The whole database as bytes (a SQLite database image)."""
        ...

    async def close(self) -> None: ...
