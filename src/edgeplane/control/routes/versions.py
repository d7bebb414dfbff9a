"""``/v1/apps/{app}/versions``: upload, list, view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from edgeplane.control.routes.auth import Deployer, Reader, control_of

__all__ = ["router"]

router = APIRouter(tags=["versions"])
GZIP_BODY = {"requestBody": {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/v1/apps")
async def apps(request: Request, _: Reader) -> dict[str, Any]:
    return {"apps": await control_of(request).store.list_apps()}


@router.post("/v1/apps/{app}/versions", status_code=201, openapi_extra=GZIP_BODY)
async def upload(
    app: str, request: Request, token: Deployer, message: str = "", tag: str | None = None, author: str | None = None
) -> dict[str, Any]:
    """Upload a bundle (the tar.gz made by ``edgeplane versions upload``) as a new immutable version."""
    data = await request.body()
    return await control_of(request).upload(app, data, message=message, tag=tag, actor=author or token["name"])


@router.get("/v1/apps/{app}/versions")
async def versions(app: str, request: Request, _: Reader) -> dict[str, Any]:
    return {"versions": await control_of(request).store.list_versions(app)}


@router.get("/v1/apps/{app}/versions/{ref}")
async def version(app: str, ref: str, request: Request, _: Reader) -> dict[str, Any]:
    """One version by ``vN``, tag, id, id prefix or ``latest``."""
    return await control_of(request).resolve(app, ref)
