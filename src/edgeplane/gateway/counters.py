"""Per-version request counters and latency histograms.

Histograms have log-spaced buckets: cheap to fill on the request path, mergeable, and precise to about 5%
(each bucket is 10% wider than the one before), from 0.1 ms to about 2.5 minutes."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["BUCKETS", "VersionStats", "bucket_of", "exceeding", "quantile", "upper_edge"]

BUCKETS = 160
_FIRST = 0.1  # ms: bucket 0 holds everything faster
_GROWTH = 1.1
_INV_LOG = 1 / math.log(_GROWTH)


def bucket_of(ms: float) -> int:
    """The bucket of a latency in milliseconds: 0 below 0.1 ms, then 10% steps, the last one open-ended."""
    if ms < _FIRST:
        return 0
    return min(BUCKETS - 1, int(math.log(ms / _FIRST) * _INV_LOG) + 1)


def upper_edge(index: int) -> float:
    """The largest latency (ms) bucket ``index`` holds (the last bucket's edge stands for "more")."""
    return _FIRST * _GROWTH**index


def quantile(hist: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) in ms: the upper edge of the bucket holding it; None when empty."""
    total = sum(hist)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(hist):
        seen += n
        if seen >= rank and n:
            return upper_edge(i)
    return upper_edge(len(hist) - 1)


def exceeding(hist: Sequence[int], ms: float) -> int:
    """How many requests took longer than ``ms`` (whole buckets above the one ``ms`` falls in)."""
    return sum(hist[bucket_of(ms) + 1 :])


class VersionStats:
    """Cumulative counters of one (app, env, version); never reset, so readers take differences."""

    __slots__ = ("classes", "errors", "hist", "latency_sum", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.classes = [0] * 6  # index = status // 100 (0 unused: 499 for an aborted request counts as 4xx)
        self.hist = [0] * BUCKETS
        self.latency_sum = 0.0
        """Milliseconds, for the Prometheus histogram's ``_sum``."""

    def snapshot(self) -> tuple[int, int, list[int]]:
        return self.requests, self.errors, list(self.hist)

    def by_class(self) -> dict[str, int]:
        return {f"{i}xx": n for i, n in enumerate(self.classes) if n}
