"""``/v1/apps/{app}/deployments`` and ``/rollback``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from edgeplane.control.routes.auth import Deployer, Reader, control_of
from edgeplane.delivery.splits import Split

__all__ = ["router"]

router = APIRouter(tags=["deployments"])


class SplitIn(BaseModel):
    version: str = Field(description="vN, tag, id or id prefix")
    percentage: float = 100.0


class DeployIn(BaseModel):
    env: str = "production"
    splits: list[SplitIn] = Field(min_length=1)
    message: str = ""


class RollbackIn(BaseModel):
    env: str = "production"
    version: str | None = None
    message: str = ""


@router.post("/v1/apps/{app}/deployments", status_code=201)
async def deploy(app: str, body: DeployIn, request: Request, token: Deployer) -> dict[str, Any]:
    """Make versions serve an environment: one at 100%, or a split whose percentages sum to 100."""
    splits = [Split(s.version, s.percentage) for s in body.splits]
    return await control_of(request).deploy(app, body.env, splits, message=body.message, actor=token["name"])


@router.get("/v1/apps/{app}/deployments")
async def deployments(
    app: str, request: Request, _: Reader, env: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> dict[str, Any]:
    return {"deployments": await control_of(request).store.list_deployments(app, env, limit)}


@router.get("/v1/apps/{app}/deployments/status")
async def deployment_status(app: str, request: Request, _: Reader, env: str = "production") -> dict[str, Any]:
    """What serves ``env`` now: versions, percentages, worker health and requests served."""
    return await control_of(request).status(app, env)


@router.post("/v1/apps/{app}/rollback", status_code=201)
async def rollback(app: str, body: RollbackIn, request: Request, token: Deployer) -> dict[str, Any]:
    """Back to the previous fully-deployed version (or ``version``); instant when that version is warm."""
    control = control_of(request)
    return await control.rollback(app, body.env, body.version, message=body.message, actor=token["name"])
