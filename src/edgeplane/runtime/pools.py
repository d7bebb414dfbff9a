"""The runtime: every live pool, keyed by (app, env, version), started once and shared."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edgeplane.runtime.supervisor import PoolKey, WorkerPool, WorkerSpec
from edgeplane.runtime.upstream import UpstreamPool

__all__ = ["Pool", "Runtime"]

log = logging.getLogger("edgeplane.runtime")

Pool = WorkerPool | UpstreamPool
RETIRE_GRACE = 10.0


class Runtime:
    """Starts, shares and stops pools; the gateway reads ``pools`` through the routing table."""

    def __init__(self, logs_dir: Path) -> None:
        self.logs_dir = logs_dir
        # Unix socket paths are limited to ~107 bytes, so sockets live in a short temporary directory.
        self.run_dir = Path(tempfile.mkdtemp(prefix="edgeplane-"))
        self.pools: dict[PoolKey, Pool] = {}
        self._starting: dict[PoolKey, asyncio.Task[Pool]] = {}
        self._retiring: dict[asyncio.Task[None], Pool] = {}

    async def ensure(self, spec: WorkerSpec) -> Pool:
        """The running pool for ``spec.key``, starting it (once, even if asked concurrently) if needed."""
        pool = self.pools.get(spec.key)
        if pool is not None and not pool.stopping:
            return pool
        task = self._starting.get(spec.key)
        if task is None:
            task = asyncio.create_task(self._start(spec))
            self._starting[spec.key] = task
            task.add_done_callback(lambda _: self._starting.pop(spec.key, None))
        return await asyncio.shield(task)

    async def _start(self, spec: WorkerSpec) -> Pool:
        pool: Pool = UpstreamPool(spec) if spec.upstream else WorkerPool(spec, self.run_dir, self.logs_dir)
        await pool.start()
        self.pools[spec.key] = pool
        log.info("started %s/%s version %s (%s)", spec.app, spec.env, spec.version_id[:8], pool.status()["healthy"])
        return pool

    async def replace(self, spec: WorkerSpec) -> Pool:
        """Start a fresh pool for ``spec.key`` and swap it in; the old one stops after the swap (dev reload)."""
        old = self.pools.get(spec.key)
        pool: Pool = UpstreamPool(spec) if spec.upstream else WorkerPool(spec, self.run_dir, self.logs_dir)
        await pool.start()
        self.pools[spec.key] = pool
        if old is not None:
            asyncio.create_task(old.stop())  # noqa: RUF006 - stop() never raises; nothing to await for
        return pool

    async def stop(self, key: PoolKey) -> None:
        pool = self.pools.pop(key, None)
        if pool is not None:
            await pool.stop()

    def retire(self, key: PoolKey, grace: float = RETIRE_GRACE) -> None:
        """Take a pool out of service now and stop it after ``grace`` seconds, so requests already routed to
        it (the routing table was swapped a moment ago) still find healthy processes."""
        pool = self.pools.pop(key, None)
        if pool is None:
            return

        async def later() -> None:
            await asyncio.sleep(grace)
            await pool.stop()

        task = asyncio.create_task(later())
        self._retiring[task] = pool
        task.add_done_callback(lambda t: self._retiring.pop(t, None))

    def status(self) -> dict[str, Any]:
        return {"/".join((a, e, v)): p.status() for (a, e, v), p in self.pools.items()}

    async def close(self) -> None:
        retiring = dict(self._retiring)
        for task in [*self._starting.values(), *retiring]:
            task.cancel()
        await asyncio.gather(*self._starting.values(), *retiring, return_exceptions=True)
        pools = [*self.pools.values(), *retiring.values()]
        await asyncio.gather(*(p.stop() for p in pools), return_exceptions=True)
        self.pools.clear()
        shutil.rmtree(self.run_dir, ignore_errors=True)
