"""``RedisLimiter``: GCRA rate limiting shared by every gateway process and node that uses the same Redis.

Each hit is one ``EVALSHA`` of a Lua script that reads the key's theoretical arrival time (TAT), decides and
stores the new TAT with a ``PX`` expiry (the key disappears once its bucket is full again), atomically. It
reads the time with ``redis.call('TIME')``, so the nodes' clocks play no part. The script's SHA1 is computed
here (it is what ``SCRIPT LOAD`` returns); a server that does not know it (``NOSCRIPT``: restarted, flushed,
a failover) gets ``EVAL``, which runs and caches it.

When Redis fails (unreachable, hung past ``timeout``, or an error reply), the request is decided by
``on_error``: ``"open"`` allows it, ``"closed"`` denies it (``retry_after`` 1 s). After a failure hits skip
Redis for ``cooldown`` seconds (a dead Redis costs nothing per request), then one hit at a time probes it; the
first success ends the outage. :meth:`RedisLimiter.health` reports the outage while it lasts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from edgeplane.edge.ratelimit.base import Decision, check_args, new_decision

__all__ = ["GCRA_SCRIPT", "RedisLimiter"]

log = logging.getLogger("edgeplane.ratelimit")

GCRA_SCRIPT = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + cost * interval
local late = new_tat - now - period
if late > 1 then
  return {0, math.floor(limit - (tat - now) / interval + 1e-6), math.ceil(tat - now), math.ceil(late)}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor(limit - (new_tat - now) / interval + 1e-6), math.ceil(new_tat - now), 0}
"""
"""KEYS[1]: the bucket; ARGV: limit, period (µs), cost. Times are µs of Redis server time; a float TAT is
stored at full precision. Returns ``{allowed 0|1, remaining, reset_after µs, retry_after µs}``. 1 µs of
slack absorbs float rounding (far below any real emission interval)."""

_SHA = hashlib.sha1(GCRA_SCRIPT.encode()).hexdigest()
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_FAILURES = (RedisError, OSError, TimeoutError)
"""What a failing Redis raises: redis-py's errors (connection, timeout, error replies), socket errors, and the
overall deadline."""


def _reason(exc: BaseException) -> str:
    """An exception's first line, credentials in any URL removed, for health details and logs."""
    first = _CREDENTIALS.sub(r"\1***@", (str(exc).strip().splitlines() or [""])[0])
    return f"{type(exc).__name__}: {first}"[:200]


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RedisLimiter:
    """GCRA buckets in Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``), keys ``prefix + key``.

    ``timeout`` (seconds) bounds every hit, connecting included; ``cooldown`` is how long hits skip Redis
    after it failed before one probes it again.
    """

    def __init__(
        self,
        url: str,
        *,
        on_error: Literal["open", "closed"] = "open",
        timeout: float = 0.25,
        prefix: str = "ep:rl:",
        cooldown: float = 0.5,
    ) -> None:
        if on_error not in ("open", "closed"):
            raise ValueError(f"on_error {on_error!r} is invalid: use 'open' (allow) or 'closed' (deny)")
        if not timeout > 0 or cooldown < 0:
            raise ValueError(f"timeout {timeout!r} and cooldown {cooldown!r} must be positive numbers of seconds")
        try:
            self._client: Redis = Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),  # one immediate retry: a pooled connection Redis closed
                health_check_interval=0,
            )
        except ValueError as exc:
            raise ValueError(f"rate limiter Redis URL is invalid: {exc}") from None
        self._on_error = on_error
        self._timeout = timeout
        self._prefix = prefix
        self._cooldown = cooldown
        self._failing_since: float | None = None
        """``time.time()`` of the first failure of the current outage; ``None`` while Redis answers."""
        self._failed_calls = 0
        self._fallbacks = 0
        self._last_error = ""
        self._probe_at = 0.0
        self._probing = False

    async def hit(self, key: str, limit: int, period: float, cost: int = 1) -> Decision:
        if not (0 < cost <= limit and period > 0):
            check_args(limit, period, cost)
        probe = self._failing_since is not None
        if probe and (self._probing or time.monotonic() < self._probe_at):
            self._fallbacks += 1
            return self._fallback(limit, period, cost)
        if probe:
            self._probing = True
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._run(self._prefix + key, limit, round(period * 1_000_000), cost)
        except _FAILURES as exc:
            return self._failed(exc, limit, period, cost)
        finally:
            if probe:
                self._probing = False
        if self._failing_since is not None:
            self._recovered()
        allowed, remaining, reset_us, retry_us = reply
        return new_decision(allowed == 1, limit, remaining, reset_us / 1e6, retry_us / 1e6, period)

    async def _run(self, key: str, limit: int, period_us: int, cost: int) -> list[int]:
        try:
            reply = await self._client.evalsha(_SHA, 1, key, limit, period_us, cost)
        except NoScriptError:
            reply = await self._client.eval(GCRA_SCRIPT, 1, key, limit, period_us, cost)
        return cast(list[int], reply)

    def _fallback(self, limit: int, period: float, cost: int) -> Decision:
        """The verdict without Redis: ``open`` as if the bucket were full, ``closed`` a denial for 1 s."""
        if self._on_error == "open":
            return new_decision(True, limit, limit - cost, cost * period / limit, 0.0, period)
        return new_decision(False, limit, 0, 1.0, 1.0, period)

    def _failed(self, exc: BaseException, limit: int, period: float, cost: int) -> Decision:
        self._failed_calls += 1
        self._fallbacks += 1
        self._last_error = _reason(exc) if str(exc) else f"{type(exc).__name__}: no answer in {self._timeout:g} s"
        self._probe_at = time.monotonic() + self._cooldown
        if self._failing_since is None:
            self._failing_since = time.time()
            log.warning("rate limiter Redis failed (%s); failing %s until it answers", self._last_error, self._on_error)
        return self._fallback(limit, period, cost)

    def _recovered(self) -> None:
        log.info(
            "rate limiter Redis answers again after %d failed calls (%d requests decided by on_error=%s)",
            self._failed_calls, self._fallbacks, self._on_error,
        )  # fmt: skip
        self._failing_since = None
        self._failed_calls = self._fallbacks = 0
        self._last_error = ""

    async def close(self) -> None:
        await self._client.aclose()

    def health(self) -> dict[str, Any]:
        """``healthy`` while Redis answers; during an outage ``degraded`` when failing open (limits are not
        enforced) and ``unhealthy`` when failing closed (requests are denied), with the reason in ``details``."""
        details: dict[str, Any] = {"backend": "redis", "on_error": self._on_error, "timeout_s": self._timeout}
        if self._failing_since is None:
            return {"status": "healthy", "error": None, "details": details}
        details |= {
            "failing_since": _iso(self._failing_since),
            "failed_calls": self._failed_calls,
            "fallback_decisions": self._fallbacks,
            "reason": self._last_error,
        }
        if self._on_error == "open":
            status, effect = "degraded", "rate limits are not enforced (on_error=open)"
        else:
            status, effect = "unhealthy", "requests under a rate limit are denied (on_error=closed)"
        error = f"Redis for rate limits failing since {details['failing_since']}: {effect}"
        return {"status": status, "error": error, "details": details}
