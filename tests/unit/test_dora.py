"""DORA metrics from a delivery history written into a real SQLite store with chosen times: what counts as a
deployment, a failed change and a restore, the period and app/env selection, and the 2023 bands."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from edgeplane.control.schema import deployments, rollouts, versions
from edgeplane.control.store import Store
from edgeplane.observe.dora import dora, failure_rate_band, frequency_band, lead_time_band, restore_band
from edgeplane.observe.incidents import Incidents
from tests.conftest import FakeClock

T0 = 1_800_000_000.0
H = 3600.0
DAY = 86400.0


class History:
    """Writes rows the way the control plane does, at chosen times (hours after T0)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.ids: dict[str, str] = {}
        self.seq: dict[tuple[str, str], int] = {}

    async def _insert(self, table: Any, values: dict[str, Any]) -> None:
        async with self.store._tx() as conn:
            await conn.execute(insert(table).values(**values))

    async def upload(self, app: str, number: int, hours: float) -> None:
        vid = str(uuid.uuid4())
        self.ids[f"{app}/v{number}"] = vid
        await self._insert(versions, {"id": vid, "app": app, "number": number, "hash": "0" * 64, "message": "",
                                      "tag": None, "author": "ci", "created_at": _at(hours), "config": {}})  # fmt: skip

    async def deploy(self, app: str, env: str, kind: str, hours: float, **weights: float) -> None:
        seq = self.seq[(app, env)] = self.seq.get((app, env), 0) + 1
        splits = [{"version_id": self.ids[f"{app}/{v}"], "percentage": pct} for v, pct in weights.items()]
        await self._insert(deployments, {"id": str(uuid.uuid4()), "seq": seq, "app": app, "env": env, "kind": kind,
                                         "splits": splits, "message": "", "author": "ci",
                                         "created_at": _at(hours)})  # fmt: skip

    async def rollout(self, app: str, env: str, version: str, state: str, start: float, end: float) -> None:
        await self._insert(rollouts, {
            "id": str(uuid.uuid4()), "app": app, "env": env, "strategy": "canary", "mode": "auto", "state": state,
            "stable_id": "", "version_id": self.ids[f"{app}/{version}"], "plan": [], "step": 0, "step_elapsed": 0.0,
            "analysis": {}, "verdicts": [], "approvals_required": 0, "approve_before": "start", "reason": "",
            "message": "", "author": "ci", "author_token": "", "created_at": _at(start), "updated_at": _at(end),
            "finished_at": _at(end),
        })  # fmt: skip


def _at(hours: float) -> datetime:
    return datetime.fromtimestamp(T0 + hours * H, UTC)


@pytest.fixture
async def history(store: Store) -> History:
    h = History(store)
    for number in range(1, 7):
        await h.upload("shop", number, number - 1)  # v1 at 0 h ... v6 at 5 h
    await h.upload("blog", 1, 0)
    await h.deploy("shop", "production", "deploy", 2, v1=100)  # lead 2 h
    await h.deploy("shop", "staging", "deploy", 1.5, v1=100)
    await h.deploy("blog", "production", "deploy", 3, v1=100)
    await h.deploy("shop", "production", "deploy", 5, v2=100)  # lead 4 h; rolled back 30 min later
    await h.deploy("shop", "production", "rollback", 5.5, v1=100)
    await h.deploy("shop", "production", "deploy", 10, v3=100)  # lead 8 h
    # A canary of v4 takes 5% a minute after it starts, fails and is rolled back at 11.25 h.
    await h.deploy("shop", "production", "rollout", 11 + 1 / 60, v3=95, v4=5)
    await h.deploy("shop", "production", "rollback", 11.25, v3=100)
    await h.rollout("shop", "production", "v4", "failed", 11, 11.25)
    # A canary of v5 that succeeds: promoted to 100% at 13 h (lead 9 h).
    await h.deploy("shop", "production", "rollout", 12, v3=95, v5=5)
    await h.deploy("shop", "production", "promote", 13, v5=100)
    await h.rollout("shop", "production", "v5", "succeeded", 12, 13)
    # A blue-green of v6 whose smoke check failed at 0%: never took traffic, so not a change.
    await h.deploy("shop", "production", "rollout", 14, v5=100, v6=0)
    await h.deploy("shop", "production", "rollback", 14.01, v5=100)
    await h.rollout("shop", "production", "v6", "failed", 14, 14.01)
    # Redeploying v1, which served before, is a restore: v5 failed after 7 h in production.
    await h.deploy("shop", "production", "deploy", 20, v1=100)
    return h


async def test_the_four_metrics_of_one_environment(store: Store, history: History) -> None:
    m = await dora(store, "shop", "production", T0, T0 + 7 * DAY)
    changes = [(c["version"], c["via"], c["failed"]) for c in m["changes"]]
    assert changes == [(1, "deploy", False), (2, "deploy", True), (3, "deploy", False), (4, "rollout", True),
                       (5, "promote", True)]  # fmt: skip
    freq = m["deployment_frequency"]
    assert freq["deploys"] == 4 and freq["per_week"] == pytest.approx(4) and freq["band"] == "high"
    lead = m["lead_time"]
    assert lead["samples"] == 4 and lead["median_s"] == 6 * H and lead["mean_s"] == 5.75 * H
    assert lead["band"] == "elite"
    cfr = m["change_failure_rate"]
    assert (cfr["changes"], cfr["failures"], cfr["rate"], cfr["band"]) == (5, 3, 0.6, "low")
    ttr = m["time_to_restore"]
    restores = sorted(c["restore_s"] for c in m["changes"] if c["failed"])
    assert restores == [pytest.approx(14 * 60), pytest.approx(0.5 * H), pytest.approx(7 * H)]
    assert ttr["source"] == "deployments" and ttr["samples"] == 3
    assert ttr["median_s"] == pytest.approx(0.5 * H) and ttr["band"] == "elite"


async def test_the_period_and_the_selection(store: Store, history: History) -> None:
    later = await dora(store, "shop", "production", T0 + 6 * H, T0 + 7 * DAY)
    assert [c["version"] for c in later["changes"]] == [3, 4, 5]
    assert later["change_failure_rate"]["failures"] == 2
    # Seen from 15 h, v5 has not been rolled back yet.
    early = await dora(store, "shop", "production", T0, T0 + 15 * H)
    assert [c["failed"] for c in early["changes"] if c["version"] == 5] == [False]
    every_env = await dora(store, "shop", None, T0, T0 + 7 * DAY)
    assert every_env["deployment_frequency"]["deploys"] == 5
    everything = await dora(store, None, None, T0, T0 + 7 * DAY)
    assert everything["deployment_frequency"]["deploys"] == 6
    assert {(c["app"], c["env"]) for c in everything["changes"]} == {
        ("shop", "production"), ("shop", "staging"), ("blog", "production")}  # fmt: skip
    nothing = await dora(store, "nope", None, T0, T0 + 7 * DAY)
    assert nothing["deployment_frequency"]["deploys"] == 0 and nothing["deployment_frequency"]["band"] == "low"
    assert nothing["lead_time"]["median_s"] is None and nothing["change_failure_rate"]["rate"] is None
    assert nothing["time_to_restore"]["band"] is None


async def test_without_failed_changes_incidents_give_the_time_to_restore(store: Store, history: History) -> None:
    clock = FakeClock(T0 + 4 * H)
    incidents = Incidents(store, clock)
    blog = await incidents.open("blog 500s", "SEV2", actor="alerts", app="blog", env="production")
    clock.advance(1800)
    await incidents.resolve(blog["id"], "alice")
    await incidents.open("still open", "SEV3", actor="alerts", app="blog", env="production")
    m = await dora(store, "blog", "production", T0, T0 + 7 * DAY)
    ttr = m["time_to_restore"]
    assert ttr["source"] == "incidents" and ttr["median_s"] == 1800 and ttr["band"] == "elite"
    assert ttr["incidents"] == {"resolved": 1, "median_s": 1800}
    shop = await dora(store, "shop", "production", T0, T0 + 7 * DAY)
    assert shop["time_to_restore"]["incidents"]["resolved"] == 0  # another app's incident


@pytest.mark.parametrize(
    ("per_day", "band"), [(3, "elite"), (1, "elite"), (0.5, "high"), (1 / 7, "high"), (0.1, "medium"),
                          (1 / 30, "medium"), (0.01, "low"), (0, "low")],
)  # fmt: skip
def test_frequency_bands(per_day: float, band: str) -> None:
    assert frequency_band(per_day) == band


def test_other_bands() -> None:
    assert [lead_time_band(s) for s in (3600, DAY, 3 * DAY, 7 * DAY, 40 * DAY, None)] == [
        "elite", "high", "high", "medium", "low", None]  # fmt: skip
    assert [failure_rate_band(r) for r in (0, 0.05, 0.08, 0.15, 0.2, None)] == [
        "elite", "elite", "high", "medium", "low", None]  # fmt: skip
    assert [restore_band(s) for s in (60, 3600, 5 * H, DAY, 10 * DAY, None)] == [
        "elite", "high", "high", "medium", "low", None]  # fmt: skip
