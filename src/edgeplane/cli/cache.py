"""``edgeplane cache status|purge``: the gateway cache's figures, and purges by URL, prefix, host, tag or all."""

from __future__ import annotations

from typing import Any

import click

from edgeplane.cli.client import current_client
from edgeplane.cli.output import console, emit, table

__all__ = ["COMMANDS"]


@click.group()
def cache() -> None:
    """The gateway's HTTP cache."""


@cache.command("status")
def status() -> None:
    """Entries, bytes, hit ratio and responses by cache status on this node."""
    stats: dict[str, Any] = current_client().get("/v1/cache")
    if emit(stats):
        return
    used = stats["bytes"] / stats["capacity"] if stats["capacity"] else 0.0
    bar = "█" * round(used * 20) + "░" * (20 - round(used * 20))
    ratio = "-" if stats["hit_ratio"] is None else f"{stats['hit_ratio']:.1%}"
    console.print(f"memory {bar} {stats['bytes'] / 2**20:.1f} / {stats['capacity'] / 2**20:.0f} MiB  "
                  f"{stats['entries']} entries  hit ratio {ratio}  evictions {stats['evictions']}")  # fmt: skip
    table(None, ["cache status", "responses"], sorted(stats["responses"].items()))
    fast = stats.get("hit_path")
    if fast and fast["answered"]:
        console.print(f"hit path: {fast['answered']} hits answered without the ASGI cycle "
                      f"({fast['repeated']} from {fast['heads']} remembered request heads)")  # fmt: skip
    shared = stats.get("shared")
    if shared and shared["errors"]:
        console.print(f"[yellow]shared tier: {shared['errors']} failures, last: {shared['last_error']}[/]")


@cache.command("purge")
@click.option("--url", "files", multiple=True, help="One URL (host/path?query), as cached. Repeatable.")
@click.option("--prefix", "prefixes", multiple=True, help="Every URL starting with host/path. Repeatable.")
@click.option("--host", "hosts", multiple=True, help="Every URL of a host. Repeatable.")
@click.option("--tag", "tags", multiple=True, help="Every response tagged so (Cache-Tag or a policy's tags).")
@click.option("--everything", is_flag=True, help="The whole cache.")
def purge(files: tuple[str, ...], prefixes: tuple[str, ...], hosts: tuple[str, ...], tags: tuple[str, ...],
          everything: bool) -> None:  # fmt: skip
    """Purge cached responses on every node (this one at once, the others within a second)."""
    body = {"files": list(files), "prefixes": list(prefixes), "hosts": list(hosts), "tags": list(tags),
            "purge_everything": everything}  # fmt: skip
    result: dict[str, Any] = current_client().post("/v1/cache/purge", json=body)
    if emit(result):
        return
    items = ", ".join(f"{p['kind']} {p['value']}".strip() for p in result["purged"])
    console.print(f"purged {items}: {result['removed_here']} entries removed on this node")


COMMANDS = [cache]
