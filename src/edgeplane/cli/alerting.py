"""``edgeplane alerts list|rules|ack|reload|check`` and ``edgeplane alerts silence add|list|expire``: alert
states and rules, acknowledgement, the alerting file, silences. (The group and its notification commands live in
cli/alerts.py; these attach to it.)"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.text import Text

from edgeplane.cli.alerts import alerts, epoch_time
from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit, table
from edgeplane.config.deploy import format_duration

__all__ = ["COMMANDS"]

STATE_STYLES = {"firing": "bold red", "pending": "yellow", "resolved": "green", "error": "magenta"}
SEVERITY_STYLES = {"critical": "bold red", "high": "red", "warning": "yellow", "info": "cyan"}


def _age(at: float | None) -> str:
    if not at:
        return ""
    return format_duration(max(0, time.time() - at))


@alerts.command("list")
@click.option("--state", type=click.Choice(["pending", "firing", "resolved", "error"]), help="Only these.")
def list_alerts(state: str | None) -> None:
    """Alert instances: firing first, with their value, age and what their actions did."""
    data = current_client().get("/v1/alerts", state=state)
    if emit(data):
        return
    rows = []
    for a in data["alerts"]:
        labels = a["labels"]
        where = ", ".join(f"{k}={v}" for k, v in labels.items() if k not in ("alertname", "severity"))
        value = "" if a["value"] is None else f"{a['value']:.4g}"
        ack = f"acked by {a['acknowledged_by']}" if a["acknowledged_by"] else ""
        notes = "; ".join(a["notes"]) or a["error"]
        rows.append((
            Text(a["state"], style=STATE_STYLES.get(a["state"], "")), labels.get("alertname", a["rule"]),
            Text(labels.get("severity", ""), style=SEVERITY_STYLES.get(labels.get("severity", ""), "")), where,
            value, _age(a["fired_at"] or a["active_since"]), ack, notes, a["fingerprint"][:8],
        ))  # fmt: skip
    if not rows:
        console.print("[green]no alerts[/]")
        return
    table("alerts", ["state", "alert", "severity", "labels", "value", "for", "ack", "notes", "id"], rows)
    if data.get("last_cycle_at"):
        console.print(f"[dim]last evaluation {epoch_time(data['last_cycle_at'])} UTC "
                      f"({data['last_cycle_ms']:.1f} ms), {data['errors']} evaluation errors[/]")  # fmt: skip


@alerts.command("rules")
def rules() -> None:
    """Every rule the evaluator runs (the alerting file's and the SLO burn-rate alerts) with live counts."""
    data = current_client().get("/v1/alerts/rules")
    if emit(data):
        return
    table(
        f"rules ({data['file'] or 'no alerting file'})",
        ["rule", "source", "severity", "for", "expression", "actions", "firing", "pending", "error"],
        [(r["name"], r["source"], Text(r["severity"], style=SEVERITY_STYLES.get(r["severity"], "")), f"{r['for']:g}s",
          r["query"] or r["expr"], ", ".join(r["actions"]), r["firing"] or "", r["pending"] or "", r["error"] or "")
         for r in data["rules"]],
    )  # fmt: skip


@alerts.command("ack")
@click.argument("alert")
def ack(alert: str) -> None:
    """Acknowledge firing alerts (name or id prefix): stops their escalation."""
    data = current_client().post(f"/v1/alerts/{alert}/ack")
    if emit(data):
        return
    for a in data["alerts"]:
        console.print(f"acknowledged {a['labels'].get('alertname')} {a['fingerprint'][:8]}")


@alerts.command("reload")
def reload() -> None:
    """Re-read the alerting file on the server (a bad file is refused; the running rules stay)."""
    data = current_client().post("/v1/alerts/reload")
    if emit(data):
        return
    console.print(f"reloaded {data['file']}: {data['rules']} rules, {data['receivers']} receivers, "
                  f"{data['probes']} probes")  # fmt: skip


@alerts.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(path: Path) -> None:
    """Validate an alerting file locally (like promtool check rules): exit 1 naming the key at fault."""
    from edgeplane.config.load import load_alerting_config

    config = load_alerting_config(path)
    if emit({"ok": True, "rules": len(config.rules), "receivers": len(config.receivers)}):
        return
    console.print(f"[green]ok[/]: {len(config.rules)} rules, {len(config.receivers)} receivers, "
                  f"{len(config.routes)} routes, {len(config.probes)} probes")  # fmt: skip


@alerts.group("silence")
def silence() -> None:
    """Hold notifications of matching alerts for a while."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--for", "duration", required=True, help="How long, e.g. 2h.")
@click.option("--comment", "-m", default="", help="Why.")
def silence_add(matchers: tuple[str, ...], duration: str, comment: str) -> None:
    """Silence alerts whose labels match every LABEL=VALUE given."""
    pairs = {}
    for m in matchers:
        if "=" not in m:
            raise click.UsageError(f"{m!r}: matchers are LABEL=VALUE, e.g. alertname=HighErrorRate")
        key, value = m.split("=", 1)
        pairs[key] = value
    data = current_client().post("/v1/silences", json={"matchers": pairs, "duration": duration, "comment": comment})
    if emit(data):
        return
    console.print(f"silence {data['id'][:8]} until {epoch_time(data['ends_at'])} UTC")


@silence.command("list")
@click.option("--expired", is_flag=True, help="Include expired silences.")
def silence_list(expired: bool) -> None:
    data = current_client().get("/v1/silences", expired=expired)
    if emit(data):
        return
    table("silences", ["id", "matchers", "until", "by", "comment"],
          [(s["id"][:8], ", ".join(f"{k}={v}" for k, v in s["matchers"].items()), epoch_time(s["ends_at"]),
            s["created_by"], s["comment"]) for s in data["silences"]])  # fmt: skip


@silence.command("expire")
@click.argument("silence_id")
def silence_expire(silence_id: str) -> None:
    data = current_client().request("DELETE", f"/v1/silences/{silence_id}")
    if emit(data):
        return
    console.print(f"expired silence {data['id'][:8]}")


COMMANDS: list[click.Command] = []
"""The commands attach to the ``alerts`` group of cli/alerts.py."""
