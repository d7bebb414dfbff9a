"""Rate limiters for the gateway's rate-limit stage: GCRA in one process (:class:`LocalLimiter`) or shared by
every process and node through Redis (:class:`RedisLimiter`), both answering a :class:`Decision`."""

from edgeplane.edge.ratelimit.base import Decision, Limiter
from edgeplane.edge.ratelimit.local import LocalLimiter
from edgeplane.edge.ratelimit.redis import RedisLimiter

__all__ = ["Decision", "Limiter", "LocalLimiter", "RedisLimiter"]
