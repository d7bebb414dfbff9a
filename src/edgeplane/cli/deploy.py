"""``edgeplane deploy`` (at once, or as a rollout with ``--strategy``), ``edgeplane rollback`` and
``edgeplane deployments list|status``."""

from __future__ import annotations

import click
from rich.text import Text

from edgeplane.cli.client import current_client
from edgeplane.cli.options import app_name, app_option, env_option
from edgeplane.cli.output import console, emit, short_time, table
from edgeplane.delivery.splits import parse_split, validate_splits

__all__ = ["COMMANDS", "version_numbers"]


def _describe(deployment: dict[str, object], numbers: dict[str, int]) -> str:
    splits = deployment["splits"]
    assert isinstance(splits, list)
    return "  ".join(f"v{numbers.get(s['version_id'], '?')}@{s['percentage']:g}%" for s in splits)


def version_numbers(app: str) -> dict[str, int]:
    """Version id -> number, for showing ``vN`` instead of ids."""
    return {v["id"]: v["number"] for v in current_client().get(f"/v1/apps/{app}/versions")["versions"]}


@click.command()
@click.argument("splits", nargs=-1)
@env_option
@app_option
@click.option("-m", "--message", default="", help="Why.")
@click.option(
    "--strategy",
    type=click.Choice(["canary", "blue-green", "rolling"]),
    default=None,
    help="Roll VERSION out gradually, judged from live traffic (default with --mode/--queue: its [deploy] table).",
)
@click.option(
    "--mode",
    type=click.Choice(["shadow", "pause", "auto"]),
    default=None,
    help="On a failing verdict: shadow (only report), pause (wait for a human), auto (roll back).",
)
@click.option("--queue", is_flag=True, help="Wait behind the environment's running rollout instead of failing.")
def deploy(
    splits: tuple[str, ...], env: str, app: str | None, message: str, strategy: str | None, mode: str | None,
    queue: bool,
) -> None:  # fmt: skip
    """Serve VERSION at 100%, or split traffic: edgeplane deploy v1@90 v2@10 (default: latest).

    With --strategy (or --mode/--queue), start a progressive rollout of VERSION instead, which moves traffic
    step by step while judges compare it with the version serving now: edgeplane deploy v3 --strategy canary.
    """
    if strategy is not None or mode is not None or queue:
        _start_rollout(app, splits, env, message, strategy, mode, queue)
        return
    parsed = [parse_split(s) for s in splits] or [parse_split("latest")]
    validate_splits(parsed)
    name = app_name(app)
    body = {
        "env": env,
        "message": message,
        "splits": [{"version": s.version, "percentage": s.percentage} for s in parsed],
    }
    with console.status(f"starting workers and deploying to {env}…"):
        record = current_client().post(f"/v1/apps/{name}/deployments", json=body)
    if emit(record):
        return
    traffic = _describe(record, version_numbers(name))
    console.print(f"deployed {name} to [bold]{env}[/]: {traffic}  (deployment {record['id'][:8]})")


def _start_rollout(
    app: str | None,
    splits: tuple[str, ...],
    env: str,
    message: str,
    strategy: str | None,
    mode: str | None,
    queue: bool,
) -> None:
    if len(splits) > 1 or any("@" in s for s in splits):
        raise click.UsageError(
            "a rollout takes one VERSION and moves the traffic itself; drop the @PERCENT splits "
            "(or drop --strategy/--mode/--queue to split traffic by hand)"
        )
    name = app_name(app)
    body = {"version": splits[0] if splits else "latest", "env": env, "strategy": strategy, "mode": mode,
            "queue": queue, "message": message}  # fmt: skip
    status = current_client().post(f"/v1/apps/{name}/rollouts", json=body)
    if emit(status):
        return
    stable = status["stable"]
    against = f" (stable: v{stable['number']})" if stable else ""
    steps = " → ".join(s["label"] for s in status["steps"])
    console.print(
        f"started {status['strategy']} rollout [bold]{status['id'][:8]}[/] of {name} v{status['version']['number']}"
        f"{against} to [bold]{env}[/] in {status['mode']} mode: {status['state'].replace('_', ' ')}"
    )
    console.print(f"steps: {steps}")
    if status["reason"]:
        console.print(Text(status["reason"], style="yellow"))
    where = ("" if env == "production" else f" --env {env}") + (f" --app {app}" if app else "")
    console.print(f"follow it: edgeplane rollout status --watch{where}")


@click.command()
@click.argument("version", required=False)
@env_option
@app_option
@click.option("-m", "--message", default="", help="Why.")
def rollback(version: str | None, env: str, app: str | None, message: str) -> None:
    """Go back to the previous fully-deployed version (or VERSION)."""
    name = app_name(app)
    record = current_client().post(
        f"/v1/apps/{name}/rollback", json={"env": env, "version": version, "message": message}
    )
    if emit(record):
        return
    console.print(f"rolled back {name} in [bold]{env}[/]: {_describe(record, version_numbers(name))}")


@click.group()
def deployments() -> None:
    """Deployment history and live status."""


@deployments.command("list")
@click.option("--env", "-e", default=None, help="Only this environment.")
@app_option
@click.option("--limit", default=20, show_default=True)
def list_deployments(env: str | None, app: str | None, limit: int) -> None:
    """Deployments, newest first."""
    name = app_name(app)
    rows = current_client().get(f"/v1/apps/{name}/deployments", env=env, limit=limit)["deployments"]
    if emit(rows):
        return
    numbers = version_numbers(name)
    table(
        f"{name}: deployments",
        ["id", "env", "kind", "traffic", "author", "created", "message"],
        [(d["id"][:8], d["env"], d["kind"], _describe(d, numbers), d["author"], short_time(d["created_at"]),
          d["message"]) for d in rows],
    )  # fmt: skip


@deployments.command("status")
@env_option
@app_option
def status(env: str, app: str | None) -> None:
    """What serves ENV now: versions, traffic share, worker health, requests served."""
    name = app_name(app)
    data = current_client().get(f"/v1/apps/{name}/deployments/status", env=env)
    if emit(data):
        return
    requests = data["requests"]
    rows = []
    for v in data["versions"]:
        pool = v["pool"]
        served = {k.split(":")[1]: n for k, n in requests.items() if k.startswith(v["version_id"])}
        bar = "█" * round(v["percentage"] / 5)
        rows.append((
            f"v{v['number']}", v["version_id"][:8], f"{v['percentage']:g}% {bar}",
            f"{pool['healthy']}/{pool['size']}", sum(p.get("restarts", 0) for p in pool["processes"]),
            " ".join(f"{k}:{n}" for k, n in sorted(served.items())) or "-",
        ))  # fmt: skip
    d = data["deployment"]
    table(
        f"{name} in {env}: deployment {d['id'][:8]} ({d['kind']}, {short_time(d['created_at'])})",
        ["version", "id", "traffic", "healthy", "restarts", "requests"],
        rows,
    )


COMMANDS = [deploy, rollback, deployments]
