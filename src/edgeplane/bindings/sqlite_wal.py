"""Opening a SQLite file that several processes share (KV and D1 backends).

Switching to WAL needs a moment of exclusive access, and SQLite answers "database is locked" at once (without
its busy timeout) when another process holds the file then: exactly what happens when a version's worker
processes start together. WAL mode is stored in the file, so it is set once, with retries, and skipped after.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

__all__ = ["connect_shared"]

RETRY_SECONDS = 10.0


def connect_shared(path: Path, *, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection in autocommit mode, usable from one other thread, on a WAL database."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    deadline = time.monotonic() + RETRY_SECONDS
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
