"""Above ``request_analytics_rate`` points a second, the gateway's request analytics write every Nth request with
``_sample_interval = N``; the summary's counts (weighted) still add up to every request."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from edgeplane.bindings.analytics import open_store
from edgeplane.config.server import ServerConfig
from edgeplane.gateway.stages.observe import RequestRecord
from edgeplane.observe.requests import RequestAnalytics, summary


def record(at: float, status: int = 200) -> RequestRecord:
    return RequestRecord(
        at=at, request_id="r", app="app", env="production", version_id="v1", method="GET", path="/", route="/*",
        status=status, latency_ms=5.0, bytes_in=0, bytes_out=2, client_ip="127.0.0.1", country="NL",
        cache_status="", security="", user_id="", cpu_ms=0.0,
    )  # fmt: skip


def offer(observer: RequestAnalytics, r: RequestRecord) -> None:
    """As the gateway's Observe stage does: the record goes to an observer that wants it."""
    if observer.wants(r.at):
        observer(r)


async def test_sampled_points_are_weighted_back_to_every_request(tmp_path: Path) -> None:
    config = ServerConfig.model_validate({"data_dir": str(tmp_path), "observe": {"request_analytics_rate": 1000}})
    observer = RequestAnalytics(SimpleNamespace(config=config, data_dir=tmp_path))  # type: ignore[arg-type]
    now = 1_800_000_000.0
    for _ in range(2500):  # a second at 2,500 req/s: nothing to go by yet, every request is written
        offer(observer, record(now))
    assert observer.interval == 1 and observer.dataset.written == 2500
    for i in range(3000):  # the next second: every 3rd (ceil(2500 / 1000)), 10% of them errors
        offer(observer, record(now + 1, 500 if i % 10 == 0 else 200))
    assert observer.interval == 3 and observer.dataset.written == 2500 + 1000
    offer(observer, record(now + 5))  # after a gap the rate of "the previous second" is 0: back to every request
    assert observer.interval == 1
    await observer.dataset.close()

    store = open_store(tmp_path)
    await store.start()
    try:
        result = await summary(store, since_seconds=10 * 365 * 86400.0)
    finally:
        await store.close()
    assert result["requests"] == 2500 + 3000 + 1
    assert result["errors"] == 300, "every 3rd of 3,000 with every 10th an error: 100 points of weight 3"
    assert result["versions"][0]["requests"] == 5501
