"""The platform's side of analytics: ingest spool files into the engine, exactly once, and answer queries.

Each pass takes the whole spool files of every dataset (writers rename a file into place only when it is
complete), skips any the engine already recorded (a crash between its commit and the unlink), ingests the rest
in one transaction per dataset, and only then deletes them. A file that fails to ingest is moved to
``spool/_rejected/`` with the reason logged, so one bad file cannot block a dataset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from edgeplane.bindings.analytics.base import AnalyticsEngine
from edgeplane.bindings.errors import BindingError

__all__ = ["AnalyticsStore"]

log = logging.getLogger("edgeplane.analytics")
INGEST_INTERVAL = 0.25
BATCH_AGE = 1.0
"""The background pass leaves a dataset's files until the oldest is this old (seconds) or a full pass waits: a
pass has a fixed cost (a transaction, the ingested-files bookkeeping), which dominates at a few hundred points."""
FILES_PER_PASS = 512


class AnalyticsStore:
    def __init__(self, engine: AnalyticsEngine, spool_dir: Path) -> None:
        self.engine = engine
        self.spool_dir = spool_dir
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.points_ingested = 0

    async def start(self) -> None:
        await asyncio.to_thread(self.engine.start)
        await self.ingest()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(INGEST_INTERVAL)
            try:
                await self.ingest(min_age=BATCH_AGE)
            except Exception:  # keep ingesting; the reason is in the log
                log.exception("analytics ingest pass failed")

    def _pending(self, min_age: float = 0.0) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        if not self.spool_dir.is_dir():
            return found
        now = time.time()
        for directory in sorted(self.spool_dir.iterdir()):
            if directory.is_dir() and not directory.name.startswith("_"):
                files = sorted(directory.glob("*.jsonl"))[:FILES_PER_PASS]
                if min_age and len(files) < FILES_PER_PASS and files and now - _oldest(files) < min_age:
                    continue
                if files:
                    found[directory.name] = files
        return found

    def _ingest_dataset(self, dataset: str, files: list[Path]) -> int:
        done = self.engine.ingested(files)
        for file in files:
            if file.name in done:
                file.unlink(missing_ok=True)
        files = [f for f in files if f.name not in done]
        if not files:
            return 0
        try:
            added = self.engine.ingest(dataset, files)
        except BindingError:
            raise
        except Exception as exc:
            if len(files) == 1:
                self._reject(files[0], exc)
                return 0
            return sum(self._ingest_dataset(dataset, [f]) for f in files)  # find the bad file
        for file in files:
            file.unlink(missing_ok=True)
        return added

    def _reject(self, file: Path, exc: Exception) -> None:
        rejected = self.spool_dir / "_rejected"
        rejected.mkdir(exist_ok=True)
        file.rename(rejected / file.name)
        log.error("analytics spool file %s could not be ingested (moved to %s): %s", file.name, rejected, exc)

    async def ingest(self, min_age: float = 0.0) -> int:
        """One pass over the spool (datasets whose oldest file is at least ``min_age`` seconds old); points
        added."""
        async with self._lock:
            added = 0
            for dataset, files in self._pending(min_age).items():
                added += await asyncio.to_thread(self._ingest_dataset, dataset, files)
            self.points_ingested += added
            return added

    async def drain(self) -> None:
        """Ingest until the spool is empty (at shutdown, after the workers flushed)."""
        while self._pending():
            await self.ingest()

    async def query(self, sql: str, timeout: float = 30.0, max_rows: int = 10_000) -> dict[str, Any]:
        return await asyncio.to_thread(self.engine.query, sql, timeout, max_rows)

    async def datasets(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.engine.datasets)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.drain()
        await asyncio.to_thread(self.engine.close)


def _oldest(files: list[Path]) -> float:
    """The oldest modification time of ``files`` (a file that vanished meanwhile counts as new)."""
    times = []
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            times.append(file.stat().st_mtime)
    return min(times, default=time.time())
