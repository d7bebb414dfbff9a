"""What every rate limiter answers: the :class:`Decision` for one request, its response headers, and the
:class:`Limiter` protocol the gateway's rate-limit stage calls.

The limiters implement GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per key):
with ``limit`` requests per ``period`` seconds, a key may send up to ``limit`` requests at once, and
``limit`` per ``period`` sustained; a fresh key (or one idle for ``period``) starts with a full bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import Any, Protocol, cast

__all__ = ["Decision", "Limiter", "check_args", "new_decision"]

_ROUNDING = 1e-6
"""Seconds shaved off before rounding a wait up, so float noise (2.0000000001 s) does not add a second."""


def check_args(limit: int, period: float, cost: int) -> None:
    """Reject a rate that cannot work, naming the fix. Hot paths test ``0 < cost <= limit and period > 0``
    inline first and call this only when that fails."""
    if not 0 < cost <= limit:
        if limit < 1:
            raise ValueError(f"rate limit {limit!r} is invalid: allow at least 1 request per period")
        raise ValueError(f"request cost {cost!r} is outside 1..{limit} (the limit): such a request could never pass")
    if not period > 0:
        raise ValueError(f"rate limit period {period!r} is invalid: give a positive number of seconds")


def _seconds(value: float) -> int:
    """Whole seconds (``value`` >= 0), rounded up, as the header fields want them."""
    return ceil(value - _ROUNDING)


def _sf_string(name: str) -> str:
    """``name`` as a structured-field String (RFC 9651 §3.3.3): quoted, ``\\`` and ``"`` escaped."""
    if not name.isascii() or not name.isprintable():
        raise ValueError(f"rate limit policy name {name!r} must be printable ASCII (it is sent in a header)")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=1024)
def _policy_value(policy: str, limit: int, period: float) -> tuple[bytes, bytes, bytes]:
    """The parts of the headers that depend on the policy only: the quoted name, ``RateLimit-Policy`` and
    ``RateLimit-Limit``. The draft's window ``w`` is whole seconds (at least 1)."""
    name = _sf_string(policy)
    window = max(1, _seconds(period))
    return name.encode("ascii"), f"{name};q={limit};w={window}".encode("ascii"), b"%d" % limit


@dataclass(frozen=True, slots=True)
class Decision:
    """One rate limiter verdict for one request."""

    allowed: bool
    limit: int
    """Requests per period (and the burst: that many at once)."""
    remaining: int
    """Requests of cost 1 that would still be allowed right now."""
    reset_after: float
    """Seconds until the bucket is full again (nothing of the quota used)."""
    retry_after: float
    """Seconds until one more request of this cost would be allowed; 0 when allowed."""
    period: float
    """The period of ``limit``, in seconds."""

    def headers(self, policy: str) -> list[tuple[bytes, bytes]]:
        """Response headers describing this verdict under the policy named ``policy`` (printable ASCII).

        ``RateLimit-Policy: "<policy>";q=<limit>;w=<period>`` and ``RateLimit: "<policy>";r=<remaining>;t=<t>``
        as in draft-ietf-httpapi-ratelimit-headers-11, the older ``RateLimit-Limit``/``-Remaining``/``-Reset``
        trio, and ``Retry-After`` when denied. ``t`` (and ``RateLimit-Reset``) is the time until the bucket is
        full when allowed, and the time until a retry can pass when denied: in both cases the client can use no
        more than ``r`` requests within it, as the draft defines ``t``. Seconds are whole, rounded up.
        """
        name, policy_value, limit = _policy_value(policy, self.limit, self.period)
        remaining = b"%d" % self.remaining
        reset = b"%d" % _seconds(self.reset_after if self.allowed else self.retry_after)
        out = [
            (b"ratelimit-policy", policy_value),
            (b"ratelimit", name + b";r=" + remaining + b";t=" + reset),
            (b"ratelimit-limit", limit),
            (b"ratelimit-remaining", remaining),
            (b"ratelimit-reset", reset),
        ]
        if not self.allowed:
            out.append((b"retry-after", b"%d" % max(1, _seconds(self.retry_after))))
        return out


_SETTERS = tuple(Decision.__dict__[name].__set__ for name in Decision.__slots__)


def new_decision(
    allowed: bool,
    limit: int,
    remaining: int,
    reset_after: float,
    retry_after: float,
    period: float,
    _new: Any = object.__new__,
    _setters: tuple[Any, ...] = _SETTERS,
) -> Decision:
    """``Decision(allowed, limit, remaining, reset_after, retry_after, period)`` in half the time, for the
    limiters' hot paths: a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
    (~1.1 µs for six fields here); this sets the slots through their descriptors directly (~0.6 µs)."""
    decision = _new(Decision)
    set_allowed, set_limit, set_remaining, set_reset_after, set_retry_after, set_period = _setters
    set_allowed(decision, allowed)
    set_limit(decision, limit)
    set_remaining(decision, remaining)
    set_reset_after(decision, reset_after)
    set_retry_after(decision, retry_after)
    set_period(decision, period)
    return cast(Decision, decision)


class Limiter(Protocol):
    """A rate limiter: ``key`` names one bucket; it should include the policy (``"api:" + ip``), since a
    bucket's state means nothing under another rate."""

    async def hit(self, key: str, limit: int, period: float, cost: int = 1) -> Decision:
        """Count one request of ``cost`` units against ``key`` (at most ``limit`` per ``period`` seconds)."""
        ...

    async def close(self) -> None: ...

    def health(self) -> dict[str, Any]:
        """``{"status": "healthy"|"degraded"|"unhealthy", "error": str|None, "details": {...}}``."""
        ...
