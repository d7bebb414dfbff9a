"""``edgeplane tokens create|list|revoke`` and ``edgeplane audit``."""

from __future__ import annotations

import click

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit, short_time, table
from edgeplane.control.tokens import SCOPES

__all__ = ["COMMANDS"]


@click.group()
def tokens() -> None:
    """Admin API tokens (scopes: read < deploy < admin)."""


@tokens.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES), default=["read"], show_default=True)
def create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token; the secret is shown once."""
    record = current_client().post("/v1/tokens", json={"name": name, "scopes": list(scopes)})
    if emit(record):
        return
    console.print(f"token {record['id'][:8]} ({name}, scopes: {', '.join(record['scopes'])})")
    console.print(f"secret (shown once): [bold]{record['token']}[/]")


@tokens.command("list")
def list_tokens() -> None:
    rows = current_client().get("/v1/tokens")["tokens"]
    if emit(rows):
        return
    table(
        "tokens",
        ["id", "name", "scopes", "created", "revoked"],
        [(t["id"][:8], t["name"], ",".join(t["scopes"]), short_time(t["created_at"]), short_time(t["revoked_at"]))
         for t in rows],
    )  # fmt: skip


@tokens.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke a token by id (or id prefix from 'tokens list')."""
    client = current_client()
    matches = [t["id"] for t in client.get("/v1/tokens")["tokens"] if t["id"].startswith(token_id)]
    if len(matches) != 1:
        raise click.ClickException(f"{token_id!r} matches {len(matches)} tokens; give the id from 'tokens list'")
    result = client.request("DELETE", f"/v1/tokens/{matches[0]}")
    if not emit(result):
        console.print(f"revoked {matches[0]}")


@click.command()
@click.option("--limit", default=50, show_default=True)
def audit(limit: int) -> None:
    """The audit log: every change, who made it and when."""
    rows = current_client().get("/v1/audit", limit=limit)["entries"]
    if emit(rows):
        return
    table("audit log", ["at", "actor", "action", "target"],
          [(short_time(e["at"]), e["actor"], e["action"], e["target"]) for e in rows])  # fmt: skip


COMMANDS = [tokens, audit]
