"""The delivery event seam: every rollout event (started, stage passed, verdict, paused, rolled back, ...)
is stored with the rollout and published here. Subscribers (the admin API's event streams now, notifiers
later) each get their own bounded queue, so a slow one never holds the controller back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["EventBus"]

QUEUE_SIZE = 1000


class EventBus:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self.dropped = 0

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            if queue.full():  # drop the oldest for this subscriber rather than block or grow without bound
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(event)

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
