"""How the CLI shows things: rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

__all__ = ["console", "emit", "short_time", "table"]

console = Console(highlight=False, soft_wrap=True)


def short_time(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ")


def emit(data: Any) -> bool:
    """Print ``data`` as JSON when ``--json`` was given; returns whether it did."""
    ctx = click.get_current_context()
    if ctx.find_root().params.get("as_json"):
        click.echo(json.dumps(data, indent=2, default=str))
        return True
    return False


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(t)
