"""Supervised pools of worker processes, one pool per live (app, environment, version).

A pool starts ``pool_size`` processes, each serving the version's ASGI app on its own Unix socket, and only
reports ready once every process passed its health check. A process that dies is taken out of rotation at
once and restarted with exponential backoff. A version whose processes fail to start raises WorkerStartError
carrying their output, and leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeplane.errors import WorkerStartError
from edgeplane.gateway.proxy import Endpoint, UpstreamError

__all__ = ["PoolKey", "WorkerPool", "WorkerSpec"]

log = logging.getLogger("edgeplane.runtime")

PoolKey = tuple[str, str, str]  # (app, env, version_id)
BACKOFF_START = 0.1
BACKOFF_MAX = 10.0
STABLE_AFTER = 30.0
STOP_GRACE = 35.0  # longer than a worker's own drain (30 s), so in-flight requests finish before SIGKILL
STDERR_TAIL = 4000
_socket_ids = itertools.count(1)
WORKER_ENV_KEEP = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "SSL_CERT_FILE"})


@dataclass(frozen=True)
class WorkerSpec:
    """Everything needed to run one version in one environment."""

    app: str
    env: str
    version_id: str
    root: Path | None
    main: str | None
    upstream: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    bindings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Binding configs by kind (``kv``, ``d1``, ``r2``, ``analytics``), opened inside each worker process."""
    data_dir: str = ""
    """The platform's data directory (embedded backends keep their files under it)."""
    pool_size: int = 2
    health_check_path: str | None = None
    startup_timeout: float = 30.0
    inherit_stdio: bool = False

    @property
    def key(self) -> PoolKey:
        return (self.app, self.env, self.version_id)


async def probe(endpoint: Endpoint, path: str, timeout: float = 2.0) -> int:
    """GET ``path`` on a fresh connection; returns the status (raises UpstreamError/TimeoutError)."""
    conn = await endpoint.connect()
    try:
        conn.start(f"GET {path} HTTP/1.1\r\nhost: edgeplane-health\r\n\r\n".encode(), b"", head_only=False)
        await conn.response_head(timeout)
        return conn.status
    finally:
        conn.close()


class WorkerProcess:
    """One OS process of a pool, with its socket endpoint and restart bookkeeping."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.endpoint: Endpoint | None = None
        self.healthy = False
        self.restarts = 0
        self.started_at = 0.0
        self.log_offset = 0
        self.watcher: asyncio.Task[None] | None = None

    @property
    def log_path(self) -> Path:
        spec = self.pool.spec
        return self.pool.logs_dir / f"{spec.app}-{spec.env}-{spec.version_id[:8]}-{self.index}.log"

    async def spawn(self) -> None:
        spec = self.pool.spec
        assert spec.root is not None and spec.main is not None
        sock = str(self.pool.run_dir / f"w{next(_socket_ids)}.sock")
        payload = {
            "root": str(spec.root), "main": spec.main, "socket": sock, "vars": spec.vars,
            "bindings": spec.bindings, "data_dir": spec.data_dir,
        }  # fmt: skip
        # Workers get a minimal environment: the platform's own variables (tokens, database URLs) stay out.
        env = {k: v for k, v in os.environ.items() if k in WORKER_ENV_KEEP or k.startswith("LC_")}
        env |= {"EDGEPLANE_WORKER_SPEC": json.dumps(payload), "PYTHONUNBUFFERED": "1"}
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        out: Any = None
        if not spec.inherit_stdio:
            out = self.log_path.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "edgeplane.runtime.worker_main",
                env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out,
                stderr=asyncio.subprocess.STDOUT if out else None,
            )  # fmt: skip
        finally:
            if out is not None:
                out.close()
        self.endpoint = Endpoint(unix_path=sock)
        self.started_at = time.monotonic()

    def output_tail(self) -> str:
        if self.pool.spec.inherit_stdio or not self.log_path.exists():
            return "(output went to the terminal)"
        with self.log_path.open("rb") as fh:
            fh.seek(max(self.log_offset, self.log_path.stat().st_size - STDERR_TAIL))
            return fh.read().decode("utf-8", "replace")

    async def wait_healthy(self, timeout: float) -> None:
        """Poll the readiness probe (then the app's health path) until it passes, the process exits or time runs out."""
        assert self.proc is not None and self.endpoint is not None
        deadline = time.monotonic() + timeout
        path = "/__edgeplane/ready"
        while True:
            if self.proc.returncode is not None:
                raise WorkerStartError(
                    f"worker process {self.index} of version {self.pool.spec.version_id} exited with status "
                    f"{self.proc.returncode} during start-up",
                    stderr=self.output_tail(),
                )
            status = await self._try(path)
            if status is not None and status < 500:
                if path == self.pool.spec.health_check_path or not self.pool.spec.health_check_path:
                    self.healthy = True
                    return
                path = self.pool.spec.health_check_path
                continue
            if time.monotonic() > deadline:
                detail = f"its health check {path} answered {status}" if status else "it never became ready"
                raise WorkerStartError(
                    f"worker process {self.index} of version {self.pool.spec.version_id}: {detail} "
                    f"within {timeout:.0f}s",
                    stderr=self.output_tail(),
                )
            await asyncio.sleep(0.05)

    async def _try(self, path: str) -> int | None:
        assert self.endpoint is not None
        try:
            return await probe(self.endpoint, path)
        except (UpstreamError, TimeoutError):
            return None

    async def watch(self) -> None:
        """Restart the process whenever it dies, with exponential backoff, until the pool stops."""
        backoff = BACKOFF_START
        while True:
            assert self.proc is not None
            code = await self.proc.wait()
            self.healthy = False
            self.pool.refresh()
            if self.pool.stopping:
                return
            ran = time.monotonic() - self.started_at
            backoff = BACKOFF_START if ran > STABLE_AFTER else min(backoff * 2, BACKOFF_MAX)
            log.warning(
                "worker %s[%d] exited with %s after %.1fs; restarting in %.1fs: %s",
                self.pool.spec.version_id[:8], self.index, code, ran, backoff, self.output_tail()[-500:],
            )  # fmt: skip
            await asyncio.sleep(backoff)
            if self.pool.stopping:
                return
            self.restarts += 1
            await self._respawn()

    async def _respawn(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
        try:
            await self.spawn()
            await self.wait_healthy(self.pool.spec.startup_timeout)
        except asyncio.CancelledError:
            self._kill()  # the pool is stopping: leave no untracked process behind
            raise
        except (WorkerStartError, OSError) as exc:
            message = exc.message if isinstance(exc, WorkerStartError) else str(exc)
            log.error("worker %s[%d] failed to restart: %s", self.pool.spec.version_id[:8], self.index, message)
            self._kill()
            if self.proc is None:
                await asyncio.sleep(BACKOFF_MAX)  # could not even spawn: retry later (watch() loops on)
                await self._respawn()
            return
        self.pool.refresh()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


class WorkerPool:
    """The running processes of one version in one environment."""

    def __init__(self, spec: WorkerSpec, run_dir: Path, logs_dir: Path) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.logs_dir = logs_dir
        self.processes = [WorkerProcess(self, i) for i in range(spec.pool_size)]
        self.healthy: list[Endpoint] = []
        self.stopping = False
        self._rr = 0
        self._draining: set[asyncio.Task[None]] = set()
        self._leaving: list[WorkerProcess] = []

    def refresh(self) -> None:
        """Rebuild the rotation from the processes that are healthy and alive."""
        self.healthy = [
            p.endpoint
            for p in self.processes
            if p.healthy and p.endpoint is not None and p.proc is not None and p.proc.returncode is None
        ]

    def pick(self, exclude: Endpoint | None = None) -> Endpoint | None:
        """Round-robin over healthy processes, skipping ``exclude`` (a process that just failed)."""
        healthy = self.healthy
        n = len(healthy)
        for _ in range(n):
            self._rr = (self._rr + 1) % n
            endpoint = healthy[self._rr]
            if endpoint is not exclude:
                return endpoint
        return None

    def mark_failed(self, endpoint: Endpoint) -> None:
        """Take a process out of rotation after a connection failure (its watcher decides what next)."""
        for p in self.processes:
            if p.endpoint is endpoint and p.proc is not None and p.proc.returncode is not None:
                p.healthy = False
        self.refresh()

    async def start(self) -> None:
        """Start every process and wait until all are healthy; on failure stop them and raise."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self._bring_up(self.processes)
        except BaseException:
            await self.stop()
            raise
        self.refresh()

    async def _bring_up(self, processes: list[WorkerProcess]) -> None:
        """Spawn ``processes``, wait until every one is healthy, then watch them (restart on exit); if any
        fails, stop them all and raise."""
        try:
            for p in processes:
                await p.spawn()
            await asyncio.gather(*(p.wait_healthy(self.spec.startup_timeout) for p in processes))
        except BaseException:
            await asyncio.gather(*(p.stop() for p in processes), return_exceptions=True)
            raise
        for p in processes:
            p.watcher = asyncio.create_task(p.watch(), name=f"watch-{self.spec.version_id[:8]}-{p.index}")

    async def scale(self, size: int, grace: float = 0.0) -> None:
        """Grow to ``size`` processes (returning once the new ones are healthy and in rotation) or shrink to it
        (the extra processes leave the rotation at once and are stopped after ``grace`` seconds, in the
        background, so requests they already have can finish). Rolling deployments use this."""
        size = max(1, size)
        if size > len(self.processes):
            first = max(p.index for p in self.processes) + 1 if self.processes else 0
            new = [WorkerProcess(self, first + i) for i in range(size - len(self.processes))]
            await self._bring_up(new)
            self.processes += new
            self.refresh()
        elif size < len(self.processes):
            drop = self.processes[size:]
            self.processes = self.processes[:size]
            self._leaving += drop
            self.refresh()

            async def retire() -> None:
                await asyncio.sleep(grace)
                await self._stop_processes(drop)

            task = asyncio.create_task(retire())
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)

    async def stop(self) -> None:
        self.stopping = True
        self.healthy = []
        for task in list(self._draining):  # processes already leaving: stop them now, with the rest
            task.cancel()
        await self._stop_processes([*self._leaving, *self.processes])

    async def _stop_processes(self, processes: list[WorkerProcess]) -> None:
        """Stop watching first (so nothing is restarted behind our back), then stop the processes."""
        watchers = [p.watcher for p in processes if p.watcher is not None]
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        await asyncio.gather(*(p.stop() for p in processes), return_exceptions=True)
        for p in processes:
            if p.endpoint is not None:
                p.endpoint.close()
            if p in self._leaving:
                self._leaving.remove(p)

    def status(self) -> dict[str, Any]:
        return {
            "size": len(self.processes),
            "healthy": len(self.healthy),
            "processes": [
                {
                    "index": p.index,
                    "pid": p.proc.pid if p.proc else None,
                    "healthy": p.healthy,
                    "restarts": p.restarts,
                    "log": str(p.log_path),
                }
                for p in self.processes
            ],
        }
