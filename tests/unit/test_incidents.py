"""Incidents on a real SQLite store with an injected clock: numbering and references, the state machine and its
conflicts, exact MTTA/MTTR and response targets, aggregate statistics, the audit trail, and delivery events
joining the timelines of open incidents of the same app/env."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from edgeplane.control.store import Store
from edgeplane.delivery.events import EventBus
from edgeplane.errors import BadRequest, Conflict, NotFound
from edgeplane.observe.incidents import SEVERITY_TARGETS, Incidents
from tests.conftest import FakeClock


@pytest.fixture
def incidents(store: Store, clock: FakeClock) -> Incidents:
    return Incidents(store, clock)


async def test_numbering_and_references(incidents: Incidents) -> None:
    first = await incidents.open("checkout errors", "sev2", actor="alice", app="shop", env="production")
    second = await incidents.open("slow search", "SEV4", actor="bob")
    assert (first["number"], second["number"]) == (1, 2)
    assert first["severity"] == "SEV2" and first["state"] == "triggered" and first["ref"] == "#1"
    for ref in ("1", "#1", first["id"], first["id"][:8]):
        assert (await incidents.get(ref))["id"] == first["id"]
    with pytest.raises(NotFound) as missing:
        await incidents.get("#99")
    assert missing.value.code == "incident_not_found"
    with pytest.raises(BadRequest) as bad:
        await incidents.get("drop table")
    assert bad.value.code == "invalid_incident_ref"
    with pytest.raises(BadRequest) as sev:
        await incidents.open("x", "SEV5", actor="alice")
    assert sev.value.code == "invalid_severity"


async def test_concurrent_opens_get_distinct_numbers(incidents: Incidents) -> None:
    opened = await asyncio.gather(*(incidents.open(f"i{n}", "SEV3", actor="bot") for n in range(8)))
    assert sorted(i["number"] for i in opened) == list(range(1, 9))


async def test_ack_then_resolve_gives_exact_mtta_mttr_and_target(incidents: Incidents, clock: FakeClock) -> None:
    opened = await incidents.open("db down", "SEV1", actor="alerts", source="alert", summary="primary unreachable",
                                  details={"rule": "db_up"})  # fmt: skip
    assert opened["target_s"] == 900 and opened["target_met"] is None and opened["mtta_s"] is None
    assert opened["summary"] == "primary unreachable" and opened["details"] == {"rule": "db_up"}
    clock.advance(600)
    acked = await incidents.ack("#1", "alice")
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "alice"
    assert acked["mtta_s"] == 600 and acked["target_met"] is True and acked["mttr_s"] is None
    clock.advance(1800)
    await incidents.note("1", "alice", "failing over to the replica")
    clock.advance(600)
    resolved = await incidents.resolve("1", "bob", "failover done")
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "bob"
    assert resolved["mtta_s"] == 600 and resolved["mttr_s"] == 3000 and resolved["target_met"] is True
    timeline = resolved["timeline"]
    assert [e["kind"] for e in timeline] == ["opened", "acknowledged", "note", "resolved"]
    assert [e["actor"] for e in timeline] == ["alerts", "alice", "alice", "bob"]
    assert [e["at"] - timeline[0]["at"] for e in timeline] == [0, 600, 2400, 3000]
    assert timeline[2]["message"] == "failing over to the replica"
    assert timeline[3]["message"] == "resolved by bob after 50m: failover done"


async def test_conflicts_have_stable_codes_and_change_nothing(incidents: Incidents, clock: FakeClock) -> None:
    await incidents.open("a", "SEV3", actor="x")
    await incidents.ack("1", "alice")
    with pytest.raises(Conflict) as twice:
        await incidents.ack("1", "bob")
    assert twice.value.code == "incident_already_acknowledged" and "alice" in twice.value.message
    await incidents.resolve("1", "alice")
    for act in (incidents.ack("1", "bob"), incidents.resolve("1", "bob")):
        with pytest.raises(Conflict) as done:
            await act
        assert done.value.code == "incident_already_resolved"
    after = await incidents.get("1")
    assert after["acknowledged_by"] == "alice" and after["resolved_by"] == "alice"
    assert [e["kind"] for e in after["timeline"]] == ["opened", "acknowledged", "resolved"]
    # A resolved incident still takes notes (the review).
    assert (await incidents.note("1", "carol", "postmortem: DOC-12"))["timeline"][-1]["kind"] == "note"
    with pytest.raises(BadRequest):
        await incidents.note("1", "carol", "   ")


async def test_resolving_an_unacknowledged_incident_acknowledges_it(incidents: Incidents, clock: FakeClock) -> None:
    await incidents.open("quick blip", "SEV2", actor="x")
    clock.advance(4000)  # past SEV2's 1 h target, nobody acknowledged
    assert (await incidents.get("1"))["target_met"] is False
    done = await incidents.resolve("1", "alice")
    assert done["acknowledged_by"] == "alice" and done["mtta_s"] == done["mttr_s"] == 4000
    assert done["target_met"] is False
    assert done["timeline"][-1]["details"]["implied_ack"] is True


async def test_stats_by_severity(incidents: Incidents, clock: FakeClock) -> None:
    start = clock.now
    # SEV1: acked after 300 s (met) and 1200 s (breached); resolved after 1000 s and 5000 s.
    for ack_after, resolve_after in ((300, 1000), (1200, 5000)):
        opened = await incidents.open("sev1", "SEV1", actor="x")
        clock.advance(ack_after)
        await incidents.ack(opened["id"], "a")
        clock.advance(resolve_after - ack_after)
        await incidents.resolve(opened["id"], "a")
    # SEV3: one still triggered, within its 4 h target.
    await incidents.open("sev3", "SEV3", actor="x")
    clock.advance(60)
    stats = await incidents.stats(start)
    sev1 = stats["by_severity"]["SEV1"]
    assert sev1["count"] == 2 and sev1["open"] == 0
    assert sev1["mtta_mean_s"] == 750 and sev1["mtta_median_s"] == 750
    assert sev1["mttr_mean_s"] == 3000 and sev1["mttr_median_s"] == 3000
    assert (sev1["target_met"], sev1["target_breached"], sev1["target_met_share"]) == (1, 1, 0.5)
    sev3 = stats["by_severity"]["SEV3"]
    assert sev3["count"] == 1 and sev3["open"] == 1 and sev3["target_met_share"] is None
    assert stats["by_severity"]["SEV2"]["count"] == 0 and stats["by_severity"]["SEV2"]["mtta_mean_s"] is None
    assert stats["all"]["count"] == 3 and stats["all"]["open"] == 1
    assert (await incidents.stats(clock.now))["all"]["count"] == 0
    assert set(stats["by_severity"]) == set(SEVERITY_TARGETS)


async def test_list_find_open_and_open_for_env(incidents: Incidents) -> None:
    a = await incidents.open("a", "SEV2", actor="x", app="shop", env="production", group_key="rule=errors")
    b = await incidents.open("b", "SEV3", actor="x", app="shop", env="staging", group_key="rule=errors")
    await incidents.open("c", "SEV3", actor="x", app="shop", env="production")
    await incidents.resolve(b["id"], "x")
    assert [i["number"] for i in await incidents.list()] == [3, 2, 1]
    assert [i["number"] for i in await incidents.list("open")] == [3, 1]
    assert [i["number"] for i in await incidents.list("resolved")] == [2]
    assert [i["number"] for i in await incidents.list(limit=1)] == [3]
    with pytest.raises(BadRequest):
        await incidents.list("closed")
    found = await incidents.find_open("rule=errors")
    assert found is not None and found["id"] == a["id"]
    assert await incidents.find_open("rule=nothing") is None
    assert [i["number"] for i in await incidents.open_for_env("shop", "production")] == [1, 3]
    assert await incidents.open_for_env("shop", "staging") == []


async def test_state_changes_are_audited(incidents: Incidents, store: Store) -> None:
    await incidents.open("a", "SEV3", actor="alice")
    await incidents.ack("1", "bob")
    await incidents.note("1", "bob", "looking")
    await incidents.resolve("1", "carol")
    await incidents.add_event("1", "alert", "alerts", "rule fired again")  # machine events are not audited
    audit = [(a["actor"], a["action"], a["target"]) for a in reversed(await store.list_audit())]
    assert audit == [("alice", "incident.open", "incident/#1"), ("bob", "incident.ack", "incident/#1"),
                     ("bob", "incident.note", "incident/#1"), ("carol", "incident.resolve", "incident/#1")]  # fmt: skip


async def _wait_for(incidents: Incidents, ref: str, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        timeline: list[dict[str, Any]] = (await incidents.get(ref))["timeline"]
        if len(timeline) >= count:
            return timeline
        await asyncio.sleep(0.01)
    raise AssertionError(f"timeline of {ref} never reached {count} events: {timeline}")


async def test_delivery_events_join_open_incidents_of_the_same_env(incidents: Incidents, clock: FakeClock) -> None:
    prod = await incidents.open("errors", "SEV2", actor="x", app="shop", env="production")
    staging = await incidents.open("errors", "SEV2", actor="x", app="shop", env="staging")
    done = await incidents.open("old", "SEV2", actor="x", app="shop", env="production")
    await incidents.resolve(done["id"], "x")
    bus = EventBus()
    follower = asyncio.create_task(incidents.follow_delivery(bus))
    await asyncio.sleep(0)  # subscribed
    base = {"rollout": "0123456789abcdef", "app": "shop", "env": "production", "step": 0, "details": {}}
    for kind, message, state in [("created", "canary of v7 (auto mode)", "running"),
                                 ("verdict", "errors: fail", "running"),  # not copied: rollout history only
                                 ("rolled_back", "errors: 4% vs 0.1%", "failed")]:  # fmt: skip
        bus.publish({**base, "kind": kind, "message": message, "state": state, "at": clock.now + 5})
    bus.publish({**base, "app": "other", "kind": "created", "message": "x", "state": "running", "at": clock.now})
    try:
        timeline = await _wait_for(incidents, prod["id"], 3)
        await asyncio.sleep(0.05)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    assert [(e["kind"], e["actor"]) for e in timeline] == [
        ("opened", "x"), ("deploy", "rollout:01234567"), ("rollback", "rollout:01234567")]  # fmt: skip
    assert timeline[1]["message"] == "rollout 01234567 created: canary of v7 (auto mode)"
    assert timeline[2]["details"]["kind"] == "rolled_back" and timeline[2]["details"]["state"] == "failed"
    assert len((await incidents.get(staging["id"]))["timeline"]) == 1
    assert len((await incidents.get(done["id"]))["timeline"]) == 2  # opened, resolved: closed ones get nothing
