"""``/v1/apps/{app}/d1/{binding}``: run SQL and migrations from outside a worker (``edgeplane d1 …``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.sql import D1Result
from edgeplane.bindings.sql.migrations import applied, apply
from edgeplane.bindings.sql.script import split_statements
from edgeplane.control.routes.auth import Deployer, Reader, control_of

__all__ = ["router"]

router = APIRouter(tags=["d1"])


class ExecuteIn(BaseModel):
    sql: str = Field(min_length=1)
    params: list[Any] | None = None
    """Parameters for a single statement (``?`` / ``?NNN``)."""
    env: str = "production"


class Migration(BaseModel):
    name: str
    sql: str


class MigrationsIn(BaseModel):
    migrations: list[Migration]
    env: str = "production"


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, bytes) else value  # BLOBs as byte arrays, as D1's HTTP API does


def _out(result: D1Result) -> dict[str, Any]:
    rows = [{k: _jsonable(v) for k, v in row.items()} for row in result.results]
    return {"results": rows, "meta": result.meta, "success": result.success}


@router.post("/v1/apps/{app}/d1/{binding}/execute")
async def execute(app: str, binding: str, body: ExecuteIn, request: Request, _: Deployer) -> dict[str, Any]:
    """Run one statement (with ``params``) or a script; a script runs as one transaction."""
    db, _config = await control_of(request).bindings.d1(app, body.env, binding)
    statements = split_statements(body.sql)
    if body.params is not None and len(statements) != 1:
        raise BindingError("params can only be given with a single statement", code="SQL_ERROR")
    prepared = [db.prepare(s) for s in statements]
    if body.params is not None:
        prepared = [prepared[0].bind(*body.params)]
    results = await db.batch(prepared)
    return {"results": [_out(r) for r in results]}


@router.get("/v1/apps/{app}/d1/{binding}/migrations")
async def list_migrations(
    app: str, binding: str, request: Request, _: Reader, env: str = "production"
) -> dict[str, Any]:
    db, config = await control_of(request).bindings.d1(app, env, binding)
    return {"applied": await applied(db, config.migrations_table)}


@router.post("/v1/apps/{app}/d1/{binding}/migrations")
async def apply_migrations(app: str, binding: str, body: MigrationsIn, request: Request, _: Deployer) -> dict[str, Any]:
    """Apply the given migrations that are not yet recorded, in name order, each in its own transaction."""
    db, config = await control_of(request).bindings.d1(app, body.env, binding)
    done = await apply(db, [(m.name, m.sql) for m in body.migrations], config.migrations_table)
    return {"applied": done}
