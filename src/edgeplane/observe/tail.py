"""Live tail: request records streamed to whoever runs ``edgeplane tail`` (``GET /v1/tail``, server-sent events).

The hub is a gateway observer only while someone tails: the first subscriber registers it, the last one removes
it, so with nobody tailing the request path does not even call it. Each subscriber has its own filters and a
bounded queue; when a reader is slower than the traffic, records are dropped and counted (the stream reports the
count) instead of growing memory or slowing the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from edgeplane.errors import BadRequest
from edgeplane.gateway.stages.observe import GatewayStats, RequestRecord

__all__ = ["QUEUE_SIZE", "TailFilter", "TailHub", "TailSubscriber", "record_json"]

QUEUE_SIZE = 1000
"""Records a subscriber may have waiting before new ones are dropped."""
_STATUS = re.compile(r"^(?:[1-5]xx|[1-5]\d\d)$")


@dataclass(frozen=True, slots=True)
class TailFilter:
    """Which records a subscriber wants; every given field must match."""

    app: str | None = None
    env: str | None = None
    version: str | None = None
    """A version id or id prefix."""
    statuses: tuple[tuple[int, int], ...] = ()
    """Inclusive status ranges (``5xx`` is (500, 599)); empty: any status."""
    search: str | None = None
    """Case-insensitive text the path must contain (lower-cased here)."""
    methods: frozenset[str] = frozenset()
    sample: float = 1.0
    """Share of matching records sent (0 < sample <= 1)."""

    @classmethod
    def parse(
        cls,
        *,
        app: str | None = None,
        env: str | None = None,
        version: str | None = None,
        status: str | None = None,
        search: str | None = None,
        method: str | None = None,
        sample: float = 1.0,
    ) -> TailFilter:
        """From the API's query parameters: ``status`` is ``5xx``, ``404`` or a comma list of both kinds;
        ``method`` a method or a comma list."""
        if not 0 < sample <= 1:
            raise BadRequest(f"sample must be more than 0 and at most 1, got {sample}", code="invalid_request")
        ranges = []
        for part in filter(None, (p.strip().lower() for p in (status or "").split(","))):
            if not _STATUS.match(part):
                raise BadRequest(f"status {part!r}: use a class like 5xx or a code like 404", code="invalid_request")
            ranges.append((int(part[0]) * 100, int(part[0]) * 100 + 99) if part.endswith("xx") else (int(part),) * 2)
        methods = frozenset(m.strip().upper() for m in (method or "").split(",") if m.strip())
        return cls(app or None, env or None, version or None, tuple(ranges), search.lower() if search else None,
                   methods, sample)  # fmt: skip

    def matches(self, r: RequestRecord) -> bool:
        if (
            (self.app is not None and r.app != self.app)
            or (self.env is not None and r.env != self.env)
            or (self.version is not None and not r.version_id.startswith(self.version))
            or (self.methods and r.method not in self.methods)
        ):
            return False
        if self.statuses and not any(lo <= r.status <= hi for lo, hi in self.statuses):
            return False
        if self.search is not None and self.search not in r.path.lower():
            return False
        return self.sample >= 1 or random.random() < self.sample


class TailSubscriber:
    """One tail session: its filter, its bounded queue, and how many records it missed."""

    def __init__(self, tail_filter: TailFilter, maxsize: int = QUEUE_SIZE) -> None:
        self.filter = tail_filter
        self.queue: asyncio.Queue[RequestRecord | None] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def offer(self, record: RequestRecord) -> None:
        if not self.filter.matches(record):
            return
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1

    async def next(self, timeout: float) -> RequestRecord | None:
        """The next record, or None after ``timeout`` seconds without one (or once closed)."""
        if self.closed:
            return None
        try:
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow the client's cancel
                return await self.queue.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        self.closed = True
        # Wake a reader waiting in next(); a full queue means it is busy and sees ``closed`` before waiting again.
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class TailHub:
    """``control.observe.tail``: the live subscribers, fed by the gateway while there is at least one."""

    def __init__(self, stats: GatewayStats) -> None:
        self.stats = stats
        self.subscribers: list[TailSubscriber] = []
        self.closed = False

    def wants(self, at: float) -> bool:
        return True  # subscribers filter and sample what they are offered

    def __call__(self, record: RequestRecord) -> None:
        for subscriber in self.subscribers:
            subscriber.offer(record)

    @contextmanager
    def subscribe(self, tail_filter: TailFilter, maxsize: int = QUEUE_SIZE) -> Iterator[TailSubscriber]:
        """A subscriber receiving matching records until the block ends (or the hub closes)."""
        subscriber = TailSubscriber(tail_filter, maxsize)
        if self.closed:
            subscriber.close()
        self.subscribers.append(subscriber)
        if self not in self.stats.observers:
            self.stats.observers.append(self)
        try:
            yield subscriber
        finally:
            self.subscribers.remove(subscriber)
            if not self.subscribers and self in self.stats.observers:
                self.stats.observers.remove(self)

    def close(self) -> None:
        """End every stream (the platform is stopping; open streams would keep the admin server from draining)."""
        self.closed = True
        for subscriber in self.subscribers:
            subscriber.close()


def record_json(r: RequestRecord, colo: str, version_number: int | None = None) -> dict[str, Any]:
    """What a tail client receives for one request (the raw user id stays on the server)."""
    return {
        "time": datetime.datetime.fromtimestamp(r.at, datetime.UTC).isoformat(timespec="milliseconds"),
        "request_id": r.request_id, "app": r.app, "env": r.env, "version_id": r.version_id,
        "version": version_number, "method": r.method, "path": r.path, "route": r.route, "status": r.status,
        "latency_ms": round(r.latency_ms, 3), "bytes_in": r.bytes_in, "bytes_out": r.bytes_out,
        "client_ip": r.client_ip, "country": r.country, "colo": colo, "cache_status": r.cache_status,
        "security": r.security,
    }  # fmt: skip
