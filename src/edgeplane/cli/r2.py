"""``edgeplane r2 object put|get|list|delete|presign`` — R2 buckets from the command line, as wrangler does it."""

from __future__ import annotations

import mimetypes
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from edgeplane.cli.client import current_client
from edgeplane.cli.options import app_name, app_option, env_option
from edgeplane.cli.output import console, emit, table

__all__ = ["COMMANDS"]

binding_option = click.option("--binding", "-b", required=True, help="The R2 binding name from edgeplane.toml.")


def _base(app: str | None, binding: str) -> str:
    return f"/v1/apps/{app_name(app)}/r2/{binding}"


def _object(app: str | None, binding: str, key: str) -> str:
    return f"{_base(app, binding)}/objects/{quote(key, safe='/')}"


@click.group()
def r2() -> None:
    """R2 object buckets bound to the app."""


@r2.group("object")
def object_() -> None:
    """Objects of an R2 bucket."""


@object_.command("put")
@click.argument("key")
@click.option("--file", "-f", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File to upload (streamed; '-' is not supported).")  # fmt: skip
@click.option("--content-type", default=None, help="Content-Type (default: guessed from the file name).")
@click.option("--cache-control", default=None, help="Cache-Control to store with the object.")
@click.option("--meta", multiple=True, metavar="NAME=VALUE", help="Custom metadata (repeatable).")
@binding_option
@env_option
@app_option
def put(key: str, path: Path, content_type: str | None, cache_control: str | None, meta: tuple[str, ...],
        binding: str, env: str, app: str | None) -> None:  # fmt: skip
    """Upload FILE as object KEY."""
    headers = {"content-type": content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"}
    if cache_control:
        headers["cache-control"] = cache_control
    for item in meta:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--meta {item!r}: use NAME=VALUE")
        headers[f"edgeplane-meta-{name}"] = value
    with path.open("rb") as handle:
        result = current_client().request("PUT", _object(app, binding, key), content=handle, headers=headers,
                                          params={"env": env})  # fmt: skip
    if not emit(result):
        console.print(f"uploaded {result['size']} bytes to {binding}/{key} (etag {result['etag']})")


@object_.command("get")
@click.argument("key")
@click.option("--file", "-f", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the object here (default: stdout).")  # fmt: skip
@binding_option
@env_option
@app_option
def get(key: str, path: Path | None, binding: str, env: str, app: str | None) -> None:
    """Download object KEY (streamed)."""
    client = current_client()
    size = 0
    with client.stream("GET", _object(app, binding, key), params={"env": env}) as response:
        out = path.open("wb") if path else sys.stdout.buffer
        try:
            for chunk in response.iter_bytes():
                out.write(chunk)
                size += len(chunk)
        finally:
            if path:
                out.close()
            else:
                out.flush()
    if path and not emit({"key": key, "size": size, "file": str(path)}):
        console.print(f"wrote {size} bytes to {path}")


@object_.command("list")
@click.option("--prefix", default=None, help="Only keys starting with this.")
@click.option("--delimiter", default=None, help="Roll keys up at this character (e.g. '/').")
@binding_option
@env_option
@app_option
def list_objects(prefix: str | None, delimiter: str | None, binding: str, env: str, app: str | None) -> None:
    """All objects (every page), in UTF-8 byte order."""
    client, objects, prefixes, cursor = current_client(), [], [], None
    while True:
        page = client.get(f"{_base(app, binding)}/objects", env=env, prefix=prefix, delimiter=delimiter,
                          cursor=cursor)  # fmt: skip
        objects += page["objects"]
        prefixes += page["delimited_prefixes"]
        if not page["truncated"]:
            break
        cursor = page["cursor"]
    if emit({"objects": objects, "delimited_prefixes": prefixes}):
        return
    rows: list[tuple[Any, ...]] = [(p, "", "", "") for p in prefixes]
    rows += [(o["key"], _size(o["size"]), o["etag"], o["uploaded"]) for o in objects]
    table(f"{binding} ({env}): {len(objects)} objects", ["key", "size", "etag", "uploaded"], rows)


def _size(n: int) -> str:
    units = ("B", "KiB", "MiB", "GiB")
    size, step = float(n), 0
    while size >= 1024 and step < len(units) - 1:
        size /= 1024
        step += 1
    return f"{n} B" if step == 0 else f"{size:.1f} {units[step]}"


@object_.command("delete")
@click.argument("key")
@binding_option
@env_option
@app_option
def delete(key: str, binding: str, env: str, app: str | None) -> None:
    """Delete object KEY (no error if it does not exist)."""
    result = current_client().request("DELETE", _object(app, binding, key), params={"env": env})
    if not emit(result):
        console.print(f"deleted {binding}/{key}")


@object_.command("presign")
@click.argument("key")
@click.option("--method", type=click.Choice(["GET", "PUT"]), default="GET", show_default=True)
@click.option("--expires-in", type=int, default=3600, show_default=True, help="Seconds the URL stays valid.")
@binding_option
@env_option
@app_option
def presign(key: str, method: str, expires_in: int, binding: str, env: str, app: str | None) -> None:
    """Print a URL the gateway serves for KEY without a worker (GET downloads, PUT uploads)."""
    result = current_client().post(f"{_base(app, binding)}/presign", json={"key": key, "method": method,
                                   "expires_in": expires_in}, params={"env": env})  # fmt: skip
    if not emit(result):
        click.echo(result["url"])


COMMANDS = [r2]
