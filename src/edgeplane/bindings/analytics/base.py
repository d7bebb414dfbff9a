"""The analytics engine protocol: what the embedded DuckDB engine implements and ClickHouse will.

An engine ingests spool files (JSON lines written by ``AnalyticsDataset``) exactly once, and answers
read-only SQL in Cloudflare's dialect over one table per dataset:
``timestamp, index1, blob1..blob20, double1..double20, _sample_interval``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

__all__ = ["BLOB_COLUMNS", "COLUMNS", "DOUBLE_COLUMNS", "AnalyticsEngine"]

BLOB_COLUMNS = [f"blob{i}" for i in range(1, 21)]
DOUBLE_COLUMNS = [f"double{i}" for i in range(1, 21)]
COLUMNS = ["timestamp", "index1", *BLOB_COLUMNS, *DOUBLE_COLUMNS, "_sample_interval"]


class AnalyticsEngine(Protocol):
    def start(self) -> None: ...

    def ingested(self, files: list[Path]) -> set[str]:
        """Which of these spool files were already ingested (a crash between commit and unlink)."""
        ...

    def ingest(self, dataset: str, files: list[Path]) -> int:
        """Add the files' points to ``dataset`` and record the files, in one transaction; rows added."""
        ...

    def query(self, sql: str, timeout: float, max_rows: int) -> dict[str, Any]:
        """Run one read-only SELECT; ``{"meta", "data", "rows", "rows_before_limit_at_least"}``."""
        ...

    def datasets(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...
