"""Several processes opening one fresh SQLite file at the same moment (a worker pool starting) must all succeed."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from edgeplane.bindings.kv.sqlite import Backend as KVBackend
from edgeplane.bindings.sql.sqlite import Backend as SQLBackend


def _open(path: str, kind: str, barrier: Any) -> None:
    barrier.wait()
    if kind == "kv":
        KVBackend(Path(path))
    else:
        SQLBackend(Path(path))


def test_concurrent_opens_of_a_fresh_file(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for kind in ("kv", "sql"):
        for attempt in range(3):
            path = tmp_path / f"{kind}-{attempt}.sqlite3"
            barrier = ctx.Barrier(8)
            procs = [ctx.Process(target=_open, args=(str(path), kind, barrier)) for _ in range(8)]
            for p in procs:
                p.start()
            for p in procs:
                p.join(30)
            assert [p.exitcode for p in procs] == [0] * 8, f"{kind}: some processes failed to open {path.name}"
