"""A "pool" that is an existing HTTP service (``upstream = "http://host:port/base"``), not processes we run."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from edgeplane.errors import WorkerStartError
from edgeplane.gateway.proxy import Endpoint, UpstreamError
from edgeplane.runtime.supervisor import WorkerSpec, probe

__all__ = ["UpstreamPool"]


class UpstreamPool:
    """Same interface as WorkerPool: ``start``, ``stop``, ``pick``, ``mark_failed``, ``status``."""

    def __init__(self, spec: WorkerSpec) -> None:
        assert spec.upstream is not None
        self.spec = spec
        url = urlsplit(spec.upstream)
        self.base_path = url.path.rstrip("/")
        self.endpoint = Endpoint(host=url.hostname or "127.0.0.1", port=url.port or 80)
        self.healthy: list[Endpoint] = []
        self.stopping = False
        self.last_error = ""

    async def start(self) -> None:
        deadline = time.monotonic() + self.spec.startup_timeout
        path = self.base_path + (self.spec.health_check_path or "/")
        while True:
            try:
                status = await probe(self.endpoint, path)
                if not self.spec.health_check_path or status < 500:
                    self.healthy = [self.endpoint]
                    return
                self.last_error = f"health check {path} answered {status}"
            except (UpstreamError, TimeoutError) as exc:
                self.last_error = str(exc)
            if time.monotonic() > deadline:
                raise WorkerStartError(
                    f"upstream {self.spec.upstream} for version {self.spec.version_id} "
                    f"is not healthy: {self.last_error}",
                    stderr="",
                )
            await asyncio.sleep(0.1)

    def pick(self, exclude: Endpoint | None = None) -> Endpoint | None:
        return None if exclude is self.endpoint else self.endpoint

    def mark_failed(self, endpoint: Endpoint) -> None:
        """An upstream is not ours to restart: it stays in rotation; failures show in responses and metrics."""

    async def scale(self, size: int, grace: float = 0.0) -> None:
        """An upstream's processes are not ours: a rolling deployment only moves traffic."""

    async def stop(self) -> None:
        self.stopping = True
        self.healthy = []
        self.endpoint.close()

    def status(self) -> dict[str, Any]:
        return {"size": 1, "healthy": len(self.healthy), "upstream": self.spec.upstream, "processes": []}
