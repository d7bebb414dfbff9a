"""``LocalLimiter``: GCRA rate limiting inside one process (one gateway worker), in memory.

Per key it keeps one float, the theoretical arrival time (TAT): the moment the key's bucket is full again. A
request of cost ``c`` under ``limit`` per ``period`` (emission interval ``T = period / limit``) moves it to
``max(TAT, now) + c*T`` and is allowed when that is at most ``period`` ahead of now. Keys live in LRU order:
each new key first drops up to two least recently used keys whose TAT has passed (their bucket is full, the
same as no entry), and at ``max_keys`` the least recently used key goes whatever its state.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from edgeplane.edge.ratelimit.base import Decision, check_args, new_decision

__all__ = ["LocalLimiter"]

_SLACK = 1e-6
"""Seconds of float noise tolerated when comparing times (far below any real emission interval)."""
_PRUNE_PER_INSERT = 2
"""Expired keys dropped (at most) for each new key: more than one, so expired keys drain while keys churn."""


class LocalLimiter:
    """GCRA buckets in this process's memory; ``clock`` is a monotonic clock in seconds (injectable for tests)."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys {max_keys!r} is invalid: keep room for at least one key")
        self._tats: OrderedDict[str, float] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock
        self._evicted = 0

    async def hit(self, key: str, limit: int, period: float, cost: int = 1) -> Decision:
        if not (0 < cost <= limit and period > 0):
            check_args(limit, period, cost)
        now = self._clock()
        tats = self._tats
        tat = tats.get(key)
        if tat is None:
            self._make_room(now)
            tat = now
        elif tat < now:
            tat = now
        interval = period / limit
        new_tat = tat + cost * interval
        late = new_tat - now - period
        if late > _SLACK:  # never for a new key: cost <= limit fits in an empty bucket
            tats.move_to_end(key)
            remaining = int(limit - (tat - now) / interval + _SLACK)
            return new_decision(False, limit, remaining, tat - now, late, period)
        tats[key] = new_tat
        tats.move_to_end(key)
        reset_after = new_tat - now
        return new_decision(True, limit, int(limit - reset_after / interval + _SLACK), reset_after, 0.0, period)

    def _make_room(self, now: float) -> None:
        """Before a new key: drop least recently used keys whose bucket is full again, then one if still full."""
        tats = self._tats
        for _ in range(_PRUNE_PER_INSERT):
            if not tats:
                return
            oldest = next(iter(tats))
            if tats[oldest] > now:
                break
            del tats[oldest]
        if len(tats) >= self._max_keys:
            tats.popitem(last=False)
            self._evicted += 1

    async def close(self) -> None:
        self._tats.clear()

    def health(self) -> dict[str, Any]:
        details = {"backend": "memory", "keys": len(self._tats), "max_keys": self._max_keys, "evicted": self._evicted}
        return {"status": "healthy", "error": None, "details": details}
