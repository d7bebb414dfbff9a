"""``edgeplane kv key put|get|list|delete`` — Workers KV from the command line, as wrangler does it."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from urllib.parse import quote

import click

from edgeplane.cli.client import current_client
from edgeplane.cli.options import app_name, app_option, env_option
from edgeplane.cli.output import console, emit, table

__all__ = ["COMMANDS"]

binding_option = click.option("--binding", "-b", required=True, help="The KV binding name from edgeplane.toml.")


def _base(app: str | None, binding: str) -> str:
    return f"/v1/apps/{app_name(app)}/kv/{binding}/keys"


@click.group()
def kv() -> None:
    """Workers KV namespaces bound to the app."""


@kv.group()
def key() -> None:
    """Keys of a KV namespace."""


@key.command("put")
@click.argument("name")
@click.argument("value", required=False)
@click.option(
    "--path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Read the value from a file."
)
@click.option("--ttl", type=int, default=None, help="Expire after this many seconds (at least 60).")
@click.option("--expiration", type=int, default=None, help="Expire at this epoch second.")
@click.option("--metadata", default=None, help="JSON metadata (at most 1024 bytes).")
@binding_option
@env_option
@app_option
def put(
    name: str, value: str | None, path: Path | None, ttl: int | None, expiration: int | None,
    metadata: str | None, binding: str, env: str, app: str | None,
) -> None:  # fmt: skip
    """Write VALUE (or --path FILE) to key NAME."""
    if (value is None) == (path is None):
        raise click.UsageError("give either VALUE or --path FILE")
    data = path.read_bytes() if path else (value or "").encode()
    params = {"env": env, "expiration_ttl": ttl, "expiration": expiration, "metadata": metadata}
    result = current_client().request(
        "PUT", f"{_base(app, binding)}/{quote(name, safe='')}", content=data,
        params={k: v for k, v in params.items() if v is not None},
    )  # fmt: skip
    if not emit(result):
        console.print(f"wrote {len(data)} bytes to {binding}/{name}")


@key.command("get")
@click.argument("name")
@binding_option
@env_option
@app_option
def get(name: str, binding: str, env: str, app: str | None) -> None:
    """Print the value of key NAME (raw bytes to stdout)."""
    client = current_client()
    response = client.raw("GET", f"{_base(app, binding)}/{quote(name, safe='')}", params={"env": env})
    if emit({"key": name, "value": response.content.decode("utf-8", "replace"),
             "metadata": json.loads(response.headers.get("edgeplane-kv-metadata", "null"))}):  # fmt: skip
        return
    sys.stdout.buffer.write(response.content)
    sys.stdout.flush()


@key.command("list")
@click.option("--prefix", default=None, help="Only keys starting with this.")
@binding_option
@env_option
@app_option
def list_keys(prefix: str | None, binding: str, env: str, app: str | None) -> None:
    """All keys (every page), in UTF-8 byte order."""
    client, keys, cursor = current_client(), [], None
    while True:
        page = client.get(_base(app, binding), env=env, prefix=prefix, cursor=cursor)
        keys += page["keys"]
        if page["list_complete"]:
            break
        cursor = page["cursor"]
    if emit(keys):
        return
    table(
        f"{binding} ({env}): {len(keys)} keys",
        ["key", "expires", "metadata"],
        [(k["name"], _when(k["expiration"]), json.dumps(k["metadata"]) if k["metadata"] is not None else "")
         for k in keys],
    )  # fmt: skip


def _when(epoch: int | None) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if epoch else ""


@key.command("delete")
@click.argument("name")
@binding_option
@env_option
@app_option
def delete(name: str, binding: str, env: str, app: str | None) -> None:
    """Delete key NAME (no error if it does not exist)."""
    result = current_client().request("DELETE", f"{_base(app, binding)}/{quote(name, safe='')}", params={"env": env})
    if not emit(result):
        console.print(f"deleted {binding}/{name}")


COMMANDS = [kv]
