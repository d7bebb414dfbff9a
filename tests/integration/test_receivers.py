"""Notification delivery to real local receivers: each kind's payload as the receiver gets it (webhook in
Alertmanager v4 JSON, Slack, Discord, PagerDuty Events v2, email over SMTP with STARTTLS and a login), retries
with backoff, failures that stay visible, secrets kept out of the log, and the admin API and CLI on a running
platform with a receiver that is down."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeplane.config.observe import AlertingConfig, ReceiverConfig
from edgeplane.control.store import Store
from edgeplane.observe.notify import NOT_ENDED, Message, Notifier
from tests.integration.harness import RunningPlatform
from tests.receivers import HTTPReceiver, SMTPReceiver, closed_port_url, http_receiver, smtp_receiver, wait_until

pytestmark = pytest.mark.timeout(60)
__all__ = ["http_receiver", "smtp_receiver"]  # fixtures used here

GROUP_KEY = '{}:{alertname="HighErrorRate", app="prompt-lab", env="production"}'


def alert(status: str = "firing", version: str = "v7", value: str = "0.075") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "app": "prompt-lab", "env": "production", "version": version,
                   "severity": "high"},
        "annotations": {"summary": f"error rate {float(value):.1%} over 5m", "value": value},
        "startsAt": "2026-05-01T10:00:00.000000Z",
        "endsAt": NOT_ENDED if status == "firing" else "2026-05-01T10:20:00.000000Z",
        "fingerprint": f"fp-{version}",
    }  # fmt: skip


def message(kind: str = "firing", severity: str = "high", **changes: Any) -> Message:
    status = "resolved" if kind == "resolved" else "firing"
    fields: dict[str, Any] = {
        "kind": kind,
        "title": f"[{status.upper()}:2] HighErrorRate prompt-lab/production",
        "severity": severity,
        "group_key": GROUP_KEY,
        "group_labels": {"alertname": "HighErrorRate", "app": "prompt-lab", "env": "production"},
        "alerts": [alert(status, "v7", "0.075"), alert(status, "v8", "0.061")],
        "text": "Error rate above 5% for 5 minutes.\nCanary v8 is rolling out.",
        "url": "http://127.0.0.1:8788/v1/alerts",
        "incident": "#12",
    }
    return Message(**{**fields, **changes})


class Notifying:
    """A notifier on a real SQLite store whose receivers a test sets."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.config = AlertingConfig()
        self.notifier = Notifier(store, lambda: self.config)

    def receivers(self, *receivers: ReceiverConfig) -> Notifier:
        self.config = AlertingConfig(receivers=list(receivers))
        return self.notifier

    async def deliver(self, receiver: str, msg: Message, timeout: float = 15) -> dict[str, Any]:
        """Send and wait for the outcome; the stored row."""
        row_id = await self.notifier.send(receiver, msg)
        assert await self.notifier.wait_idle(timeout), "delivery still in flight"
        row = await self.notifier.get(row_id)
        assert row is not None
        return row


@pytest.fixture
async def notifying(tmp_path: Path) -> AsyncIterator[Notifying]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    await store.init()
    n = Notifying(store)
    await n.notifier.start()
    yield n
    await n.notifier.close()
    await store.close()


# -- payloads, as each receiver gets them -------------------------------------------------------------------------
async def test_webhook_gets_alertmanager_v4_json_and_its_url_stays_secret(
    notifying: Notifying, http_receiver: HTTPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_url = http_receiver.url("/hooks/T0KEN-abc123")
    monkeypatch.setenv("EP_TEST_HOOK", secret_url)
    hook = ReceiverConfig(name="ops-hook", kind="webhook", url_env="EP_TEST_HOOK", headers={"x-team": "edge"})
    notifying.receivers(hook)
    row = await notifying.deliver("ops-hook", message())

    assert row["status"] == "sent" and row["attempts"] == 1 and row["last_error"] == ""
    assert row["sent_at"] >= row["at"] and row["subject"] == "[FIRING:2] HighErrorRate prompt-lab/production"
    (request,) = http_receiver.to("/hooks/T0KEN-abc123")
    assert request.headers["content-type"] == "application/json" and request.headers["x-team"] == "edge"
    body = request.json()
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "ops-hook"
    assert body["groupKey"] == GROUP_KEY and body["truncatedAlerts"] == 0
    assert body["groupLabels"] == {"alertname": "HighErrorRate", "app": "prompt-lab", "env": "production"}
    assert body["commonLabels"] == {"alertname": "HighErrorRate", "app": "prompt-lab", "env": "production",
                                    "severity": "high"}  # fmt: skip
    assert body["commonAnnotations"] == {}  # the two alerts' summaries differ
    assert body["externalURL"] == "http://127.0.0.1:8788/v1/alerts"
    assert [a["labels"]["version"] for a in body["alerts"]] == ["v7", "v8"]
    first = body["alerts"][0]
    assert first["status"] == "firing" and first["endsAt"] == NOT_ENDED and first["fingerprint"] == "fp-v7"
    assert first["annotations"] == {"summary": "error rate 7.5% over 5m", "value": "0.075"}
    assert first["startsAt"] == "2026-05-01T10:00:00.000000Z" and "generatorURL" in first
    stored = json.dumps(row, default=str)
    assert "T0KEN-abc123" not in stored and secret_url not in stored
    assert row["payload"]["message"]["group_key"] == GROUP_KEY  # the message is kept for a restart, not the URL


async def test_slack_attachment_is_coloured_by_severity_and_green_when_resolved(
    notifying: Notifying, http_receiver: HTTPReceiver
) -> None:
    notifying.receivers(ReceiverConfig(name="chat", kind="slack", url=http_receiver.url("/services/T1/B2/xyz")))
    await notifying.deliver("chat", message(severity="critical"))
    await notifying.deliver("chat", message("resolved", severity="critical"))

    firing, resolved = (r.json() for r in http_receiver.to("/services/T1/B2/xyz"))
    assert firing["text"] == "[FIRING:2] HighErrorRate prompt-lab/production"
    (attachment,) = firing["attachments"]
    assert attachment["color"] == "#d00000" and attachment["title_link"] == "http://127.0.0.1:8788/v1/alerts"
    assert "Canary v8 is rolling out." in attachment["text"]
    assert "[FIRING] error rate 7.5% over 5m (value 0.075)" in attachment["text"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["Severity"] == "critical" and fields["env"] == "production" and fields["Incident"] == "#12"
    assert resolved["text"].startswith("[RESOLVED:2]") and resolved["attachments"][0]["color"] == "#2eb886"


async def test_discord_embed_stays_within_discords_limits(notifying: Notifying, http_receiver: HTTPReceiver) -> None:
    notifying.receivers(ReceiverConfig(name="discord", kind="discord", url=http_receiver.url("/api/webhooks/1/x")))
    labels = {f"label{i:02d}": "v" * 1500 for i in range(30)}
    huge = message(title="T" * 3000, text="line of text\n" * 1000, group_labels=labels)
    row = await notifying.deliver("discord", huge)
    assert row["status"] == "sent"
    await notifying.deliver("discord", message(severity="warning"))

    big, normal = (r.json() for r in http_receiver.to("/api/webhooks/1/x"))
    assert len(big["content"]) == 2000 and big["content"].endswith("…")
    (embed,) = big["embeds"]
    assert len(embed["title"]) == 256 and len(embed["description"]) == 4096
    assert len(embed["fields"]) <= 25 and all(len(f["value"]) <= 1024 for f in embed["fields"])
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    assert total + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]) <= 6000
    assert embed["color"] == 0xE8590C  # high
    (embed,) = normal["embeds"]
    assert normal["content"] == "[FIRING:2] HighErrorRate prompt-lab/production"
    assert embed["color"] == 0xF2C744 and embed["url"] == "http://127.0.0.1:8788/v1/alerts"
    assert {"name": "severity", "value": "warning", "inline": True} in embed["fields"]
    assert normal["allowed_mentions"] == {"parse": []}  # alert text never pings @everyone


async def test_pagerduty_triggers_then_resolves_one_incident_and_keeps_the_key_secret(
    notifying: Notifying, http_receiver: HTTPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EP_PD_KEY", "R0UTING-KEY-0123456789abcdef")
    pager = ReceiverConfig(name="oncall", kind="pagerduty", routing_key_env="EP_PD_KEY",
                           url=http_receiver.url("/v2/enqueue"))  # fmt: skip
    notifying.receivers(pager)
    triggered = await notifying.deliver("oncall", message(severity="high"))
    resolved = await notifying.deliver("oncall", message("resolved", severity="high"))

    trigger, resolve = (r.json() for r in http_receiver.to("/v2/enqueue"))
    assert trigger["routing_key"] == "R0UTING-KEY-0123456789abcdef" and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == GROUP_KEY == resolve["dedup_key"] and resolve["event_action"] == "resolve"
    payload = trigger["payload"]
    assert payload["summary"] == "[FIRING:2] HighErrorRate prompt-lab/production"
    assert payload["severity"] == "error"  # PagerDuty has no "high"
    assert payload["source"] == "prompt-lab" and payload["component"] == "prompt-lab"
    assert payload["group"] == "production" and payload["class"] == "HighErrorRate"
    assert payload["custom_details"]["firing"] == 2 and payload["custom_details"]["incident"] == "#12"
    assert trigger["links"] == [{"href": "http://127.0.0.1:8788/v1/alerts", "text": "edgeplane"}]
    for row in (triggered, resolved):
        assert row["status"] == "sent"
        assert "R0UTING-KEY" not in json.dumps(row, default=str)


async def test_email_of_a_delivery_event_over_plain_smtp(notifying: Notifying, smtp_receiver: SMTPReceiver) -> None:
    mail = ReceiverConfig(name="mail", kind="email", smtp_host="127.0.0.1", smtp_port=smtp_receiver.port,
                          sender="edgeplane@example.com", to=["ops@example.com", "lead@example.com"])  # fmt: skip
    notifying.receivers(mail)
    event = Message(kind="event", title="Rollout of prompt-lab v8 to production rolled back", severity="warning",
                    group_key="rollout/abc123", group_labels={"app": "prompt-lab", "env": "production"}, alerts=[],
                    text="errors: canary 4.1% vs stable 0.2% (p=0.0003)")  # fmt: skip
    row = await notifying.deliver("mail", event)

    assert row["status"] == "sent" and row["attempts"] == 1
    (got,) = smtp_receiver.wait_for(1)
    assert got.sender == "edgeplane@example.com" and got.recipients == ["ops@example.com", "lead@example.com"]
    assert got.message["Subject"] == "Rollout of prompt-lab v8 to production rolled back"
    assert got.message["X-Edgeplane-Kind"] == "event" and got.login is None
    assert "errors: canary 4.1% vs stable 0.2% (p=0.0003)" in got.body
    assert "[FIRING] Rollout of prompt-lab v8 to production rolled back" in got.body  # its one pseudo-alert
    assert "labels: app=prompt-lab, env=production" in got.body
    (pseudo,) = row["payload"]["message"]["alerts"]
    assert pseudo["labels"]["alertname"] == "edgeplane_event" and pseudo["labels"]["app"] == "prompt-lab"


async def test_email_with_starttls_and_a_login_and_a_wrong_password(
    notifying: Notifying, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SMTPReceiver(users={"alerts": "s3cret-pass"}, tls_dir=tmp_path).start()
    try:
        assert server.ca_file is not None
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))  # the client verifies the test CA's certificate
        monkeypatch.setenv("EP_SMTP_PASSWORD", "s3cret-pass")
        monkeypatch.setenv("EP_WRONG_PASSWORD", "guess")
        common: dict[str, Any] = {"kind": "email", "smtp_host": "127.0.0.1", "smtp_port": server.port,
                                  "starttls": True, "username": "alerts", "sender": "edgeplane@example.com",
                                  "to": ["ops@example.com"], "max_attempts": 3}  # fmt: skip
        notifying.receivers(ReceiverConfig(name="mail", password_env="EP_SMTP_PASSWORD", **common),
                            ReceiverConfig(name="mail-bad", password_env="EP_WRONG_PASSWORD", **common))  # fmt: skip
        row = await notifying.deliver("mail", message(severity="critical"))
        assert row["status"] == "sent", row["last_error"]
        (got,) = server.wait_for(1)
        assert got.login == "alerts" and got.message["Subject"] == "[FIRING:2] HighErrorRate prompt-lab/production"
        assert "[FIRING] error rate 7.5% over 5m (value 0.075)" in got.body and "incident: #12" in got.body

        bad = await notifying.deliver("mail-bad", message())
        assert bad["status"] == "failed" and bad["attempts"] == 1  # a wrong password does not heal by retrying
        assert "535" in bad["last_error"] and "guess" not in bad["last_error"]
        assert notifying.notifier.failing["mail-bad"] == bad["last_error"]
    finally:
        server.stop()


# -- retries, failures, ordering -----------------------------------------------------------------------------------
async def test_a_receiver_failing_twice_is_retried_with_backoff_then_sent(
    notifying: Notifying, http_receiver: HTTPReceiver
) -> None:
    notifier = notifying.receivers(ReceiverConfig(name="hook", kind="webhook", url=http_receiver.url()))
    http_receiver.fail_next(500, 503)
    started = time.monotonic()
    row = await notifying.deliver("hook", message())
    took = time.monotonic() - started

    assert row["status"] == "sent" and row["attempts"] == 3 and row["last_error"] == ""
    assert len(http_receiver.to("/hook")) == 3
    assert 0.25 + 0.5 <= took < 5  # two backoffs: 0.5 s then 1 s, each jittered down by at most half
    assert notifier.counts[("hook", "retry")] == 2 and notifier.counts[("hook", "sent")] == 1
    assert "hook" not in notifier.failing


async def test_a_rejected_payload_fails_at_once_and_a_missing_secret_is_named(
    notifying: Notifying, http_receiver: HTTPReceiver
) -> None:
    notifier = notifying.receivers(
        ReceiverConfig(name="hook", kind="webhook", url=http_receiver.url()),
        ReceiverConfig(name="chat", kind="slack", url_env="EP_NOT_SET_ANYWHERE"),
    )
    http_receiver.fail_next(400)
    rejected = await notifying.deliver("hook", message())
    assert rejected["status"] == "failed" and rejected["attempts"] == 1
    assert rejected["last_error"].startswith(f"HTTP 400 from 127.0.0.1:{http_receiver.port}")
    assert len(http_receiver.to("/hook")) == 1

    missing = await notifying.deliver("chat", message())
    assert missing["status"] == "failed" and missing["attempts"] == 1
    assert "environment variable EP_NOT_SET_ANYWHERE is not set" in missing["last_error"]
    assert notifier.failing == {"hook": rejected["last_error"], "chat": missing["last_error"]}

    unknown = await notifying.deliver("nobody", message())
    assert unknown["status"] == "failed" and "receiver 'nobody' is not configured" in unknown["last_error"]
    failed = await notifier.list(status="failed")
    assert [r["receiver"] for r in failed] == ["nobody", "chat", "hook"]


async def test_a_receiver_that_is_down_fails_after_max_attempts_without_blocking_the_caller(
    notifying: Notifying,
) -> None:
    down = closed_port_url()
    with socket.socket() as black_hole:  # accepts connections (backlog) but never answers
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        silent = f"http://127.0.0.1:{black_hole.getsockname()[1]}/hook"
        notifier = notifying.receivers(
            ReceiverConfig(name="down", kind="webhook", url=down, max_attempts=3),
            ReceiverConfig(name="silent", kind="webhook", url=silent, max_attempts=2, timeout=0.3),
        )
        started = time.monotonic()
        ids = [await notifier.send("down", message()), await notifier.send("silent", message())]
        assert time.monotonic() - started < 0.5  # queued, not delivered, before returning
        assert await notifier.wait_idle(15)
    down_row, silent_row = [await notifier.get(i) for i in ids]
    assert down_row is not None and silent_row is not None
    assert down_row["status"] == "failed" and down_row["attempts"] == 3
    assert down_row["last_error"].startswith(f"cannot reach {down.split('/')[2]}")
    assert down_row["last_error"].endswith("(gave up after 3 attempts)")
    assert silent_row["status"] == "failed" and silent_row["attempts"] == 2
    assert "no answer from" in silent_row["last_error"] and "within 0.3 s" in silent_row["last_error"]
    assert notifier.counts[("down", "retry")] == 2 and notifier.counts[("down", "failed")] == 1
    assert set(notifier.failing) == {"down", "silent"}


async def test_a_resolved_notification_never_overtakes_its_firing_one(
    notifying: Notifying, http_receiver: HTTPReceiver
) -> None:
    notifying.receivers(ReceiverConfig(name="hook", kind="webhook", url=http_receiver.url()))
    http_receiver.fail_next(503)  # the firing notification needs a second attempt
    await notifying.notifier.send("hook", message("firing"))
    await notifying.notifier.send("hook", message("resolved"))
    assert await notifying.notifier.wait_idle(10)
    assert [r.json()["status"] for r in http_receiver.to("/hook")] == ["firing", "firing", "resolved"]


async def test_resolved_notifications_are_skipped_when_the_receiver_does_not_want_them(
    notifying: Notifying, http_receiver: HTTPReceiver
) -> None:
    notifying.receivers(ReceiverConfig(name="hook", kind="webhook", url=http_receiver.url(), send_resolved=False))
    row = await notifying.deliver("hook", message("resolved"))
    assert row["status"] == "skipped" and row["attempts"] == 0 and http_receiver.requests == []


# -- the platform: admin API and CLI ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hook_server() -> Iterator[HTTPReceiver]:
    server = HTTPReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, hook_server: HTTPReceiver) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("receivers")
    (root / "edgeplane.toml").write_text('[server.observe]\nalerts_file = "alerts.toml"\n')
    (root / "alerts.toml").write_text(
        f"""
[[receivers]]
name = "hook"
kind = "webhook"
url_env = "EP_HOOK_URL"

[[receivers]]
name = "down"
kind = "webhook"
url = "{closed_port_url()}"
max_attempts = 2
"""
    )
    env = {"EP_HOOK_URL": hook_server.url("/hook/s3cr3t-path")}
    p = RunningPlatform(root, env=env).start()
    try:
        yield p
    finally:
        p.stop()


def _notification(platform: RunningPlatform, notification_id: int, final: bool = True) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        row: dict[str, Any] = platform.admin.get(f"/v1/alerts/notifications/{notification_id}").json()
        return row if not final or row["status"] != "pending" else None

    result: dict[str, Any] = wait_until(check, 15, f"notification {notification_id} to finish")
    return result


def test_the_admin_api_sends_a_test_message_and_shows_a_down_receiver(
    platform: RunningPlatform, hook_server: HTTPReceiver
) -> None:
    r = platform.admin.post("/v1/alerts/receivers/hook/test")
    assert r.status_code == 202, r.text
    sent = _notification(platform, r.json()["id"])
    assert sent["status"] == "sent" and sent["kind"] == "test" and sent["attempts"] == 1
    (request,) = hook_server.wait_for("/hook/s3cr3t-path")
    body = request.json()
    assert body["version"] == "4" and body["receiver"] == "hook" and body["status"] == "firing"
    assert body["alerts"][0]["labels"]["alertname"] == "EdgeplaneTest"

    r = platform.admin.post("/v1/alerts/receivers/down/test")
    assert r.status_code == 202, r.text
    failed = _notification(platform, r.json()["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert failed["last_error"].startswith("cannot reach 127.0.0.1:")
    listed = platform.admin.get("/v1/alerts/notifications", params={"status": "failed"}).json()
    assert [n["id"] for n in listed["notifications"]] == [failed["id"]]
    assert listed["failing"] == {"down": failed["last_error"]}
    assert "payload" not in listed["notifications"][0]
    receivers = {r["name"]: r for r in platform.admin.get("/v1/alerts/receivers").json()["receivers"]}
    assert receivers["down"]["failing"] == failed["last_error"] and receivers["down"]["failed"] == 1
    assert receivers["hook"]["sent"] >= 1 and receivers["hook"]["secrets_from"] == ["$EP_HOOK_URL"]

    # The platform keeps serving, and never wrote the secret URL anywhere.
    assert platform.admin.get("/health").status_code == 200
    assert platform.get("/").status_code in (404, 502, 503)  # no app deployed: an answer, not a crash
    assert "s3cr3t-path" not in platform.log()
    assert "s3cr3t-path" not in json.dumps(platform.admin.get(f"/v1/alerts/notifications/{sent['id']}").json())

    missing = platform.admin.post("/v1/alerts/receivers/nope/test")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "receiver_not_found"


def test_cli_tests_receivers_and_lists_notifications(platform: RunningPlatform) -> None:
    ok = platform.cli("alerts", "test", "hook")
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert "sent test notification" in ok.stdout and "hook" in ok.stdout

    down = platform.cli("alerts", "test", "down")
    assert down.returncode == 1, down.stderr + down.stdout
    assert "failed test notification" in down.stdout and "cannot reach 127.0.0.1:" in down.stdout

    listing = platform.cli("alerts", "notifications", "--limit", "5")
    assert listing.returncode == 0, listing.stderr
    for column in ("time", "receiver", "kind", "status", "attempts", "last error"):
        assert column in listing.stdout
    assert "down" in listing.stdout and "failed" in listing.stdout

    rows = platform.cli_json("alerts", "notifications", "--status", "failed")
    assert rows and all(r["status"] == "failed" and r["receiver"] == "down" for r in rows)

    unknown = platform.cli("alerts", "test", "nope")
    assert unknown.returncode == 1 and "receiver_not_found" in unknown.stderr
