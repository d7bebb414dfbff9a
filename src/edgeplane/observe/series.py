"""Recorded request metrics: the gateway's cumulative per-version counters, turned into one point per series
every ``resolution`` seconds, so SLOs and alert rules can ask "how many requests, errors, and how slow, over the
last 5 minutes / 6 hours / 30 days" without scanning request logs.

Why record instead of querying the request analytics dataset: a rule's cost then depends on the window's number
of points, not on the request rate (an hour at 10 s resolution is 360 points per series whether the gateway
served 10 or 10,000 requests a second). It is what Prometheus recording rules do for Sloth/Pyrra SLOs.

Points newer than ``memory`` seconds are also kept in memory (alert windows read no database); older points are
compacted to one per ``COMPACT_STEP`` and deleted after ``retention``.

Series keys: ``app|env|version_id`` for requests through the gateway, ``probe|name|colo`` for synthetic probes
(``requests`` = checks, ``errors`` = failed checks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, or_, select

from edgeplane.config.observe import ObserveSettings
from edgeplane.control.schema import metric_points
from edgeplane.control.store import Store
from edgeplane.gateway.counters import BUCKETS, bucket_of, quantile, upper_edge
from edgeplane.gateway.stages.observe import GatewayStats

__all__ = ["COMPACT_STEP", "Point", "Recorder", "Window", "probe_key", "request_key", "split_key"]

log = logging.getLogger("edgeplane.observe")
COMPACT_STEP = 300.0
COMPACT_EVERY = 3600.0
LONG_REFRESH = COMPACT_STEP
"""How often the database part of a window longer than ``memory`` is read again (see Recorder.long_windows)."""


def request_key(app: str, env: str, version_id: str) -> str:
    return f"{app}|{env}|{version_id}"


def probe_key(name: str, colo: str) -> str:
    return f"probe|{name}|{colo}"


def split_key(key: str) -> dict[str, str]:
    """The labels of a series key."""
    a, b, c = key.split("|", 2)
    if a == "probe":
        return {"probe": b, "colo": c}
    return {"app": a, "env": b, "version": c}


@dataclass(slots=True)
class Point:
    at: float
    requests: int
    errors: int
    c4xx: int
    latency_sum: float
    hist: dict[int, int]


@dataclass(slots=True)
class Window:
    """Sums over some points: what a rule or an SLO reads."""

    seconds: float
    requests: int = 0
    errors: int = 0
    c4xx: int = 0
    latency_sum: float = 0.0
    hist: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, p: Point) -> None:
        self.requests += p.requests
        self.errors += p.errors
        self.c4xx += p.c4xx
        self.latency_sum += p.latency_sum
        hist = self.hist
        for bucket, n in p.hist.items():
            hist[bucket] += n

    def merge(self, other: Window) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.c4xx += other.c4xx
        self.latency_sum += other.latency_sum
        self.hist = [a + b for a, b in zip(self.hist, other.hist, strict=True)]

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def quantile_ms(self, q: float) -> float | None:
        return quantile(self.hist, q)

    def slower_than(self, ms: float) -> int:
        """Requests slower than ``ms`` (bucket precision: ~5%)."""
        return sum(self.hist[bucket_of(ms) + 1 :])


def _sparse(hist: list[int]) -> dict[int, int]:
    return {i: n for i, n in enumerate(hist) if n}


class Recorder:
    """Records every series once per ``resolution`` and answers window sums."""

    def __init__(self, store: Store, stats: GatewayStats, settings: ObserveSettings,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.store = store
        self.stats = stats
        self.settings = settings
        self.clock = clock
        self.memory: dict[str, deque[Point]] = {}
        self._last: dict[str, tuple[int, int, int, float, list[int]]] = {}
        self._probes: dict[str, Point] = {}
        self._task: asyncio.Task[None] | None = None
        self._compacted_at = 0.0
        self._long: dict[float, tuple[float, dict[str, Window]]] = {}
        self.last_record_at = 0.0
        self.points_written = 0

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._load()
        for key, counters in self.stats.versions.items():  # count from now: earlier requests were recorded
            self._last[request_key(*key)] = self._snapshot(counters)
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.record()  # the last partial step: a clean shutdown loses nothing
        except Exception:
            log.exception("could not record the last metric points")

    async def _run(self) -> None:
        step = self.settings.resolution
        while True:
            now = self.clock()
            await asyncio.sleep(step - (now % step))  # aligned steps: points of every node share timestamps
            try:
                await self.record()
                if self.clock() - self._compacted_at >= COMPACT_EVERY:
                    await self.compact()
            except Exception:  # keep recording; the reason is in the log
                log.exception("recording metric points failed")

    async def _load(self) -> None:
        since = self.clock() - self.settings.memory - LONG_REFRESH
        query = select(metric_points).where(metric_points.c.at >= since).order_by(metric_points.c.at)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            hist = {int(k): int(v) for k, v in row.hist.items()}
            point = Point(row.at, row.requests, row.errors, row.c4xx, row.latency_sum, hist)
            self._remember(row.series, point)

    # -- recording -----------------------------------------------------------------------------------------
    @staticmethod
    def _snapshot(c: Any) -> tuple[int, int, int, float, list[int]]:
        return c.requests, c.errors, c.classes[4], c.latency_sum, list(c.hist)

    def add_probe(self, name: str, colo: str, ok: bool, latency_ms: float) -> None:
        """One synthetic check's result, recorded with the next step."""
        key = probe_key(name, colo)
        point = self._probes.get(key)
        if point is None:
            point = self._probes[key] = Point(0.0, 0, 0, 0, 0.0, {})
        point.requests += 1
        point.errors += 0 if ok else 1
        point.latency_sum += latency_ms
        bucket = bucket_of(latency_ms)
        point.hist[bucket] = point.hist.get(bucket, 0) + 1

    def _deltas(self, at: float) -> list[tuple[str, Point]]:
        out: list[tuple[str, Point]] = []
        for key, counters in list(self.stats.versions.items()):
            series = request_key(*key)
            now = self._snapshot(counters)
            before = self._last.get(series)
            self._last[series] = now
            if before is None:
                before = (0, 0, 0, 0.0, [0] * BUCKETS)
            requests = now[0] - before[0]
            if requests <= 0:
                continue
            hist = {i: a - b for i, (a, b) in enumerate(zip(now[4], before[4], strict=True)) if a != b}
            out.append((series, Point(at, requests, now[1] - before[1], now[2] - before[2], now[3] - before[3], hist)))
        for series, point in self._probes.items():
            point.at = at
            out.append((series, point))
        self._probes = {}
        return out

    async def record(self) -> int:
        """Take one step's deltas of every series; return how many points were written."""
        at = self.clock()
        points = self._deltas(at)
        self.last_record_at = at
        if not points:
            return 0
        for series, point in points:
            self._remember(series, point)
        rows = [
            {"at": p.at, "series": s, "requests": p.requests, "errors": p.errors, "c4xx": p.c4xx,
             "latency_sum": p.latency_sum, "hist": {str(k): v for k, v in p.hist.items()}}
            for s, p in points
        ]  # fmt: skip
        async with self.store._tx() as conn:
            await conn.execute(insert(metric_points), rows)
        self.points_written += len(rows)
        return len(rows)

    def _remember(self, series: str, point: Point) -> None:
        ring = self.memory.get(series)
        if ring is None:
            ring = self.memory[series] = deque()
        ring.append(point)
        horizon = point.at - self.settings.memory - LONG_REFRESH  # long windows read memory back to a boundary
        while ring and ring[0].at < horizon:
            ring.popleft()

    # -- reading -------------------------------------------------------------------------------------------
    def series(self, prefix: str = "") -> list[str]:
        return [k for k in self.memory if k.startswith(prefix)]

    def window(self, series: str, seconds: float, *, now: float | None = None) -> Window:
        """Sums of one series' points in the last ``seconds`` (points stamped in ``(now - seconds, now]``),
        from memory; see :meth:`long_windows` for windows longer than ``memory``."""
        now = self.clock() if now is None else now
        return self._between(series, now - seconds, now, Window(seconds))

    def _between(self, series: str, start: float, end: float, out: Window) -> Window:
        ring = self.memory.get(series)
        if not ring:
            return out
        for p in reversed(ring):  # newest first: the cost is the window's points, not the ring's
            if p.at <= start:
                break
            if p.at <= end:
                out.add(p)
        return out

    async def long_windows(self, seconds: float, *, now: float | None = None) -> dict[str, Window]:
        """Sums per series over the last ``seconds``, any length up to ``retention``.

        The part older than a boundary (a multiple of LONG_REFRESH at least ``memory`` back) comes from the
        database and is kept until the boundary moves: those points only change by compaction, which keeps
        their sums. The rest comes from memory. So a 30-day SLO costs one database read every LONG_REFRESH
        seconds, not one per evaluation; its window starts up to LONG_REFRESH late meanwhile."""
        now = self.clock() if now is None else now
        boundary = (now - self.settings.memory) // LONG_REFRESH * LONG_REFRESH
        cached = self._long.get(seconds)
        if cached is None or cached[0] != boundary:
            cached = self._long[seconds] = (boundary, await self.window_db([""], now - seconds, boundary))
        out: dict[str, Window] = {}
        for series, old in cached[1].items():
            out[series] = total = Window(seconds)
            total.merge(old)
        for series in self.memory:
            total = out.get(series) or out.setdefault(series, Window(seconds))
            self._between(series, max(boundary, now - seconds), now, total)
        return out

    async def window_db(self, prefixes: Iterable[str], since: float, until: float) -> dict[str, Window]:
        """Sums per series of the database's points stamped in ``(since, until]``."""
        out: dict[str, Window] = {}
        conditions = [metric_points.c.series.startswith(p) for p in prefixes]
        columns = (metric_points.c.series, metric_points.c.requests, metric_points.c.errors, metric_points.c.c4xx,
                   metric_points.c.latency_sum, metric_points.c.hist)  # fmt: skip
        query = select(*columns).where(metric_points.c.at > since, metric_points.c.at <= until, or_(*conditions))
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for series, requests, errors, c4xx, latency_sum, sparse in rows:
            w = out.get(series)
            if w is None:
                w = out[series] = Window(until - since)
            w.requests += requests
            w.errors += errors
            w.c4xx += c4xx
            w.latency_sum += latency_sum
            hist = w.hist
            for bucket, n in sparse.items():
                hist[int(bucket)] += n
        return out

    # -- upkeep --------------------------------------------------------------------------------------------
    async def compact(self) -> tuple[int, int]:
        """Merge points older than ``memory`` into one per series and ``COMPACT_STEP``; delete points older than
        ``retention``. Returns (points merged away, points deleted)."""
        now = self.clock()
        self._compacted_at = now
        horizon = now - self.settings.memory
        merged = 0
        bucket = func.floor(metric_points.c.at / COMPACT_STEP)
        async with self.store._tx() as conn:
            deleted = (
                await conn.execute(delete(metric_points).where(metric_points.c.at < now - self.settings.retention))
            ).rowcount or 0
            crowded = (
                await conn.execute(
                    select(metric_points.c.series, bucket.label("b"))
                    .where(metric_points.c.at < horizon)
                    .group_by(metric_points.c.series, bucket)
                    .having(func.count() > 1)
                )
            ).all()
            for series, b in crowded:
                lo, hi = b * COMPACT_STEP, (b + 1) * COMPACT_STEP
                where = (metric_points.c.series == series, metric_points.c.at >= lo, metric_points.c.at < hi,
                         metric_points.c.at < horizon)  # fmt: skip
                rows = (await conn.execute(select(metric_points).where(*where))).all()
                total = Window(COMPACT_STEP)
                for row in rows:
                    hist = {int(k): int(v) for k, v in row.hist.items()}
                    total.add(Point(row.at, row.requests, row.errors, row.c4xx, row.latency_sum, hist))
                await conn.execute(delete(metric_points).where(*where))
                await conn.execute(insert(metric_points).values(
                    at=max(r.at for r in rows), series=series, requests=total.requests, errors=total.errors,
                    c4xx=total.c4xx, latency_sum=total.latency_sum,
                    hist={str(k): v for k, v in _sparse(total.hist).items()},
                ))  # fmt: skip
                merged += len(rows) - 1
        return merged, deleted


def edges_ms() -> list[float]:
    """Upper edges of the latency buckets (ms)."""
    return [upper_edge(i) for i in range(BUCKETS)]
