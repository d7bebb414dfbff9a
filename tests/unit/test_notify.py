"""The notifier's bookkeeping on a real SQLite store: a restart resumes what was pending (counting attempts on,
never re-sending what was sent), close leaves unfinished rows pending, the backoff schedule, and the message
round trip through the payload column."""

from __future__ import annotations

from edgeplane.config.observe import AlertingConfig, ReceiverConfig
from edgeplane.control.store import Store
from edgeplane.observe.notify import NOT_ENDED, Message, Notifier
from tests.conftest import FakeClock
from tests.receivers import HTTPReceiver, closed_port_url, http_receiver

__all__ = ["http_receiver"]


def hook(url: str, **options: object) -> AlertingConfig:
    return AlertingConfig(receivers=[ReceiverConfig(name="hook", kind="webhook", url=url, **options)])  # type: ignore[arg-type]


def firing(group: str = "g1") -> Message:
    return Message(
        kind="firing", title=f"[FIRING:1] HighLatency {group}", severity="warning", group_key=group,
        group_labels={"alertname": "HighLatency"}, alerts=[{
            "status": "firing", "labels": {"alertname": "HighLatency"}, "annotations": {"summary": "p95 > 200 ms"},
            "startsAt": "2026-05-01T10:00:00Z", "endsAt": NOT_ENDED, "fingerprint": "f1",
        }],
    )  # fmt: skip


async def test_a_restart_resumes_pending_notifications_and_never_resends_sent_ones(
    store: Store, http_receiver: HTTPReceiver, clock: FakeClock
) -> None:
    down = Notifier(store, lambda: hook(closed_port_url(), max_attempts=10), clock=clock)
    down.base_delay = 30.0  # the first run stops during its first backoff
    await down.start()
    pending_id = await down.send("hook", firing("g1"))
    await down.wait_idle(0.5)
    (row,) = await down.list(status="pending")
    assert row["id"] == pending_id and row["attempts"] == 1 and row["last_error"].startswith("cannot reach")
    await down.close()
    assert (await down.get(pending_id) or {})["status"] == "pending"  # close leaves it for the next start

    up = Notifier(store, lambda: hook(http_receiver.url()), clock=clock)
    await up.start()
    assert await up.wait_idle(10)
    resumed = await up.get(pending_id)
    assert resumed is not None and resumed["status"] == "sent" and resumed["attempts"] == 2
    assert resumed["sent_at"] == clock.now and resumed["last_error"] == ""
    (request,) = http_receiver.to("/hook")
    assert request.json()["groupKey"] == "g1" and request.json()["alerts"][0]["fingerprint"] == "f1"
    await up.close()

    again = Notifier(store, lambda: hook(http_receiver.url()), clock=clock)
    await again.start()
    assert await again.wait_idle(5)
    assert len(http_receiver.to("/hook")) == 1  # a sent notification is never sent twice
    await again.close()


async def test_a_resumed_notification_to_a_receiver_removed_from_the_config_fails_visibly(
    store: Store, clock: FakeClock
) -> None:
    first = Notifier(store, lambda: hook(closed_port_url()), clock=clock)
    first.base_delay = 30.0
    row_id = await first.send("hook", firing())
    await first.wait_idle(0.5)
    await first.close()

    second = Notifier(store, AlertingConfig, clock=clock)
    await second.start()
    assert await second.wait_idle(5)
    row = await second.get(row_id)
    assert row is not None and row["status"] == "failed"
    assert row["last_error"] == "receiver 'hook' is not configured (known: none)"
    await second.close()


def test_backoff_doubles_from_half_a_second_caps_at_a_minute_and_is_jittered(store: Store) -> None:
    notifier = Notifier(store, AlertingConfig)
    for attempt, full in ((1, 0.5), (2, 1.0), (3, 2.0), (7, 32.0), (8, 60.0), (20, 60.0)):
        delays = {notifier.delay(attempt) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays), (attempt, delays)
        assert len(delays) > 1  # jittered: notifiers coming back do not retry in lockstep
    assert notifier.delay(1, retry_after=5) == 5  # the receiver's Retry-After wins over a shorter backoff
    assert notifier.delay(1, retry_after=3600) == 60  # but never past the cap


def test_messages_round_trip_through_the_payload_and_events_get_one_pseudo_alert() -> None:
    event = Message(kind="event", title="Rollout of web v3 rolled back", severity="high", group_key="rollout/r1",
                    group_labels={"app": "web", "env": "production"}, alerts=[], text="errors: 4%")  # fmt: skip
    with_alert = event.with_pseudo_alert(1_800_000_000.0)
    (alert,) = with_alert.alerts
    assert alert["status"] == "firing" and alert["endsAt"] == NOT_ENDED
    assert alert["labels"] == {"alertname": "edgeplane_event", "app": "web", "env": "production", "severity": "high"}
    assert alert["annotations"] == {"summary": "Rollout of web v3 rolled back", "description": "errors: 4%"}
    assert alert["startsAt"] == "2027-01-15T08:00:00.000000Z"
    assert Message.from_dict(with_alert.to_dict()) == with_alert
    assert with_alert.with_pseudo_alert(0) is with_alert  # done once: retries send the same thing
    resolved = Message(kind="resolved", title="t", severity="info", group_key="g", group_labels={}, alerts=[])
    assert resolved.status == "resolved" and resolved.with_pseudo_alert(0).alerts[0]["status"] == "resolved"
    assert firing().status == "firing"
