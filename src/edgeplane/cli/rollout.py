"""``edgeplane rollout status|list|history|promote|pause|resume|abort|retry|approve``: follow and steer
progressive deliveries (start one with ``edgeplane deploy VERSION --strategy canary``).

``status`` draws the rollout's steps, traffic weights, judges' verdicts with their key evidence and pending
approvals; ``status --watch`` follows the admin API's event stream until the rollout finishes (live redraws on a
terminal, one line per change otherwise) and exits 0 when it succeeded, 1 when it failed or was aborted.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Generator
from typing import Any

import click
from rich import box
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from edgeplane.cli.client import current_client
from edgeplane.cli.deploy import version_numbers
from edgeplane.cli.options import app_name, app_option, env_option
from edgeplane.cli.output import console, emit, short_time
from edgeplane.config.deploy import format_duration

__all__ = ["COMMANDS", "render_status"]

FINAL_STATES = ("succeeded", "failed", "aborted")
STATE_STYLES = {
    "awaiting_approval": "yellow", "queued": "blue", "running": "cyan", "paused": "yellow",
    "succeeded": "green", "failed": "red", "aborted": "red",
}  # fmt: skip
VERDICT_STYLES = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
EVENT_STYLES = {
    "succeeded": "green", "step_passed": "green", "approved": "green", "failed": "red", "rolled_back": "red",
    "aborted": "red", "shadow_fail": "magenta", "error": "red", "paused": "yellow", "awaiting_approval": "yellow",
}  # fmt: skip
BAR_WIDTH = 30
Status = dict[str, Any]

rollout_argument = click.argument("rollout", default="current", required=False)


# -- talking to the API ----------------------------------------------------------------------------------------
def _where(rollout: str, env: str) -> dict[str, str]:
    """``env`` narrows the lookup for ``current`` or when given explicitly; an id alone finds its rollout in any
    environment (the default ``--env production`` must not hide a staging rollout asked for by id)."""
    ctx = click.get_current_context()
    explicit = ctx.get_parameter_source("env") not in (None, click.ParameterSource.DEFAULT)
    return {"env": env} if rollout == "current" or explicit else {}


def _path(app: str, rollout: str, suffix: str = "") -> str:
    return f"/v1/apps/{app}/rollouts/{rollout}" + (f"/{suffix}" if suffix else "")


# -- rendering -------------------------------------------------------------------------------------------------
def _state(state: str) -> Text:
    return Text(state.replace("_", " "), style=f"bold {STATE_STYLES.get(state, '')}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _bar(fraction: float, style: str, width: int = BAR_WIDTH) -> Text:
    """A bar that reads without colour too: filled ``█`` and empty ``░`` cells."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def _step_marker(index: int, status: Status) -> Text:
    step, state = status["step"], status["state"]
    if index < step or state == "succeeded":
        return Text("✓", style="green")
    if index > step:
        return Text("○", style="dim")
    markers = {"failed": ("✗", "red"), "aborted": ("✗", "red"), "paused": ("‖", "yellow"),
               "awaiting_approval": ("‖", "yellow"), "queued": ("·", "blue")}  # fmt: skip
    mark, style = markers.get(state, ("▶", "cyan"))
    return Text(mark, style=f"bold {style}")


def _steps(status: Status) -> Table:
    grid = Table.grid(padding=(0, 1))
    for _ in range(4):
        grid.add_column()
    for index, step in enumerate(status["steps"]):
        current = index == status["step"] and status["state"] not in FINAL_STATES
        label = Text(f"{step['label']}", style="bold" if current else ("dim" if index > status["step"] else ""))
        progress: RenderableType = ""
        duration = float(step.get("duration") or 0)
        if current and status["state"] in ("running", "paused") and step["kind"] == "traffic" and duration > 0:
            elapsed = min(float(status["step_elapsed"] or 0), duration)
            left = status["time_left"]
            progress = Text.assemble(
                _bar(elapsed / duration, "cyan", 20),
                f" {_seconds(elapsed)} / {_seconds(duration)}",
                (f" · {_seconds(left)} left" if left is not None else "", "bold"),
            )
        grid.add_row(_step_marker(index, status), f"{index + 1}.", label, progress)
    return grid


def _traffic(status: Status) -> Table:
    grid = Table.grid(padding=(0, 1))
    for _ in range(3):
        grid.add_column()
    grid.add_column(justify="right")
    rows = [(status["stable"], "stable", "blue"), (status["version"], "new", "magenta")]
    for version, role, style in rows:
        if version is None:
            continue
        weight = float(version["weight"])
        grid.add_row(f"v{version['number']}", Text(role, style=style), _bar(weight / 100, style), f"{weight:g}%")
    return grid


def _approvals(approvals: dict[str, Any]) -> Text:
    approvers = approvals.get("approvers") or []
    names = ", ".join(f"{a['token_name']} ({short_time(a['at'])[11:]})" for a in approvers) or "none yet"
    have, need = len(approvers), approvals["required"]
    return Text.assemble(
        (f"{have}/{need}", "green" if have >= need else "yellow"), f" before {approvals['before']}: {names}"
    )


def render_status(status: Status) -> RenderableType:
    """Header, steps with progress, traffic bars, approvals, and the judges table of one status JSON."""
    version, stable = status["version"], status["stable"]
    header = Text.assemble(
        (f"{status['app']}/{status['env']}", "bold"), f"  {status['strategy']} · {status['mode']} mode · ",
        _state(status["state"]),
    )  # fmt: skip
    replacing = f" replacing v{stable['number']}" if stable else ""
    finished = f" · finished {short_time(status['finished_at'])}" if status.get("finished_at") else ""
    about = Text(
        f"rollout {status['id'][:8]}: v{version['number']}{replacing} · started {short_time(status['created_at'])}"
        f"{finished}",
        style="dim",
    )
    parts: list[RenderableType] = [header, about]
    if status.get("reason"):
        parts.append(Text(status["reason"], style=STATE_STYLES.get(status["state"], "")))
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("steps", _steps(status))
    summary.add_row("traffic", _traffic(status))
    if status["approvals"]["required"] > 0:
        summary.add_row("approvals", _approvals(status["approvals"]))
    parts.append(summary)
    if status["verdicts"]:
        parts.append(_judges(status["verdicts"]))
    return Group(*parts)


def _judges(verdicts: list[dict[str, Any]]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for column in ("judge", "verdict", "reason", "evidence"):
        t.add_column(column)
    for v in verdicts:
        t.add_row(
            v["judge"],
            Text(v["verdict"], style=VERDICT_STYLES.get(v["verdict"], "")),
            Text(v["reason"]),
            Text(evidence_summary(v["judge"], v.get("evidence") or {}), style="dim"),
        )
    return t


# -- evidence: the numbers that matter, one line per judge -----------------------------------------------------
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _p(evidence: dict[str, Any]) -> str:
    p = evidence.get("p_value")
    return "" if p is None else f" · p={p:.2g}"


def _thresholds(e: dict[str, Any]) -> str:
    c = e["canary"]
    limits = e.get("limits") or {}
    shown = [f"{c['requests']} req", f"err {_pct(c['error_rate'])}", f"p95 {_ms(c['p95_ms'])}"]
    wanted = [f"min {limits['min_requests']} req"] if limits.get("min_requests") else []
    if limits.get("max_error_rate") is not None:
        wanted.append(f"err ≤ {_pct(limits['max_error_rate'])}")
    if limits.get("max_p95_ms") is not None:
        wanted.append(f"p95 ≤ {_ms(limits['max_p95_ms'])}")
    return " · ".join(shown) + (f" (limits: {', '.join(wanted)})" if wanted else "")


def _errors(e: dict[str, Any]) -> str:
    c, b = e["canary"], e["baseline"]
    return (
        f"new {c['errors']}/{c['requests']} ({_pct(c['error_rate'])}) vs "
        f"stable {b['errors']}/{b['requests']} ({_pct(b['error_rate'])}){_p(e)}"
    )


def _latency(e: dict[str, Any]) -> str:
    label = f"p{float(e['quantile']) * 100:g}"
    slower = e.get("probability_canary_slower")
    extra = f" · P(slower) {slower:.2f}" if slower is not None else ""
    return f"{label} new {_ms(e['canary_ms'])} vs stable {_ms(e['baseline_ms'])}{_p(e)}{extra}"


def _health(e: dict[str, Any]) -> str:
    probes = f"{e['probes']} probe" + ("" if e["probes"] == 1 else "s")
    text = f"{probes} · {e['consecutive_failures']}/{e['limit']} failed in a row"
    return text + (f" · {e['last_error']}" if e.get("last_error") and e["consecutive_failures"] else "")


def _slo_burn(e: dict[str, Any]) -> str:
    windows = []
    for w in e["windows"]:
        rate = "-" if w["burn_rate"] is None else f"{w['burn_rate']:g}x"
        windows.append(f"{rate}/{_seconds(w['window_s'])}")
    return f"SLO {float(e['slo_target']) * 100:g}% · burn " + ", ".join(windows)


def _smoke(e: dict[str, Any]) -> str:
    checks = e["checks"]
    failed = [f"{c['method']} {c['path']} → {c['got']}" for c in checks if not c["ok"]]
    return f"{len(checks) - len(failed)}/{len(checks)} ok" + (f" · {'; '.join(failed)}" if failed else "")


def _webhook(e: dict[str, Any]) -> str:
    return f"{e['url']} → {e['status']}"


EVIDENCE: dict[str, Callable[[dict[str, Any]], str]] = {
    "thresholds": _thresholds, "errors": _errors, "latency": _latency, "health": _health, "slo_burn": _slo_burn,
    "smoke": _smoke, "webhook": _webhook,
}  # fmt: skip


def evidence_summary(judge: str, evidence: dict[str, Any]) -> str:
    """The key numbers of one judge's evidence; unknown judges (or shapes) show their scalar fields."""
    summarize = EVIDENCE.get(judge)
    if summarize is not None:
        try:
            return summarize(evidence)
        except (KeyError, TypeError, ValueError):
            pass
    scalars = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in evidence.items()
               if isinstance(v, int | float | str) and not isinstance(v, bool)]  # fmt: skip
    return " · ".join(scalars[:5])


# -- events and plain status lines -----------------------------------------------------------------------------
def _event_line(event: dict[str, Any]) -> Text:
    return Text.assemble(
        (short_time(str(event.get("at") or ""))[11:] or "--:--:--", "dim"),
        f"  step {int(event.get('step') or 0) + 1}  ",
        (f"{event['kind']:<12}", EVENT_STYLES.get(event["kind"], "bold")),
        " ",
        str(event.get("message") or ""),
    )


def _status_key(status: Status) -> tuple[Any, ...]:
    """What a plain (non-terminal) watch reports a line for when it changes: not the ticking clock."""
    weights = (status["version"]["weight"], status["stable"]["weight"] if status["stable"] else None)
    verdicts = tuple((v["judge"], v["verdict"]) for v in status["verdicts"])
    return status["state"], status["step"], status["reason"], weights, verdicts


def _status_line(status: Status) -> Text:
    steps, index = status["steps"], status["step"]
    step = steps[min(index, len(steps) - 1)] if steps else {"label": "?"}
    version, stable = status["version"], status["stable"]
    traffic = f"v{version['number']} {version['weight']:g}%"
    if stable:
        traffic += f" / v{stable['number']} {stable['weight']:g}%"
    line = Text.assemble(
        "status ", _state(status["state"]), f" · step {index + 1}/{len(steps)} {step['label']} · {traffic}"
    )
    if status["verdicts"]:
        line.append(" · ")
        for i, v in enumerate(status["verdicts"]):
            line.append(", " if i else "")
            line.append(f"{v['judge']} ")
            line.append(v["verdict"], style=VERDICT_STYLES.get(v["verdict"], ""))
    if status["reason"]:
        line.append(f" · {status['reason']}")
    return line


def _follow(frames: Generator[tuple[str, Any], None, None]) -> Status | None:
    """Draw the stream: a live view on a terminal, or one line per event and per status change."""
    final: Status | None = None
    if console.is_terminal:
        with Live(Text("waiting for the rollout's status…", style="dim"), console=console, auto_refresh=False) as live:
            for kind, data in frames:
                if kind == "event":
                    live.console.print(_event_line(data))
                elif kind == "status":
                    final = data
                    live.update(render_status(data), refresh=True)
        return final
    last: tuple[Any, ...] | None = None
    for kind, data in frames:
        if kind == "event":
            console.print(_event_line(data))
        elif kind == "status":
            final = data
            key = _status_key(data)
            if key != last:
                last = key
                console.print(_status_line(data))
    if final is not None:
        console.print(render_status(final))
    return final


def _frames(app: str, rollout: str, where: dict[str, str]) -> Generator[tuple[str, Any], None, None]:
    """The stream's ``(kind, data)`` frames. The stream can end on the final status without the events recorded
    just before it (say, the failed rollout's ``rolled_back``), so those are fetched and sent before that status."""
    client = current_client()
    last_event = 0
    with contextlib.closing(client.sse(_path(app, rollout, "stream"), **where)) as stream:
        for kind, data in stream:
            if kind == "event":
                last_event = max(last_event, int(data.get("id") or 0))
            elif kind == "status" and data["state"] in FINAL_STATES:
                missed = client.get(_path(app, data["id"], "events"), after=last_event)["events"]
                for event in missed:
                    yield "event", event
            yield kind, data


def _watch(app: str, rollout: str, where: dict[str, str]) -> None:
    """Follow the rollout to its end; exit 0 when it succeeded, 1 when it failed or was aborted."""
    as_json = bool(click.get_current_context().find_root().params.get("as_json"))
    frames = _frames(app, rollout, where)
    final: Status | None = None
    try:
        if as_json:  # one JSON object a line: {"event": "status"|"event", "data": ...}
            for kind, data in frames:
                click.echo(json.dumps({"event": kind, "data": data}, default=str))
                if kind == "status":
                    final = data
        else:
            final = _follow(frames)
    except KeyboardInterrupt:
        click.echo("stopped watching; the rollout goes on (edgeplane rollout status)", err=True)
        sys.exit(130)
    finally:
        frames.close()
    if final is None or final["state"] not in FINAL_STATES:
        state = final["state"] if final else "unknown"
        click.echo(f"error: the status stream ended while the rollout was {state}", err=True)
        sys.exit(1)
    if not as_json:
        console.print(Text.assemble(f"rollout {final['id'][:8]} ", _state(final["state"])))
    if final["state"] != "succeeded":
        sys.exit(1)


# -- commands --------------------------------------------------------------------------------------------------
@click.group()
def rollout() -> None:
    """Progressive delivery: follow a rollout, and promote, pause, resume, abort, retry or approve it.

    ROLLOUT is an id, an id prefix, or 'current' (the newest in --env; the default).
    """


@rollout.command("status")
@rollout_argument
@env_option
@app_option
@click.option("--watch", "-w", is_flag=True, help="Follow it live until it finishes (exit 1 if it fails).")
def status(rollout: str, env: str, app: str | None, watch: bool) -> None:
    """Where a rollout is. Its steps, traffic, each judge's verdict with the evidence, and approvals."""
    name = app_name(app)
    where = _where(rollout, env)
    if watch:
        _watch(name, rollout, where)
        return
    data = current_client().get(_path(name, rollout), **where)
    if emit(data):
        return
    console.print(render_status(data))


@rollout.command("list")
@env_option
@app_option
@click.option("--limit", default=20, show_default=True)
def list_rollouts(env: str, app: str | None, limit: int) -> None:
    """Rollouts of ENV, newest first."""
    name = app_name(app)
    rows = current_client().get(f"/v1/apps/{name}/rollouts", env=env, limit=limit)["rollouts"]
    if emit(rows):
        return
    numbers = version_numbers(name)
    t = Table(title=f"{name}: rollouts in {env}", title_justify="left", header_style="bold")
    for column in ("id", "strategy", "state", "version", "step", "author", "created", "reason"):
        t.add_column(column, no_wrap=column in ("id", "state", "version", "created"))
    for r in rows:
        version = f"v{numbers.get(r['version_id'], '?')}"
        if r["stable_id"]:
            version += f" ← v{numbers.get(r['stable_id'], '?')}"
        t.add_row(
            r["id"][:8], f"{r['strategy']} · {r['mode']}", _state(r["state"]), version, str(r["step"] + 1),
            r["author"], short_time(r["created_at"]), Text(r["reason"] or ""),
        )  # fmt: skip
    console.print(t)


@rollout.command("history")
@rollout_argument
@env_option
@app_option
def history(rollout: str, env: str, app: str | None) -> None:
    """The rollout's events. State and verdict changes (with evidence), approvals, rollbacks."""
    name = app_name(app)
    events = current_client().get(_path(name, rollout, "events"), **_where(rollout, env))["events"]
    if emit(events):
        return
    t = Table(title=f"{name}: rollout {rollout} history", title_justify="left", header_style="bold")
    for column in ("at", "step", "event", "message"):
        t.add_column(column)
    for e in events:
        style = EVENT_STYLES.get(e["kind"], "")
        t.add_row(short_time(str(e["at"])), str(e["step"] + 1), Text(e["kind"], style=style), Text(e["message"]))
    console.print(t)


def _act(action: str, rollout: str, env: str, app: str | None, body: dict[str, Any] | None = None) -> None:
    name = app_name(app)
    data = current_client().post(_path(name, rollout, action), json=body, params=_where(rollout, env))
    if emit(data):
        return
    steps, index = data["steps"], data["step"]
    step = steps[min(index, len(steps) - 1)]["label"] if steps else "?"
    line = Text.assemble(f"{PAST[action]} rollout ", (data["id"][:8], "bold"), f" of {data['app']}/{data['env']}: now ")
    line.append_text(_state(data["state"]))
    line.append(f", step {index + 1}/{len(steps)} ({step})")
    console.print(line)
    if data["reason"]:
        console.print(Text(data["reason"], style=STATE_STYLES.get(data["state"], "")))
    if action == "approve" and data["approvals"]["required"]:
        console.print(Text.assemble("approvals ", _approvals(data["approvals"])))
    if action in ("resume", "retry"):
        console.print("follow it: edgeplane rollout status --watch")


PAST = {"promote": "promoted", "pause": "paused", "resume": "resumed", "abort": "aborted", "retry": "retried",
        "approve": "approved"}  # fmt: skip


@rollout.command("promote")
@rollout_argument
@env_option
@app_option
@click.option("--full", is_flag=True, help="Straight to 100% (still stopping at pending approvals).")
def promote(rollout: str, env: str, app: str | None, full: bool) -> None:
    """Move on to the next step now, whatever the judges say so far."""
    _act("promote", rollout, env, app, {"full": True} if full else None)


@rollout.command("pause")
@rollout_argument
@env_option
@app_option
def pause(rollout: str, env: str, app: str | None) -> None:
    """Hold the rollout at its current step (traffic stays as it is)."""
    _act("pause", rollout, env, app)


@rollout.command("resume")
@rollout_argument
@env_option
@app_option
def resume(rollout: str, env: str, app: str | None) -> None:
    """Continue a paused rollout. A traffic step starts over; a manual pause step moves on."""
    _act("resume", rollout, env, app)


@rollout.command("abort")
@rollout_argument
@env_option
@app_option
def abort(rollout: str, env: str, app: str | None) -> None:
    """Stop the rollout and send all traffic back to the stable version."""
    _act("abort", rollout, env, app)


@rollout.command("retry")
@rollout_argument
@env_option
@app_option
def retry(rollout: str, env: str, app: str | None) -> None:
    """Start a failed or aborted rollout again from its first step."""
    _act("retry", rollout, env, app)


@rollout.command("approve")
@rollout_argument
@env_option
@app_option
def approve(rollout: str, env: str, app: str | None) -> None:
    """Approve the rollout (with a token other than its author's)."""
    _act("approve", rollout, env, app)


COMMANDS = [rollout]
