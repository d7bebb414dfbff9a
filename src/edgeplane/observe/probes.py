"""Synthetic probes: the alerting file's ``[[probes]]``, each checked every ``interval`` from this node.

Every check is one HTTP request (one shared ``httpx.AsyncClient``; redirects are not followed, so a probe can
expect a 301) with the probe's own timeout. Its result — ok or failed, latency, HTTP status, a short error —
goes three ways:

- the metric recorder (``probe|<name>|<colo>`` series: ``probe_checks``, ``probe_failures``,
  ``probe_success_rate``, ``probe_latency_p95_ms`` for alert rules and SLOs);
- the ``edgeplane_probes`` analytics dataset, one data point per check (columns in :data:`COLUMNS`), so
  results of every node can be queried together with SQL;
- memory: the recent results of each probe, for ``GET /v1/probes`` (success rate and p95 over the last hour).

A target that is down is a failed result, never an exception in the loop; each probe runs in its own task so
a slow one never delays the others. ``reload()`` follows the alerting file: only added, removed or changed
probes are started or stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from edgeplane.bindings.analytics import AnalyticsDataset, spool_dir
from edgeplane.config.observe import ProbeConfig
from edgeplane.observe.health import iso_ms, safe_reason

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["COLUMNS", "DATASET", "ProbeResult", "Probes", "public_url"]

log = logging.getLogger("edgeplane.probes")

DATASET = "edgeplane_probes"
COLUMNS = {
    "index1": "probe name",
    "blob1": "probe name",
    "blob2": "colo (the node that ran the check)",
    "blob3": "URL (credentials removed)",
    "blob4": "method",
    "blob5": "'ok' or 'failed'",
    "blob6": "error ('' when ok)",
    "double1": "latency (ms)",
    "double2": "HTTP status (0 when no response)",
    "double3": "1 when ok, else 0",
}
"""The ``edgeplane_probes`` data point's columns."""
HOUR = 3600.0
KEEP_MIN = 100
KEEP_MAX = 10_000
"""Results kept per probe: an hour's worth (for the hourly figures), at least KEEP_MIN, at most KEEP_MAX."""
BODY_LIMIT = 1 << 20
"""Bytes of a response body read (and searched for ``expect_body``)."""
STALL_SLACK = 5.0
FIRST_CHECK_AFTER = 1.0
_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")


def public_url(url: str) -> str:
    """The URL without ``user:password@`` (what is shown and stored)."""
    return _CREDENTIALS.sub(r"\1", url)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    at: float
    ok: bool
    latency_ms: float
    status: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"at": iso_ms(self.at), "ok": self.ok, "latency_ms": round(self.latency_ms, 2), "status": self.status,
                "error": self.error}  # fmt: skip


@dataclass(eq=False)
class _Runner:
    config: ProbeConfig
    results: deque[ProbeResult]
    started_at: float
    task: asyncio.Task[None] | None = None
    last_run_at: float = 0.0


def _keep(interval: float) -> int:
    return max(KEEP_MIN, min(KEEP_MAX, math.ceil(HOUR / interval) + 1))


def _offset(name: str, interval: float) -> float:
    """Delay before a probe's first check: at least FIRST_CHECK_AFTER (the node starts listening right after
    the control plane starts, and a probe of its own gateway must not fail for that), spread over the interval
    by the probe's name so many probes do not fire together."""
    spread = zlib.crc32(name.encode()) / 2**32 * interval
    return min(interval, FIRST_CHECK_AFTER + spread)


def _error_of(exc: Exception, probe: ProbeConfig) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out after {probe.timeout:g} s"
    text = safe_reason(exc, 300)
    return f"{type(exc).__name__}: {text}"[:300] if text != type(exc).__name__ else text


def _p95(latencies: list[float]) -> float | None:
    if not latencies:
        return None
    ordered = sorted(latencies)
    return round(ordered[math.ceil(0.95 * len(ordered)) - 1], 2)


class Probes:
    """``control.observe.probes``: runs the configured probes of this node."""

    def __init__(self, control: ControlPlane) -> None:
        self.control = control
        self.colo = control.config.colo
        self.clock = time.time
        self._runners: dict[str, _Runner] = {}
        self._client: httpx.AsyncClient | None = None
        self._dataset: AnalyticsDataset | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._client = httpx.AsyncClient(follow_redirects=False)
        self._dataset = AnalyticsDataset(DATASET, spool_dir(self.control.data_dir))
        await self.reload()

    async def reload(self) -> None:
        """Follow ``control.observe.alerting.probes``: stop removed and changed probes, start new and changed
        ones; unchanged probes keep running (and keep their results)."""
        if self._client is None:
            return  # not started: start() reads the config
        wanted = {p.name: p for p in self.control.observe.alerting.probes}
        stale = [name for name, runner in self._runners.items() if wanted.get(name) != runner.config]
        await asyncio.gather(*(self._stop(self._runners.pop(name)) for name in stale))
        added = [config for name, config in wanted.items() if name not in self._runners]
        for config in added:
            runner = _Runner(config, deque(maxlen=_keep(config.interval)), self.clock())
            runner.task = asyncio.create_task(self._loop(runner), name=f"probe {config.name}")
            self._runners[config.name] = runner
        if stale or added:
            log.info("probes: %d running; started %s; stopped %s", len(self._runners),
                     [c.name for c in added] or "none", stale or "none")  # fmt: skip

    @staticmethod
    async def _stop(runner: _Runner) -> None:
        if runner.task is not None:
            runner.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner.task

    async def close(self) -> None:
        runners, self._runners = list(self._runners.values()), {}
        await asyncio.gather(*(self._stop(r) for r in runners))
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._dataset is not None:
            await self._dataset.close()  # to the spool: ingested before the analytics store closes
            self._dataset = None

    # -- running ---------------------------------------------------------------------------------------------
    async def _loop(self, runner: _Runner) -> None:
        loop = asyncio.get_running_loop()
        interval = runner.config.interval
        await asyncio.sleep(_offset(runner.config.name, interval))
        while True:
            began = loop.time()
            try:
                self._record(runner, await self.run_once(runner.config))
            except Exception:  # a bug here must not end the probe; the reason is in the log
                log.exception("probe %s: recording a result failed", runner.config.name)
            await asyncio.sleep(max(0.0, interval - (loop.time() - began)))

    async def run_once(self, probe: ProbeConfig) -> ProbeResult:
        """One check of ``probe``; never raises (except when cancelled)."""
        at = self.clock()
        started = time.perf_counter()
        status: int | None = None
        body = b""
        error: str | None = None
        try:
            async with asyncio.timeout(probe.timeout):
                body, status = await self._fetch(probe)
        except Exception as exc:  # the target is down, slow or wrong: a failed result
            error = _error_of(exc, probe)
        latency_ms = (time.perf_counter() - started) * 1000
        if error is None and status not in probe.expect_status:
            error = f"status {status}, expected {' or '.join(map(str, probe.expect_status))}"
        elif (
            error is None and probe.expect_body is not None and probe.expect_body not in body.decode("utf-8", "replace")
        ):
            error = f"the body does not contain {probe.expect_body[:80]!r}"
        return ProbeResult(at, error is None, latency_ms, status, error)

    async def _fetch(self, probe: ProbeConfig) -> tuple[bytes, int]:
        assert self._client is not None
        chunks: list[bytes] = []
        size = 0
        request = self._client.stream(probe.method, probe.url, headers=probe.headers, timeout=probe.timeout)
        async with request as response:
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= BODY_LIMIT:
                    break
            return b"".join(chunks), response.status_code

    def _record(self, runner: _Runner, result: ProbeResult) -> None:
        probe = runner.config
        runner.results.append(result)
        runner.last_run_at = self.clock()
        self.control.observe.recorder.add_probe(probe.name, self.colo, result.ok, result.latency_ms)
        if self._dataset is not None:
            self._dataset.write_data_point(
                blobs=[probe.name, self.colo, public_url(probe.url)[:2000], probe.method,
                       "ok" if result.ok else "failed", result.error or ""],
                doubles=[result.latency_ms, result.status or 0, 1 if result.ok else 0],
                indexes=[probe.name[:96]],
            )  # fmt: skip
        if not result.ok:
            log.info("probe %s failed from %s: %s", probe.name, self.colo, result.error)

    # -- reading ---------------------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self._runners)

    def names(self) -> list[str]:
        return sorted(self._runners)

    def failing(self) -> list[str]:
        """Probes whose latest check failed."""
        return sorted(n for n, r in self._runners.items() if r.results and not r.results[-1].ok)

    def stalled(self) -> list[str]:
        """Probes whose loop has stopped or fallen behind (for /health)."""
        now = self.clock()
        out = []
        for name, r in self._runners.items():
            allowed = 2 * r.config.interval + r.config.timeout + STALL_SLACK
            if (r.task is not None and r.task.done()) or now - (r.last_run_at or r.started_at) > allowed:
                out.append(name)
        return sorted(out)

    def results(self, name: str, limit: int = 20) -> list[dict[str, Any]] | None:
        """The latest ``limit`` results of one probe, newest first (None: no such probe)."""
        runner = self._runners.get(name)
        if runner is None:
            return None
        recent = list(runner.results)[-limit:] if limit > 0 else []
        return [r.to_dict() for r in reversed(recent)]

    def summary(self, name: str) -> dict[str, Any] | None:
        """One probe's configuration (without headers' values), latest result and the last hour's figures."""
        runner = self._runners.get(name)
        if runner is None:
            return None
        probe = runner.config
        since = self.clock() - HOUR
        hour = [r for r in runner.results if r.at > since]
        ok = sum(1 for r in hour if r.ok)
        return {
            "name": probe.name, "url": public_url(probe.url), "method": probe.method, "colo": self.colo,
            "interval_s": probe.interval, "timeout_s": probe.timeout, "expect_status": probe.expect_status,
            "latest": runner.results[-1].to_dict() if runner.results else None,
            "checks_1h": len(hour), "failures_1h": len(hour) - ok,
            "success_rate_1h": round(ok / len(hour), 4) if hour else None,
            "p95_latency_ms_1h": _p95([r.latency_ms for r in hour]),
        }  # fmt: skip
