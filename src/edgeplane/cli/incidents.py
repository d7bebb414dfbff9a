"""``edgeplane incidents list|show|open|ack|resolve|note|stats`` and ``edgeplane dora``: incident response from
the terminal, and the delivery performance those incidents and deployments add up to.

An incident is named by its number (``12`` or ``#12``) or its id (or an id prefix)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import click
from rich import box
from rich.table import Table
from rich.text import Text

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit
from edgeplane.config.deploy import format_duration

__all__ = ["COMMANDS"]

SEVERITY_STYLES = {"SEV1": "bold white on red", "SEV2": "bold red", "SEV3": "yellow", "SEV4": "cyan"}
STATE_STYLES = {"triggered": "bold red", "acknowledged": "yellow", "resolved": "green"}
EVENT_STYLES = {"opened": "bold red", "acknowledged": "yellow", "resolved": "green", "note": "bold",
                "rollback": "magenta", "deploy": "blue"}  # fmt: skip
RESTORE_FROM = {"deployments": "failed changes", "incidents": "resolved incidents"}
BAND_STYLES = {"elite": "bold green", "high": "green", "medium": "yellow", "low": "red"}

Incident = dict[str, Any]


def _path(ref: str, action: str = "") -> str:
    return f"/v1/incidents/{quote(ref, safe='')}" + (f"/{action}" if action else "")


# -- rendering ---------------------------------------------------------------------------------------------------
def when(epoch: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """UTC, like every other time the CLI shows."""
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime(fmt)


def span(seconds: float | None) -> str:
    """A duration for people: ``45s``, ``12m``, ``3h05m``, ``2d4h``."""
    if seconds is None:
        return "-"
    if seconds >= 2 * 86400:
        days, rest = divmod(round(seconds), 86400)
        return f"{days}d{rest // 3600}h" if rest // 3600 else f"{days}d"
    return format_duration(max(0.0, seconds))


def _severity(sev: str) -> Text:
    return Text(sev, style=SEVERITY_STYLES.get(sev, ""))


def _state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def target_text(incident: Incident) -> Text:
    """``met``/``breached``/``pending`` against the severity's time-to-acknowledge target."""
    target = f"{span(incident['target_s'])} to acknowledge"
    met, mtta = incident["target_met"], incident["mtta_s"]
    if met is True:
        return Text.assemble(("met", "green"), f" ({span(mtta)} ≤ {target})")
    if met is False:
        took = span(mtta) if mtta is not None else f"unacknowledged after {span(time.time() - incident['created_at'])}"
        return Text.assemble(("breached", "bold red"), f" ({took}; target {target})")
    left = incident["target_s"] - (time.time() - incident["created_at"])
    return Text.assemble(("pending", "yellow"), f" ({span(left)} left of {target})")


def _where(incident: Incident) -> str:
    return f"{incident['app']}/{incident['env']}" if incident["app"] else ""


def _table(rows: list[Incident], title: str) -> Table:
    """MTTA is green when it met the response target and red when it breached it (red ``-``: still
    unacknowledged past the target)."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for column in ("#", "severity", "state", "title", "app/env", "age", "MTTA"):
        t.add_column(column, no_wrap=column != "title", min_width=16 if column == "title" else None)
    now = time.time()
    for i in rows:
        style = {True: "green", False: "bold red"}.get(i["target_met"], "")
        t.add_row(
            str(i["number"]), _severity(i["severity"]), _state(i["state"]), Text(i["title"]), _where(i),
            span(now - i["created_at"]), Text(span(i["mtta_s"]), style=style),
        )  # fmt: skip
    return t


def render(incident: Incident) -> None:
    """Header, who did what when, the response target, and the timeline."""
    console.print(Text.assemble((f"#{incident['number']} ", "bold"), _severity(incident["severity"]), " ",
                                _state(incident["state"]), "  ", (incident["title"], "bold")))  # fmt: skip
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    if incident.get("summary"):
        facts.add_row("summary", Text(incident["summary"]))
    if incident["app"]:
        facts.add_row("where", _where(incident))
    facts.add_row("opened", f"{when(incident['created_at'])} by {incident['created_by']} ({incident['source']})")
    if incident["acknowledged_at"] is not None:
        facts.add_row("acknowledged", f"{when(incident['acknowledged_at'])} by {incident['acknowledged_by']} "
                                      f"(MTTA {span(incident['mtta_s'])})")  # fmt: skip
    if incident["resolved_at"] is not None:
        facts.add_row("resolved", f"{when(incident['resolved_at'])} by {incident['resolved_by']} "
                                  f"(MTTR {span(incident['mttr_s'])})")  # fmt: skip
    facts.add_row("target", target_text(incident))
    facts.add_row("id", Text(incident["id"], style="dim"))
    console.print(facts)
    timeline = Table(box=box.SIMPLE_HEAD, header_style="bold", title="timeline", title_justify="left")
    for column in ("at", "event", "actor", "message"):
        timeline.add_column(column, no_wrap=column != "message")
    for e in incident.get("timeline", []):
        kind = Text(e["kind"], style=EVENT_STYLES.get(e["kind"], ""))
        timeline.add_row(when(e["at"], "%m-%d %H:%M:%S"), kind, e["actor"], Text(e["message"]))
    console.print(timeline)


def _done(verb: str, incident: Incident) -> None:
    if emit(incident):
        return
    console.print(Text.assemble(f"{verb} ", (f"#{incident['number']}", "bold"), " ", _severity(incident["severity"]),
                                " ", _state(incident["state"]), f"  {incident['title']}"))  # fmt: skip
    console.print(Text.assemble("target ", target_text(incident)))


# -- incidents ---------------------------------------------------------------------------------------------------
@click.group()
def incidents() -> None:
    """Incidents: open, acknowledge, resolve, annotate, and see response times (MTTA/MTTR).

    REF is the incident's number (12 or #12) or its id (or an id prefix).
    """


@incidents.command("list")
@click.option("--state", type=click.Choice(["open", "triggered", "acknowledged", "resolved", "all"]),
              default="all", show_default=True)  # fmt: skip
@click.option("--limit", default=50, show_default=True)
def list_incidents(state: str, limit: int) -> None:
    """Incidents, newest first."""
    rows = current_client().get("/v1/incidents", state=None if state == "all" else state, limit=limit)["incidents"]
    if emit(rows):
        return
    if not rows:
        console.print("no incidents" + ("" if state == "all" else f" ({state})"))
        return
    console.print(_table(rows, "incidents" + ("" if state == "all" else f" ({state})")))


@incidents.command("show")
@click.argument("ref")
def show(ref: str) -> None:
    """One incident: who acknowledged and resolved it when, its response target, and its timeline."""
    data = current_client().get(_path(ref))
    if not emit(data):
        render(data)


@incidents.command("open")
@click.argument("title")
@click.option(
    "--severity",
    "-s",
    type=click.Choice(["SEV1", "SEV2", "SEV3", "SEV4"], case_sensitive=False),
    default="SEV3",
    show_default=True,
    help="SEV1 15 min to acknowledge, SEV2 1 h, SEV3 4 h, SEV4 24 h.",
)
@click.option("--app", default="", help="The app it affects (deploys and rollbacks of app/env join its timeline).")
@click.option("--env", "-e", default="", help="The environment it affects.")
@click.option("--summary", default="", help="What is wrong, in a sentence or two.")  # fmt: skip
def open_incident(title: str, severity: str, app: str, env: str, summary: str) -> None:
    """Open an incident by hand."""
    body = {"title": title, "severity": severity.upper(), "app": app, "env": env, "summary": summary}
    _done("opened", current_client().post("/v1/incidents", json=body))


@incidents.command("ack")
@click.argument("ref")
def ack(ref: str) -> None:
    """Acknowledge: someone is on it (stops the clock for the response target)."""
    _done("acknowledged", current_client().post(_path(ref, "ack")))


@incidents.command("resolve")
@click.argument("ref")
@click.option("-m", "--message", default="", help="How it was fixed.")
def resolve(ref: str, message: str) -> None:
    """Resolve (an unacknowledged incident is acknowledged at the same time)."""
    _done("resolved", current_client().post(_path(ref, "resolve"), json={"message": message}))


@incidents.command("note")
@click.argument("ref")
@click.argument("text")
def note(ref: str, text: str) -> None:
    """Add a note to the timeline."""
    data = current_client().post(_path(ref, "note"), json={"text": text})
    if not emit(data):
        console.print(Text.assemble("noted on ", (f"#{data['number']}", "bold"), f" ({len(data['timeline'])} events)"))


@incidents.command("stats")
@click.option("--since", default="30d", show_default=True, help="Period: incidents opened in the last 30d, 12h, …")
def stats(since: str) -> None:
    """Per severity: count, open, mean and median MTTA and MTTR, share that met the response target."""
    data = current_client().get("/v1/incidents/stats", since=since)
    if emit(data):
        return
    t = Table(title=f"incidents opened in the last {since}", title_justify="left", header_style="bold")
    for column in ("severity", "count", "open", "MTTA mean/median", "MTTR mean/median", "target met"):
        t.add_column(column, justify="left" if column == "severity" else "right", no_wrap=True)
    rows = [*data["by_severity"].items(), ("all", data["all"])]
    for sev, s in rows:
        share = "-" if s["target_met_share"] is None else f"{s['target_met_share']:.0%}"
        t.add_row(
            _severity(sev) if sev != "all" else Text("all", style="bold"), str(s["count"]), str(s["open"]),
            f"{span(s['mtta_mean_s'])} / {span(s['mtta_median_s'])}",
            f"{span(s['mttr_mean_s'])} / {span(s['mttr_median_s'])}",
            f"{share} ({s['target_met']}/{s['target_met'] + s['target_breached']})",
        )  # fmt: skip
    console.print(t)


# -- DORA --------------------------------------------------------------------------------------------------------
def _band(band: str | None) -> Text:
    return Text(band or "-", style=BAND_STYLES.get(band or "", "dim"))


@click.command()
@click.option("--app", default=None, help="One app (default: every app).")
@click.option("--env", "-e", default="production", show_default=True, help="Environment.")
@click.option("--all-envs", is_flag=True, help="Count every environment, not only --env.")
@click.option("--since", default="30d", show_default=True, help="Period: the last 30d, 7d, 12h, …")
def dora(app: str | None, env: str, all_envs: bool, since: str) -> None:
    """DORA metrics from delivery history: deployment frequency, lead time (upload → production), change
    failure rate and time to restore, each with its 2023 State of DevOps performance band."""
    data = current_client().get("/v1/dora", app=app, env=None if all_envs else env, since=since)
    if emit(data):
        return
    freq, lead, cfr, ttr = (data[k] for k in ("deployment_frequency", "lead_time", "change_failure_rate",
                                               "time_to_restore"))  # fmt: skip
    scope = f"{app or 'all apps'} / {'all environments' if all_envs else env}"
    t = Table(title=f"DORA metrics: {scope}, last {since}", title_justify="left", header_style="bold")
    for column in ("metric", "value", "band", "from"):
        t.add_column(column)
    rate = "-" if cfr["rate"] is None else f"{cfr['rate']:.0%}"
    t.add_row("deployment frequency", f"{freq['per_week']:.2g}/week ({freq['per_day']:.2g}/day)",
              _band(freq["band"]), f"{freq['deploys']} deploys")  # fmt: skip
    t.add_row("lead time (upload → production)", span(lead["median_s"]), _band(lead["band"]),
              f"median of {lead['samples']}")  # fmt: skip
    t.add_row("change failure rate", rate, _band(cfr["band"]), f"{cfr['failures']} of {cfr['changes']} changes")
    t.add_row("time to restore", span(ttr["median_s"]), _band(ttr["band"]),
              f"median of {ttr['samples']} {RESTORE_FROM.get(ttr['source'], 'failed changes')}")  # fmt: skip
    console.print(t)


COMMANDS = [incidents, dora]
