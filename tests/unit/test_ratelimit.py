"""LocalLimiter's GCRA under a fake clock (burst, sustained rate, waits, cost, keys, memory bounds) and the
rate-limit response headers a Decision produces."""

from __future__ import annotations

import pytest

from edgeplane.edge.ratelimit import Decision, LocalLimiter
from tests.conftest import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A clock near zero, like a monotonic clock after boot (floats near 1.8e9 only resolve 0.24 µs)."""
    return FakeClock(start=1000.0)


@pytest.fixture
def limiter(clock: FakeClock) -> LocalLimiter:
    return LocalLimiter(clock=clock)


async def test_a_fresh_key_gets_exactly_limit_requests_at_once(limiter: LocalLimiter) -> None:
    got = [await limiter.hit("ip:1", 10, 60.0) for _ in range(11)]
    assert [d.allowed for d in got] == [True] * 10 + [False]
    assert [d.remaining for d in got] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]
    assert got[0] == Decision(True, 10, 9, 6.0, 0.0, 60.0)
    assert got[9] == Decision(True, 10, 0, 60.0, 0.0, 60.0)
    assert got[10] == Decision(False, 10, 0, 60.0, 6.0, 60.0)  # one emission interval (60/10 s) to wait


async def test_sustained_rate_is_exactly_limit_per_period(limiter: LocalLimiter, clock: FakeClock) -> None:
    """Hammered every millisecond for 10 s at 3 per second: the burst of 3, then one every 1/3 s (a period that
    is no binary fraction, so float rounding is exercised), 3 + floor(3 * 9.999) = 32 in all."""
    allowed = 0
    for _ in range(10_000):
        allowed += (await limiter.hit("k", 3, 1.0)).allowed
        clock.advance(0.001)
    assert allowed == 32


async def test_after_the_burst_one_request_per_emission_interval(limiter: LocalLimiter, clock: FakeClock) -> None:
    for _ in range(4):
        await limiter.hit("k", 4, 2.0)
    for _ in range(50):
        clock.advance(0.5)
        assert (await limiter.hit("k", 4, 2.0)).allowed
        assert not (await limiter.hit("k", 4, 2.0)).allowed


async def test_waits_and_remaining_follow_the_refill(limiter: LocalLimiter, clock: FakeClock) -> None:
    for _ in range(4):
        await limiter.hit("k", 4, 2.0)  # T = 0.5 s
    denied = await limiter.hit("k", 4, 2.0)
    assert (denied.allowed, denied.remaining, denied.reset_after, denied.retry_after) == (False, 0, 2.0, 0.5)
    clock.advance(0.2)
    denied = await limiter.hit("k", 4, 2.0)
    assert denied.retry_after == pytest.approx(0.3)
    assert denied.reset_after == pytest.approx(1.8)
    clock.advance(0.55)  # 0.75 s since the burst: one slot back, the second half way
    first = await limiter.hit("k", 4, 2.0)
    assert (first.allowed, first.remaining, first.retry_after) == (True, 0, 0.0)
    assert first.reset_after == pytest.approx(1.75)
    clock.advance(10)  # idle past the period: a full bucket again
    assert await limiter.hit("k", 4, 2.0) == Decision(True, 4, 3, 0.5, 0.0, 2.0)


async def test_cost_takes_that_many_slots(limiter: LocalLimiter, clock: FakeClock) -> None:
    assert await limiter.hit("k", 10, 10.0, cost=4) == Decision(True, 10, 6, 4.0, 0.0, 10.0)
    too_big = await limiter.hit("k", 10, 10.0, cost=7)
    assert (too_big.allowed, too_big.remaining, too_big.retry_after) == (False, 6, 1.0)
    clock.advance(1.0)
    assert await limiter.hit("k", 10, 10.0, cost=7) == Decision(True, 10, 0, 10.0, 0.0, 10.0)


@pytest.mark.parametrize(
    ("limit", "period", "cost", "message"),
    [
        (5, 1.0, 6, "request cost 6 is outside 1..5"),
        (5, 1.0, 0, "request cost 0 is outside 1..5"),
        (0, 1.0, 1, "rate limit 0 is invalid"),
        (5, 0.0, 1, "period 0.0 is invalid"),
    ],
)
async def test_impossible_rates_are_refused_clearly(
    limiter: LocalLimiter, limit: int, period: float, cost: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await limiter.hit("k", limit, period, cost)


async def test_keys_are_independent(limiter: LocalLimiter) -> None:
    for _ in range(3):
        await limiter.hit("a", 3, 60.0)
    assert not (await limiter.hit("a", 3, 60.0)).allowed
    assert [(await limiter.hit("b", 3, 60.0)).remaining for _ in range(3)] == [2, 1, 0]


async def test_new_keys_prune_keys_whose_bucket_is_full_again(limiter: LocalLimiter, clock: FakeClock) -> None:
    for i in range(100):
        await limiter.hit(f"old:{i}", 10, 1.0)
    for i in range(10):
        await limiter.hit(f"long:{i}", 10, 3600.0)
    clock.advance(2.0)  # every old:* bucket refilled (TAT passed); long:* still count
    for i in range(50):
        await limiter.hit(f"new:{i}", 10, 1.0)
    assert limiter.health()["details"]["keys"] == 50 + 10
    assert (await limiter.hit("long:0", 10, 3600.0)).remaining == 8  # its state survived pruning


async def test_max_keys_evicts_the_least_recently_used(clock: FakeClock) -> None:
    limiter = LocalLimiter(max_keys=3, clock=clock)
    for key in ("a", "b", "c", "a", "d"):  # "a" used again: "b" is the stalest when "d" arrives
        await limiter.hit(key, 5, 60.0)
    details = limiter.health()["details"]
    assert (details["keys"], details["evicted"]) == (3, 1)
    assert (await limiter.hit("a", 5, 60.0)).remaining == 2
    assert (await limiter.hit("c", 5, 60.0)).remaining == 3
    assert (await limiter.hit("b", 5, 60.0)).remaining == 4  # forgotten: a fresh bucket


async def test_local_limiter_health_and_close(limiter: LocalLimiter) -> None:
    await limiter.hit("k", 5, 60.0)
    assert limiter.health() == {
        "status": "healthy",
        "error": None,
        "details": {"backend": "memory", "keys": 1, "max_keys": 100_000, "evicted": 0},
    }
    await limiter.close()
    assert limiter.health()["details"]["keys"] == 0


def test_headers_of_an_allowed_request() -> None:
    assert Decision(True, 100, 42, 16.2, 0.0, 60.0).headers("api") == [
        (b"ratelimit-policy", b'"api";q=100;w=60'),
        (b"ratelimit", b'"api";r=42;t=17'),
        (b"ratelimit-limit", b"100"),
        (b"ratelimit-remaining", b"42"),
        (b"ratelimit-reset", b"17"),
    ]


def test_headers_of_a_denied_request_say_when_to_retry() -> None:
    assert Decision(False, 10, 0, 59.5, 2.01, 60.0).headers("per-ip") == [
        (b"ratelimit-policy", b'"per-ip";q=10;w=60'),
        (b"ratelimit", b'"per-ip";r=0;t=3'),
        (b"ratelimit-limit", b"10"),
        (b"ratelimit-remaining", b"0"),
        (b"ratelimit-reset", b"3"),
        (b"retry-after", b"3"),
    ]


def test_header_seconds_round_up_but_ignore_float_noise() -> None:
    headers = dict(Decision(False, 3, 0, 1.0, 2.0000000001, 0.5).headers("p"))
    assert headers[b"retry-after"] == b"2"
    assert headers[b"ratelimit-policy"] == b'"p";q=3;w=1'  # the draft's window is whole seconds, at least 1
    assert dict(Decision(False, 3, 0, 1.0, 0.0004, 1.0).headers("p"))[b"retry-after"] == b"1"


def test_policy_names_are_structured_field_strings() -> None:
    headers = dict(Decision(True, 5, 4, 1.0, 0.0, 5.0).headers('a"b\\c'))
    assert headers[b"ratelimit-policy"] == b'"a\\"b\\\\c";q=5;w=5'
    with pytest.raises(ValueError, match="policy name 'caf\u00e9' must be printable ASCII"):
        Decision(True, 5, 4, 1.0, 0.0, 5.0).headers("caf\u00e9")
