"""``edgeplane d1 execute`` and ``edgeplane d1 migrations create|list|apply`` — D1 from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from edgeplane.bindings.sql.migrations import create, local_migrations
from edgeplane.cli.client import current_client, current_project
from edgeplane.cli.options import app_name, app_option, env_option
from edgeplane.cli.output import console, emit, table
from edgeplane.config.bindings import D1DatabaseConfig
from edgeplane.config.load import load_app_config

__all__ = ["COMMANDS"]


def _database(binding: str, env: str) -> D1DatabaseConfig:
    config = load_app_config(current_project())
    declared = {d.binding: d for d in config.d1_for(env)}
    if binding not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise click.ClickException(f"edgeplane.toml declares no D1 binding {binding!r} for {env} (declared: {known})")
    return declared[binding]


@click.group()
def d1() -> None:
    """D1 SQL databases bound to the app."""


@d1.command("execute")
@click.argument("binding")
@click.option("--command", "sql", default=None, help="SQL to run (one or more statements).")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A .sql file.")
@env_option
@app_option
def execute(binding: str, sql: str | None, file: Path | None, env: str, app: str | None) -> None:
    """Run SQL against BINDING; several statements run as one transaction."""
    if (sql is None) == (file is None):
        raise click.UsageError("give either --command SQL or --file FILE")
    text = sql if sql is not None else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    out = current_client().post(f"/v1/apps/{app_name(app)}/d1/{binding}/execute", json={"sql": text, "env": env})
    if emit(out["results"]):
        return
    for result in out["results"]:
        rows = result["results"]
        meta = result["meta"]
        if rows:
            table(None, list(rows[0]), [list(r.values()) for r in rows])
        console.print(
            f"{len(rows)} rows, {meta['changes']} changed, last_row_id {meta['last_row_id']}, {meta['duration']} ms"
        )


@d1.group()
def migrations() -> None:
    """Numbered .sql migrations in the database's migrations_dir."""


@migrations.command("create")
@click.argument("binding")
@click.argument("description")
@env_option
def create_migration(binding: str, description: str, env: str) -> None:
    """Write the next empty migration file for BINDING."""
    database = _database(binding, env)
    path = create(current_project() / database.migrations_dir, description)
    if not emit({"file": str(path)}):
        console.print(f"created {path}")


@migrations.command("list")
@click.argument("binding")
@env_option
@app_option
def list_migrations(binding: str, env: str, app: str | None) -> None:
    """Local migration files and whether each is applied."""
    database = _database(binding, env)
    local = local_migrations(current_project() / database.migrations_dir)
    done = current_client().get(f"/v1/apps/{app_name(app)}/d1/{binding}/migrations", env=env)["applied"]
    applied_at = {row["name"]: row["applied_at"] for row in done}
    rows = [{"name": name, "applied_at": applied_at.get(name)} for name, _ in local]
    if emit(rows):
        return
    table(
        f"{binding} ({env}) migrations",
        ["migration", "applied"],
        [(r["name"], r["applied_at"] or "pending") for r in rows],
    )


@migrations.command("apply")
@click.argument("binding")
@env_option
@app_option
def apply_migrations(binding: str, env: str, app: str | None) -> None:
    """Apply pending migrations in order; a failing one is rolled back and reported."""
    database = _database(binding, env)
    local = local_migrations(current_project() / database.migrations_dir)
    body = {"env": env, "migrations": [{"name": n, "sql": s} for n, s in local]}
    out = current_client().post(f"/v1/apps/{app_name(app)}/d1/{binding}/migrations", json=body)
    if emit(out):
        return
    console.print(f"applied {len(out['applied'])}: {', '.join(out['applied']) or 'nothing pending'}")


COMMANDS = [d1]
