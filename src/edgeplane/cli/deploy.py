"""``edgeplane deploy``, ``edgeplane rollback`` and ``edgeplane deployments list|status``."""

from __future__ import annotations

import click

from edgeplane.cli.client import current_client
from edgeplane.cli.options import app_name, app_option, env_option
from edgeplane.cli.output import console, emit, short_time, table
from edgeplane.delivery.splits import parse_split, validate_splits

__all__ = ["COMMANDS"]


def _describe(deployment: dict[str, object], numbers: dict[str, int]) -> str:
    splits = deployment["splits"]
    assert isinstance(splits, list)
    return "  ".join(f"v{numbers.get(s['version_id'], '?')}@{s['percentage']:g}%" for s in splits)


def _numbers(app: str) -> dict[str, int]:
    return {v["id"]: v["number"] for v in current_client().get(f"/v1/apps/{app}/versions")["versions"]}


@click.command()
@click.argument("splits", nargs=-1)
@env_option
@app_option
@click.option("-m", "--message", default="", help="Why.")
def deploy(splits: tuple[str, ...], env: str, app: str | None, message: str) -> None:
    """Serve VERSION at 100%, or split traffic: edgeplane deploy v1@90 v2@10 (default: latest)."""
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
    console.print(
        f"deployed {name} to [bold]{env}[/]: {_describe(record, _numbers(name))}  (deployment {record['id'][:8]})"
    )


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
    console.print(f"rolled back {name} in [bold]{env}[/]: {_describe(record, _numbers(name))}")


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
    numbers = _numbers(name)
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
