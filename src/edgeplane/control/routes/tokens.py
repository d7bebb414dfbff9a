"""``/v1/tokens`` and ``/v1/audit`` (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from edgeplane.control.routes.auth import Admin, control_of
from edgeplane.errors import NotFound

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = ["read"]


@router.get("/v1/tokens")
async def list_tokens(request: Request, _: Admin) -> dict[str, Any]:
    return {"tokens": await control_of(request).store.list_tokens()}


@router.post("/v1/tokens", status_code=201)
async def create_token(body: TokenIn, request: Request, token: Admin) -> dict[str, Any]:
    """Create a token; its secret is in this response only."""
    secret, record = await control_of(request).auth.create(body.name, body.scopes, token["name"])
    return {**record, "token": secret}


@router.delete("/v1/tokens/{token_id}")
async def revoke_token(token_id: str, request: Request, token: Admin) -> dict[str, Any]:
    if not await control_of(request).auth.revoke(token_id, token["name"]):
        raise NotFound("no such active token", code="token_not_found")
    return {"revoked": token_id}


@router.get("/v1/audit", tags=["audit"])
async def audit_log(request: Request, _: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return {"entries": await control_of(request).store.list_audit(limit)}
