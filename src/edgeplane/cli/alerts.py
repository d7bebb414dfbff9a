"""``edgeplane alerts ...``: alert rules, their states and notifications. This module holds the group and the
notification commands (``notifications``, ``receivers``, ``test``)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.text import Text

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit, table

__all__ = ["COMMANDS", "alerts", "epoch_time"]

STATUS_STYLES = {"sent": "green", "failed": "red", "pending": "yellow", "skipped": "dim"}
POLL_EVERY = 0.2


def epoch_time(at: float | None) -> str:
    """Epoch seconds as the CLI shows times elsewhere (UTC, to the second)."""
    return "" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def alerts() -> None:
    """Alerts: rules and their states, silences, notifications and receivers."""


@alerts.command("notifications")
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "skipped"]), help="Only these.")
@click.option("--receiver", help="Only notifications to this receiver.")
@click.option("--limit", default=50, show_default=True)
def notifications(status: str | None, receiver: str | None, limit: int) -> None:
    """The notification log, newest first: where each went, whether it arrived, and the last error."""
    data = current_client().get("/v1/alerts/notifications", status=status, receiver=receiver, limit=limit)
    rows = data["notifications"]
    if emit(rows):
        return
    t = [
        (epoch_time(n["at"]), n["receiver"], n["kind"], Text(n["status"], style=STATUS_STYLES.get(n["status"], "")),
         n["attempts"], Text(n["last_error"], style="red" if n["status"] == "failed" else "dim"))
        for n in rows
    ]  # fmt: skip
    table("notifications", ["time", "receiver", "kind", "status", "attempts", "last error"], t)


@alerts.command("receivers")
def receivers() -> None:
    """The configured receivers with their delivery counts and current failure (secrets are never shown)."""
    rows = current_client().get("/v1/alerts/receivers")["receivers"]
    if emit(rows):
        return
    table(
        "receivers",
        ["name", "kind", "secrets from", "sent", "retries", "failed", "failing"],
        [(r["name"], r["kind"], " ".join(r["secrets_from"]), r["sent"], r["retry"], r["failed"],
          Text(r["failing"] or "", style="red")) for r in rows],
    )  # fmt: skip


def _follow(client: Any, notification_id: int, wait: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while True:
        row: dict[str, Any] = client.get(f"/v1/alerts/notifications/{notification_id}")
        if row["status"] != "pending" or time.monotonic() >= deadline:
            return row
        time.sleep(POLL_EVERY)


@alerts.command("test")
@click.argument("receiver")
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the outcome (0: don't wait).")
def test(receiver: str, wait: float) -> None:
    """Send a test message to RECEIVER and report whether it arrived (exit 1 when it failed)."""
    client = current_client()
    queued = client.post(f"/v1/alerts/receivers/{receiver}/test")
    row = _follow(client, queued["id"], wait) if wait > 0 else {"id": queued["id"], "status": "pending"}
    if emit(row):
        if row["status"] == "failed":
            sys.exit(1)
        return
    attempts = row.get("attempts", 0)
    if row["status"] == "sent":
        console.print(f"[green]sent[/] test notification {row['id']} to {receiver} ({attempts} attempt(s))")
    elif row["status"] == "failed":
        console.print(f"[red]failed[/] test notification {row['id']} to {receiver} after {attempts} attempt(s): "
                      f"{row['last_error']}")  # fmt: skip
        sys.exit(1)
    else:
        last = f"; last error: {row['last_error']}" if row.get("last_error") else ""
        console.print(f"test notification {row['id']} to {receiver} is still pending ({attempts} attempt(s){last}); "
                      "follow it with 'edgeplane alerts notifications'")  # fmt: skip


COMMANDS = [alerts]
